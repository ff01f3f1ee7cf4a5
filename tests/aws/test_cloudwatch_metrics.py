"""The CloudWatch metrics source: pure parts with tables, batching and paging with the
Stubber (which also proves ListMetrics is never called), and the whole source against
moto's CloudWatch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pandas as pd
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from app.metrics.base import COLUMNS
from app.metrics.cloudwatch import (
    CloudWatchMetricsSource,
    Series,
    build_queries,
    build_series,
    choose_period,
    frame_from_points,
    granularity,
)
from app.metrics.firehose import firehose_queries
from tests import instant

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)


def test_series_are_the_deployed_rules_on_the_bus_and_account_wide_put_events():
    series = build_series(
        ["Invocations", "IngestionToInvocationStartLatency", "PutEventsApproximateCallCount"],
        "verticals",
        ["a", "b", "a"],
    )
    assert [(s.metric, s.cloudwatch_name, s.bus, s.rule, s.dimensions) for s in series] == [
        ("Invocations", "Invocations", "verticals", "a", (("EventBusName", "verticals"), ("RuleName", "a"))),
        ("Invocations", "Invocations", "verticals", "b", (("EventBusName", "verticals"), ("RuleName", "b"))),
        *[
            (
                "IngestionToInvocationStartLatency",
                spelling,
                "verticals",
                rule,
                (("EventBusName", "verticals"), ("RuleName", rule)),
            )
            for spelling in ("IngestionToInvocationStartLatency", "IngestiontoInvocationStartLatency")
            for rule in ("a", "b")
        ],
        ("PutEventsApproximateCallCount", "PutEventsApproximateCallCount", "", "", ()),
    ]


def test_no_series_without_the_bus_or_with_the_rule_name_only():
    series = build_series(["FailedInvocations", "MatchedEvents"], "verticals", ["r"])
    assert all(dict(s.dimensions) == {"EventBusName": "verticals", "RuleName": "r"} for s in series)


@pytest.mark.parametrize(
    ("start_age", "length", "requested", "expected"),
    [
        pytest.param(timedelta(hours=3), timedelta(hours=3), 60, 60, id="recent-minutes"),
        pytest.param(timedelta(hours=3), timedelta(hours=3), 90, 120, id="rounded-to-minutes"),
        pytest.param(timedelta(days=7), timedelta(days=7), 60, 420, id="capped-points"),
        pytest.param(timedelta(days=20), timedelta(hours=1), 60, 300, id="older-than-15-days"),
        pytest.param(timedelta(days=30), timedelta(days=30), 60, 1800, id="30-days"),
        pytest.param(timedelta(days=20), timedelta(days=20), 60, 1200, id="20-days-multiple-of-300"),
        pytest.param(timedelta(days=90), timedelta(hours=1), 60, 3600, id="older-than-63-days"),
        pytest.param(timedelta(days=90), timedelta(days=90), 60, 7200, id="90-days-multiple-of-3600"),
        pytest.param(timedelta(days=365), timedelta(days=365), 60, 25200, id="365-days-multiple-of-3600"),
        pytest.param(timedelta(days=1), timedelta(days=1), 3600, 3600, id="coarser-request-kept"),
    ],
)
def test_choose_period(start_age, length, requested, expected):
    start = NOW - start_age
    assert choose_period(start, start + length, requested, NOW) == expected


@pytest.mark.parametrize("days", [1, 7, 14, 15, 16, 30, 62, 63, 64, 90, 180, 365])
@pytest.mark.parametrize("requested", [60, 90, 300, 900, 3600, 5400])
def test_every_period_is_legal_for_the_age_of_its_range(days, requested):
    start = NOW - timedelta(days=days)
    period = choose_period(start, NOW, requested, NOW)
    required = 3600 if days >= 63 else 300 if days >= 15 else 60
    assert granularity(start, NOW) == required
    assert period % required == 0 and period >= requested


def test_build_queries_reads_sum_or_average_and_sample_count():
    latency = Series(
        "IngestionToInvocationStartLatency",
        "IngestiontoInvocationStartLatency",
        "verticals",
        "a",
        (("EventBusName", "verticals"), ("RuleName", "a")),
    )
    count = Series("Invocations", "Invocations", "", "b", (("RuleName", "b"),))
    queries = build_queries([latency, count], 300)
    assert [(q["Id"], q["MetricStat"]["Stat"]) for q in queries] == [
        ("v0", "Average"),
        ("n0", "SampleCount"),
        ("v1", "Sum"),
        ("n1", "SampleCount"),
    ]
    assert queries[0]["MetricStat"]["Metric"] == {
        "Namespace": "AWS/Events",
        "MetricName": "IngestiontoInvocationStartLatency",
        "Dimensions": [{"Name": "EventBusName", "Value": "verticals"}, {"Name": "RuleName", "Value": "a"}],
    }
    assert {q["MetricStat"]["Period"] for q in queries} == {300}


def test_frame_fills_missing_count_periods_with_zero_but_not_latencies():
    count = Series("Invocations", "Invocations", "verticals", "a", ())
    latency = Series("IngestionToInvocationStartLatency", "x", "verticals", "a", ())
    start = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
    points = {
        "v0": {start + timedelta(minutes=1): 4.0},
        "n0": {start + timedelta(minutes=1): 4.0},
        "v1": {start + timedelta(minutes=1): 250.0},
        "n1": {start + timedelta(minutes=1): 2.0},
    }
    frame = frame_from_points([count, latency], points, start, start + timedelta(minutes=3), 60)
    assert list(frame.columns) == COLUMNS
    counts = frame[frame["metric"] == "Invocations"]
    assert counts["value"].tolist() == [0.0, 4.0, 0.0]
    assert counts["samples"].tolist() == [0.0, 4.0, 0.0]
    assert frame[frame["metric"] == "IngestionToInvocationStartLatency"][
        ["value", "samples"]
    ].values.tolist() == [[250.0, 2.0]]
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_two_spellings_of_one_metric_become_one_row():
    start = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
    a = Series("IngestionToInvocationStartLatency", "IngestiontoInvocationStartLatency", "verticals", "r", ())
    b = Series("IngestionToInvocationStartLatency", "IngestionToInvocationStartLatency", "verticals", "r", ())
    points = {"v0": {start: 100.0}, "n0": {start: 1.0}, "v1": {start: 400.0}, "n1": {start: 3.0}}
    frame = frame_from_points([a, b], points, start, start + timedelta(minutes=1), 60)
    assert frame[["value", "samples"]].values.tolist() == [[325.0, 4.0]]  # sample-weighted mean


def test_get_batches_500_queries_and_follows_pages():
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    rules = [f"rule-{i:03d}" for i in range(300)]  # 300 series -> 600 queries -> 2 calls
    start = NOW - timedelta(hours=1)
    with Stubber(cloudwatch) as stub:  # nothing but GetMetricData: an unstubbed ListMetrics would fail
        first = {"MetricDataQueries": ANY, "StartTime": start, "EndTime": NOW, "ScanBy": "TimestampAscending"}
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "v0", "Timestamps": [start], "Values": [5.0], "StatusCode": "PartialData"}
                ],
                "NextToken": "more",
            },
            first,
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {
                        "Id": "v0",
                        "Timestamps": [start + timedelta(minutes=1)],
                        "Values": [2.0],
                        "StatusCode": "Complete",
                    }
                ]
            },
            {**first, "NextToken": "more"},
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "v299", "Timestamps": [start], "Values": [1.0], "StatusCode": "Complete"}
                ]
            },
            first,
        )
        calls = []
        cloudwatch.meta.events.register(
            "provide-client-params.cloudwatch.GetMetricData",
            lambda params, **_: calls.append(len(params["MetricDataQueries"])),
        )
        frame = CloudWatchMetricsSource(cloudwatch, bus="verticals", rules=rules, now=lambda: NOW).get(
            ["Invocations"], start, NOW, 60, bus="verticals"
        )
        stub.assert_no_pending_responses()
    assert calls == [500, 500, 100]
    first_rule = frame[frame["rule"] == "rule-000"]
    assert first_rule["value"].tolist()[:3] == [5.0, 2.0, 0.0]
    assert len(first_rule) == 60  # one point a minute, the rest zeros
    assert frame[frame["rule"] == "rule-299"]["value"].sum() == 1.0
    assert frame["rule"].nunique() == 300


def put_metric(cloudwatch, namespace: str, name: str, value: float, at: datetime, dims: dict) -> None:
    """One data point, as the service publishes it."""
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Value": value,
                "Timestamp": at,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
            }
        ],
    )


@pytest.mark.dated
@mock_aws
def test_moto_cloudwatch_metrics_appear_in_the_frame():
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    start = (instant.NOW - timedelta(minutes=30)).replace(second=0, microsecond=0)

    def put(name, value, minute, **dims):
        put_metric(cloudwatch, "AWS/Events", name, value, start + timedelta(minutes=minute, seconds=5), dims)

    put("Invocations", 3, 1, EventBusName="verticals", RuleName="crm-customer-signals")
    put("Invocations", 2, 1, EventBusName="verticals", RuleName="crm-customer-signals")
    put("FailedInvocations", 1, 2, EventBusName="verticals", RuleName="crm-customer-signals")
    put("Invocations", 7, 3, RuleName="ops-alerts")  # RuleName only: not this stack's series
    put("Invocations", 4, 3, EventBusName="default", RuleName="ops-alerts")  # another bus
    put(
        "IngestiontoInvocationStartLatency",
        120.0,
        1,
        EventBusName="verticals",
        RuleName="crm-customer-signals",
    )
    put(
        "IngestiontoInvocationStartLatency",
        80.0,
        1,
        EventBusName="verticals",
        RuleName="crm-customer-signals",
    )

    source = CloudWatchMetricsSource(
        cloudwatch, bus="verticals", rules=["crm-customer-signals", "ops-alerts"]
    )
    frame = source.get(
        ["Invocations", "FailedInvocations", "IngestionToInvocationStartLatency"],
        start,
        start + timedelta(minutes=10),
        60,
        bus="verticals",
    )

    assert list(frame.columns) == COLUMNS
    crm = frame[frame["rule"] == "crm-customer-signals"].set_index(["metric", "timestamp"])
    minute = pd.Timestamp(start + timedelta(minutes=1))
    assert crm.loc[("Invocations", minute), "value"] == 5.0
    assert crm.loc[("Invocations", minute), "samples"] == 2.0
    assert crm.loc[("FailedInvocations", minute + pd.Timedelta(minutes=1)), "value"] == 1.0
    assert crm.loc[("IngestionToInvocationStartLatency", minute), "value"] == 100.0
    assert (
        frame[(frame["metric"] == "Invocations") & (frame["rule"] == "crm-customer-signals")][
            "value"
        ].tolist()
        == [0.0, 5.0] + [0.0] * 8
    )
    ops = frame[frame["rule"] == "ops-alerts"]
    assert set(ops["bus"]) == {"verticals"} and ops["value"].sum() == 0.0  # a silent rule shows zeros
    assert set(frame["bus"]) == {"verticals"}


def test_firehose_queries_are_three_per_deployed_stream_by_name():
    queries = firehose_queries({"events": "prod-events", "orders": "prod-orders"}, 3600)
    assert [(q["Id"], q["MetricStat"]["Metric"]["MetricName"], q["MetricStat"]["Stat"]) for q in queries] == [
        ("fc0", "FailedConversion.Records", "Sum"),
        ("ds0", "DeliveryToS3.Success", "Minimum"),
        ("df0", "DeliveryToS3.DataFreshness", "Maximum"),
        ("fc1", "FailedConversion.Records", "Sum"),
        ("ds1", "DeliveryToS3.Success", "Minimum"),
        ("df1", "DeliveryToS3.DataFreshness", "Maximum"),
    ]
    assert {q["MetricStat"]["Metric"]["Namespace"] for q in queries} == {"AWS/Firehose"}
    assert [q["MetricStat"]["Metric"]["Dimensions"] for q in queries[::3]] == [
        [{"Name": "DeliveryStreamName", "Value": "prod-events"}],
        [{"Name": "DeliveryStreamName", "Value": "prod-orders"}],
    ]


@pytest.mark.dated
@mock_aws
def test_moto_firehose_metrics_of_two_streams_per_table():
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    start = (instant.NOW - timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)

    def put(stream, name, value, minute):
        at = start + timedelta(minutes=minute, seconds=5)
        put_metric(cloudwatch, "AWS/Firehose", name, value, at, {"DeliveryStreamName": stream})

    for minute, failed, success, freshness in ((10, 0, 1.0, 300), (70, 4, 0.5, 900), (130, 3, 1.0, 450)):
        put("prod-orders", "FailedConversion.Records", failed, minute)
        put("prod-orders", "DeliveryToS3.Success", success, minute)
        put("prod-orders", "DeliveryToS3.DataFreshness", freshness, minute)
        put("prod-events", "DeliveryToS3.Success", 1.0, minute)
        put("prod-events", "DeliveryToS3.DataFreshness", 120 + minute, minute)
    put("prod-payments", "FailedConversion.Records", 99, 20)  # a stream not deployed here: not read
    put("other-orders", "FailedConversion.Records", 50, 20)  # another stack's stream

    source = CloudWatchMetricsSource(
        cloudwatch,
        bus="prod",
        rules=[],
        streams={"events": "prod-events", "orders": "prod-orders"},
        lake_bucket="prod-lake",
        now=lambda: instant.NOW,
    )
    frame = source.firehose_health(start, start + timedelta(hours=4)).set_index("table")

    assert list(frame.index) == ["events", "orders"]
    assert frame.loc["orders", "failed_conversion"] == 7.0
    assert bool(frame.loc["orders", "delivery_failed"]) and not bool(frame.loc["events", "delivery_failed"])
    assert (frame.loc["orders", "max_freshness_s"], frame.loc["events", "max_freshness_s"]) == (900.0, 250.0)
    assert frame.loc["events", "failed_conversion"] == 0.0  # no data: nothing failed
    assert frame.loc["orders", "errors_at"] == "s3://prod-lake/_firehose_errors/orders/"
