"""Reading what an AppTest run drew: Plotly figures by key, their values, and no error."""

from __future__ import annotations

import base64
import json

import numpy as np


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
