"""moto 5.2's CloudWatch answers GetMetricData's percentile statistics ("p99") with None
and then fails serialising it; this teaches it nearest-rank percentiles over the single
values put with PutMetricData (Value, or Values with Counts). Values put as
StatisticValues have no distribution, as in CloudWatch, and give no percentile point."""

from __future__ import annotations

import math
import re

from moto.cloudwatch import models

PERCENTILE_STAT = re.compile(r"^p(\d+(?:\.\d+)?)$")
_original = models.Statistics.get_statistics_for_type


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100.0 * len(ordered)) - 1)]


def get_statistics_for_type(self, stat: str):
    match = PERCENTILE_STAT.match(stat)
    if match is None:
        return _original(self, stat)
    values = self.metric_single_values_list
    return nearest_rank(values, float(match.group(1))) if values else math.nan


def teach_moto_percentiles(monkeypatch) -> None:
    monkeypatch.setattr(models.Statistics, "get_statistics_for_type", get_statistics_for_type)
