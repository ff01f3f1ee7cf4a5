"""Bus metrics, as CloudWatch names them (namespace AWS/Events, names in :mod:`app.metrics.names`).

Every metrics source — the local store the local bus writes, or CloudWatch — returns the
same long frame, one row per (timestamp, metric, dimensions):

    timestamp  datetime64[ns, UTC]  start of the period
    metric     str                  CloudWatch metric name, canonical casing (app.metrics.names)
    bus        str                  EventBusName dimension ("" when the metric has none)
    rule       str                  RuleName dimension ("" for bus- or account-level metrics)
    value      float                Sum over the period (for latencies: Average, ms)
    samples    float                SampleCount over the period

A period with no data point is 0, never missing, for count metrics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import pandas as pd

COLUMNS = ["timestamp", "metric", "bus", "rule", "value", "samples"]


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype="datetime64[ns, UTC]"),
            "metric": pd.Series([], dtype=str),
            "bus": pd.Series([], dtype=str),
            "rule": pd.Series([], dtype=str),
            "value": pd.Series([], dtype=float),
            "samples": pd.Series([], dtype=float),
        }
    )


class MetricsSource(Protocol):
    def get(
        self, metrics: list[str], start: datetime, end: datetime, period_s: int, bus: str | None = None
    ) -> pd.DataFrame:
        """Metrics in [start, end) at ``period_s`` resolution, in the frame above."""
        ...
