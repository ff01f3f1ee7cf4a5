"""CloudWatch latency percentiles: request building and response parsing as tables, the
exact GetMetricData calls with the Stubber, and the whole source against moto, whose
CloudWatch computes no percentile statistic of its own (Stat "p99" fails inside moto 5.2):
tests/aws/conftest.py teaches it nearest-rank percentiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from app.metrics.cloudwatch import (
    CloudWatchMetricsSource,
    Series,
    build_percentile_queries,
    percentile_frame,
    percentile_stat,
    whole_range_period,
)
from tests import instant

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
START_LATENCY = "IngestionToInvocationStartLatency"
SUCCESS_LATENCY = "IngestionToInvocationSuccessLatency"
DIMS = (("EventBusName", "verticals"), ("RuleName", "r"))
COLUMNS = ["timestamp", "metric", "bus", "rule", "samples", "p50", "p90", "p99"]


def query(query_id, name, stat, period, rule="r"):
    return {
        "Id": query_id,
        "ReturnData": True,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/Events",
                "MetricName": name,
                "Dimensions": [
                    {"Name": "EventBusName", "Value": "verticals"},
                    {"Name": "RuleName", "Value": rule},
                ],
            },
            "Period": period,
            "Stat": stat,
        },
    }


@pytest.mark.parametrize(
    ("q", "stat"),
    [
        pytest.param(50, "p50", id="int"),
        pytest.param(99.0, "p99", id="float-whole"),
        pytest.param(99.9, "p99.9", id="fraction"),
    ],
)
def test_percentile_stat(q, stat):
    assert percentile_stat(q) == stat


def test_percentile_queries_ask_sample_count_and_each_percentile_per_series():
    series = [Series(START_LATENCY, "IngestiontoInvocationStartLatency", "verticals", "r", DIMS)]
    assert build_percentile_queries(series, (50, 99), 300) == [
        query("n0", "IngestiontoInvocationStartLatency", "SampleCount", 300),
        query("p0_0", "IngestiontoInvocationStartLatency", "p50", 300),
        query("p1_0", "IngestiontoInvocationStartLatency", "p99", 300),
    ]


@pytest.mark.parametrize(
    ("start", "end", "aligned", "period"),
    [
        pytest.param("10:00", "11:00", "10:00", 3600, id="whole-hour"),
        pytest.param("10:30", "11:30", "10:30", 3600, id="a-recent-start-is-not-moved-to-the-hour"),
        pytest.param("10:02:30", "10:04", "10:02", 120, id="a-recent-start-is-rounded-to-the-minute"),
        pytest.param("10:07", "10:20", "10:07", 780, id="a-minute-multiple-not-a-five-minute-one"),
        pytest.param("10:00", "10:00:10", "10:00", 60, id="at-least-a-minute"),
    ],
)
def test_whole_range_period_covers_the_range_in_one_period(start, end, aligned, period):
    day = "2026-03-16 "
    got = whole_range_period(
        pd.Timestamp(day + start, tz=UTC).to_pydatetime(),
        pd.Timestamp(day + end, tz=UTC).to_pydatetime(),
        NOW,
    )
    assert got == (pd.Timestamp(day + aligned, tz=UTC).to_pydatetime(), period)


@pytest.mark.parametrize("days", [7, 14, 16, 30, 62, 64, 90, 365])
@pytest.mark.parametrize("minute", [0, 7, 33])
def test_whole_range_period_is_legal_for_the_age_of_its_start(days, minute):
    start = NOW - timedelta(days=days, minutes=minute)
    aligned, period = whole_range_period(start, NOW, NOW)
    age = NOW - aligned
    step = 60 if age < timedelta(days=15) else 300 if age < timedelta(days=63) else 3600
    assert period % step == 0
    assert aligned <= start and aligned + timedelta(seconds=period) >= NOW
    # CloudWatch's own rounding of the start, by its age, and no further back
    assert start - aligned < timedelta(seconds=step) and aligned.timestamp() % step == 0


def test_percentile_frame_keeps_points_with_samples_and_the_busier_spelling():
    t0, t1 = pd.Timestamp("2026-03-16 10:00", tz=UTC), pd.Timestamp("2026-03-16 10:05", tz=UTC)
    a = Series(START_LATENCY, "IngestiontoInvocationStartLatency", "verticals", "r", DIMS)
    b = Series(START_LATENCY, START_LATENCY, "verticals", "r", DIMS)
    points = {
        "n0": {t0: 10.0, t1: 0.0},
        "p0_0": {t0: 12.0},
        "p1_0": {t0: 80.0},
        "n1": {t0: 2.0},
        "p0_1": {t0: 500.0},
        "p1_1": {t0: 900.0},
    }
    frame = percentile_frame([a, b], points, (50, 99))
    assert frame.values.tolist() == [[t0, START_LATENCY, "verticals", "r", 10.0, 12.0, 80.0]]
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_percentile_frame_dates_a_whole_range_at_its_start():
    start = datetime(2026, 3, 16, 10, 30, tzinfo=UTC)
    s = Series(SUCCESS_LATENCY, SUCCESS_LATENCY, "verticals", "r", DIMS)
    points = {
        "n0": {datetime(2026, 3, 16, 10, tzinfo=UTC): 4.0},
        "p0_0": {datetime(2026, 3, 16, 10, tzinfo=UTC): 7.5},
    }
    frame = percentile_frame([s], points, (50,), whole_range_start=start)
    assert frame[["timestamp", "samples", "p50"]].values.tolist() == [[pd.Timestamp(start), 4.0, 7.5]]


def test_percentile_frame_without_points_is_empty_with_the_columns():
    frame = percentile_frame([], {}, (50, 90, 99))
    assert frame.empty and list(frame.columns) == COLUMNS


def source(cloudwatch, rules=("r",), now=lambda: NOW):
    return CloudWatchMetricsSource(cloudwatch, bus="verticals", rules=rules, now=now)


def test_latency_percentiles_sends_the_exact_get_metric_data_request():
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    start, end = datetime(2026, 3, 16, 10, 30, tzinfo=UTC), datetime(2026, 3, 16, 11, 30, tzinfo=UTC)
    # a start under 15 days old: CloudWatch rounds it to the minute, so the one period starts there
    now = end + timedelta(minutes=15)
    with Stubber(cloudwatch) as stub:  # no ListMetrics: the series are the deployed rules'
        documented, cloudwatch_spelling = START_LATENCY, "IngestiontoInvocationStartLatency"
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "n1", "Timestamps": [start], "Values": [40.0], "StatusCode": "Complete"},
                    {"Id": "p0_1", "Timestamps": [start], "Values": [11.0], "StatusCode": "Complete"},
                    {"Id": "p1_1", "Timestamps": [start], "Values": [35.0], "StatusCode": "Complete"},
                    {"Id": "p2_1", "Timestamps": [start], "Values": [120.0], "StatusCode": "Complete"},
                ]
            },
            {
                "MetricDataQueries": [
                    query("n0", documented, "SampleCount", 3600),
                    query("p0_0", documented, "p50", 3600),
                    query("p1_0", documented, "p90", 3600),
                    query("p2_0", documented, "p99", 3600),
                    query("n1", cloudwatch_spelling, "SampleCount", 3600),
                    query("p0_1", cloudwatch_spelling, "p50", 3600),
                    query("p1_1", cloudwatch_spelling, "p90", 3600),
                    query("p2_1", cloudwatch_spelling, "p99", 3600),
                ],
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            },
        )
        frame = source(cloudwatch, now=lambda: now).latency_percentiles(
            [START_LATENCY], start, end, bus="verticals"
        )
        stub.assert_no_pending_responses()
    assert list(frame.columns) == COLUMNS
    assert frame.values.tolist() == [
        [pd.Timestamp(start), START_LATENCY, "verticals", "r", 40.0, 11.0, 35.0, 120.0]
    ]


def test_latency_percentiles_per_period_in_batches_of_500_queries():
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    rules = [f"rule-{i:03d}" for i in range(75)]  # 75 rules x 2 spellings x 4 queries -> 500 + 100
    start = NOW - timedelta(hours=1)
    calls = []
    cloudwatch.meta.events.register(
        "provide-client-params.cloudwatch.GetMetricData",
        lambda params, **_: calls.append(params["MetricDataQueries"]),
    )
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "n0", "Timestamps": [start], "Values": [3.0], "StatusCode": "Complete"},
                    {"Id": "p2_0", "Timestamps": [start], "Values": [9.0], "StatusCode": "Complete"},
                ]
            },
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {
                        "Id": "n149",
                        "Timestamps": [start + timedelta(minutes=5)],
                        "Values": [1.0],
                        "StatusCode": "Complete",
                    },
                    {
                        "Id": "p0_149",
                        "Timestamps": [start + timedelta(minutes=5)],
                        "Values": [2.0],
                        "StatusCode": "Complete",
                    },
                ]
            },
        )
        frame = source(cloudwatch, rules).latency_percentiles(
            [SUCCESS_LATENCY], start, NOW, bus="verticals", period_s=300
        )
        stub.assert_no_pending_responses()
    assert [len(c) for c in calls] == [500, 100]
    assert {q["MetricStat"]["Period"] for c in calls for q in c} == {300}
    assert frame[["timestamp", "rule", "samples"]].values.tolist() == [
        [pd.Timestamp(start), "rule-000", 3.0],
        [pd.Timestamp(start + timedelta(minutes=5)), "rule-074", 1.0],
    ]
    assert frame["p99"].tolist()[0] == 9.0 and frame["p50"].tolist()[1] == 2.0
    assert frame[["p50", "p90"]].iloc[0].isna().all()  # a statistic without a point is NaN


def test_latency_percentiles_without_latency_series_calls_nothing():
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    with Stubber(cloudwatch) as stub:
        frame = source(cloudwatch).latency_percentiles(["Invocations"], NOW - timedelta(hours=1), NOW)
        stub.assert_no_pending_responses()
    assert frame.empty and list(frame.columns) == COLUMNS


@pytest.mark.dated
@mock_aws
def test_moto_percentiles_per_rule_over_the_range():
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    start = (instant.NOW - timedelta(minutes=30)).replace(second=0, microsecond=0)

    def put(name, values, minute, rule):
        cloudwatch.put_metric_data(
            Namespace="AWS/Events",
            MetricData=[
                {
                    "MetricName": name,
                    "Values": values,
                    "Timestamp": start + timedelta(minutes=minute, seconds=5),
                    "Dimensions": [
                        {"Name": "EventBusName", "Value": "verticals"},
                        {"Name": "RuleName", "Value": rule},
                    ],
                }
            ],
        )

    put("IngestiontoInvocationStartLatency", [float(v) for v in range(1, 101)], 1, "crm")
    put("IngestiontoInvocationStartLatency", [500.0], 7, "crm")
    put("IngestionToInvocationSuccessLatency", [20.0, 30.0], 2, "ops")
    put("Invocations", [1.0], 2, "ops")

    frame = source(cloudwatch, ("crm", "ops"), now=lambda: instant.NOW).latency_percentiles(
        [START_LATENCY, SUCCESS_LATENCY, "Invocations"], start, start + timedelta(minutes=10), bus="verticals"
    )

    assert list(frame.columns) == COLUMNS
    assert set(frame["timestamp"]) == {pd.Timestamp(start)}
    rows = frame.set_index("rule")[["metric", "samples", "p50", "p90", "p99"]]
    assert rows.loc["crm"].tolist() == [START_LATENCY, 101.0, 51.0, 91.0, 100.0]
    assert rows.loc["ops"].tolist() == [SUCCESS_LATENCY, 2.0, 20.0, 30.0, 30.0]
