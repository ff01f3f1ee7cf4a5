"""The lake's Firehose streams in CloudWatch (namespace AWS/Firehose), for Delivery health.

- Series: built, not discovered: one stream per lake table, named from the stack
  (:func:`app.stack_names.delivery_stream_name`), dimension ``{DeliveryStreamName}``.
  ListMetrics is not used (it omits series without data in the last two weeks).
- Per stream, three statistics over one legal period covering the whole range
  (:func:`app.metrics.cloudwatch.whole_range_period`): Sum of ``FailedConversion.Records``,
  Minimum of ``DeliveryToS3.Success`` (below 1: some delivery to S3 failed) and Maximum of
  ``DeliveryToS3.DataFreshness`` (s), so ``3 × streams`` queries, batched like the bus's
  (https://docs.aws.amazon.com/firehose/latest/dev/monitoring-with-cloudwatch-metrics.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

FIREHOSE_NAMESPACE = "AWS/Firehose"
FAILED_CONVERSION = "FailedConversion.Records"
DELIVERY_SUCCESS = "DeliveryToS3.Success"
DATA_FRESHNESS = "DeliveryToS3.DataFreshness"
# query id prefix -> (metric, statistic)
STATISTICS: dict[str, tuple[str, str]] = {
    "fc": (FAILED_CONVERSION, "Sum"),
    "ds": (DELIVERY_SUCCESS, "Minimum"),
    "df": (DATA_FRESHNESS, "Maximum"),
}
STREAM_COLUMNS = ["table", "stream", "failed_conversion", "delivery_failed", "max_freshness_s", "errors_at"]


def firehose_queries(streams: Mapping[str, str], period_s: int) -> list[dict[str, Any]]:
    """Three queries per stream (``fc<i>``, ``ds<i>``, ``df<i>``), in the order of ``streams``."""
    return [
        {
            "Id": f"{prefix}{i}",
            "ReturnData": True,
            "MetricStat": {
                "Metric": {
                    "Namespace": FIREHOSE_NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [{"Name": "DeliveryStreamName", "Value": stream}],
                },
                "Period": period_s,
                "Stat": stat,
            },
        }
        for i, stream in enumerate(streams.values())
        for prefix, (metric, stat) in STATISTICS.items()
    ]


def stream_frame(
    streams: Mapping[str, str], points: Mapping[str, Mapping[datetime, float]], errors_at: Mapping[str, str]
) -> pd.DataFrame:
    """One row per table: records that failed conversion (0 without data), whether a
    delivery to S3 failed, the worst freshness (NaN without data) and where the errors go."""
    rows = []
    for i, (table, stream) in enumerate(streams.items()):
        failed = sum(points.get(f"fc{i}", {}).values())
        success = list(points.get(f"ds{i}", {}).values())
        freshness = list(points.get(f"df{i}", {}).values())
        rows.append(
            {
                "table": table,
                "stream": stream,
                "failed_conversion": float(failed),
                "delivery_failed": bool(success) and min(success) < 1,
                "max_freshness_s": max(freshness) if freshness else float("nan"),
                "errors_at": errors_at.get(table, ""),
            }
        )
    frame = pd.DataFrame(rows, columns=STREAM_COLUMNS)
    return frame.astype({"failed_conversion": float, "delivery_failed": bool, "max_freshness_s": float})
