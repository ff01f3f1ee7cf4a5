"""Reading what an AppTest run drew: Plotly figures by key (or by a trace), tables by their
columns (never by their position on the page), their values, and no error."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd


def charts(at) -> dict[str, dict]:
    """The page's Plotly figures by their key, as the JSON the browser gets."""
    return {chart.key: json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}


def values(trace: dict, axis: str = "y") -> np.ndarray:
    """A trace's values: Plotly sends numeric arrays as base64 typed arrays."""
    data = trace[axis]
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
    return np.asarray(data)


def assert_clean(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def tables_with(at, *columns: str) -> list[pd.DataFrame]:
    """The page's tables whose columns include all of ``columns``, in page order."""
    return [frame.value for frame in at.dataframe if set(columns) <= set(frame.value.columns)]


def table_with(at, *columns: str) -> pd.DataFrame:
    """The one table on the page whose columns include all of ``columns``."""
    found = tables_with(at, *columns)
    shown = [list(frame.value.columns) for frame in at.dataframe]
    assert len(found) == 1, f"{len(found)} tables have the columns {columns}; the page shows {shown}"
    return found[0]


def optional_table_with(at, *columns: str) -> pd.DataFrame | None:
    """The table whose columns include all of ``columns``, or None when the page has none."""
    found = tables_with(at, *columns)
    assert len(found) <= 1, f"{len(found)} tables have the columns {columns}"
    return found[0] if found else None


def chart_with_trace(at, name: str) -> dict:
    """The one figure on the page (keyed or not) with a trace named ``name``."""
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    found = [f for f in figures if any(t.get("name") == name for t in f["data"])]
    assert len(found) == 1, f"{len(found)} figures have a trace named {name!r}"
    return found[0]


def chart_titled(at, text: str) -> dict:
    """The one figure on the page whose title contains ``text``."""
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    found = [f for f in figures if text in f["layout"].get("title", {}).get("text", "")]
    assert len(found) == 1, f"{len(found)} figures have {text!r} in their title"
    return found[0]
