"""The cost table's CloudWatch lines in docs/aws.md, computed from the code's own requests:
the Delivery health view's metric lists (app/services/delivery.py) read through the
CloudWatch source for the deployed rules, counted at the client, and the Live policy on
the aws backend (app/services/live.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.bus.definition import load_definition
from app.engines.athena import cost_usd
from app.infra.render import render_template
from app.infra.rules import deployed_rule_names
from app.lake.tables import TABLES
from app.metrics.cloudwatch import CloudWatchMetricsSource
from app.services.delivery import COUNTS, LATENCIES, PERCENTILES, PUT_EVENTS, RECENT_METRICS
from app.services.live import AWS_UP_TO, live_policy, refreshes_per_hour
from app.settings import REPO_ROOT
from app.stack_names import delivery_stream_name

DOC = (REPO_ROOT / "docs" / "aws.md").read_text()
# How often an open live page on AWS reads its figures: the longest range still live.
LIVE_REFRESHES_AN_HOUR = refreshes_per_hour("aws", AWS_UP_TO)
PRICE_PER_1000_METRICS = 0.01  # GetMetricData, us-east-1
ALARM_MONTH = 0.10  # a standard-resolution alarm a month
NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)


class CountingCloudWatch:
    def __init__(self) -> None:
        self.metrics = 0
        self.calls = 0

    def get_metric_data(self, **kwargs):
        self.metrics += len(kwargs["MetricDataQueries"])
        self.calls += 1
        return {"MetricDataResults": []}


def metrics_requested(read) -> tuple[int, int]:
    cloudwatch = CountingCloudWatch()
    source = CloudWatchMetricsSource(
        cloudwatch,
        bus="verticals",
        rules=deployed_rule_names(load_definition()),
        streams={table: delivery_stream_name("verticals", table) for table in TABLES},
        lake_bucket="verticals-lake",
        now=lambda: NOW,
    )
    read(source)
    return cloudwatch.metrics, cloudwatch.calls


def view(source: CloudWatchMetricsSource) -> None:
    """What delivery.delivery_metrics asks for: rule metrics, percentiles, PutEvents, the
    lake's Firehose streams."""
    start = NOW - timedelta(days=30)
    source.get(list(COUNTS + LATENCIES), start, NOW, 3600)
    source.latency_percentiles(list(LATENCIES), start, NOW, percentiles=PERCENTILES)
    source.get(list(PUT_EVENTS), start, NOW, 3600)
    source.firehose_health(start, NOW)


def recent(source: CloudWatchMetricsSource) -> None:
    source.get(list(RECENT_METRICS), NOW - timedelta(hours=1), NOW, 60)


def test_the_documented_metric_counts_are_the_codes():
    per_view, _ = metrics_requested(view)
    per_refresh = per_view + metrics_requested(recent)[0]
    live_hour = per_refresh * LIVE_REFRESHES_AN_HOUR
    assert f"{per_view:,} metrics per view" in DOC
    assert f"{per_refresh:,} metrics per refresh" in DOC
    assert f"{LIVE_REFRESHES_AN_HOUR} refreshes an hour" in DOC
    assert f"every {live_policy('aws', AWS_UP_TO).every_s} s" in DOC
    assert f"${live_hour * PRICE_PER_1000_METRICS / 1000:.2f} an hour" in DOC
    monthly = 3000 * per_view * PRICE_PER_1000_METRICS / 1000
    assert f"| {monthly:.2f} |" in DOC


def test_the_documented_alarm_count_is_the_templates():
    resources = render_template(load_definition())["Resources"]
    alarms = sum(1 for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm")
    assert f"| {alarms} alarms |" in DOC and f"| {alarms * ALARM_MONTH:.2f} |" in DOC


def test_the_documented_firehose_share_of_a_view():
    """Three statistics per lake stream, all streams in one call (under 500 queries)."""

    def firehose(source: CloudWatchMetricsSource) -> None:
        source.firehose_health(NOW - timedelta(days=30), NOW)

    metrics, calls = metrics_requested(firehose)
    assert (metrics, calls) == (3 * len(TABLES), 1)
    assert f"{len(TABLES)} lake streams × 3 statistics" in DOC


def test_no_longer_range_is_live_on_aws():
    """The table's Live line holds for every range: longer ones never refresh on AWS."""
    assert LIVE_REFRESHES_AN_HOUR == 60
    for hours in (2, 24, 24 * 7, 24 * 365):
        assert refreshes_per_hour("aws", timedelta(hours=hours)) == 0
    assert "ranges over an hour are not live" in DOC


def test_the_documented_athena_floor_of_a_live_query():
    """Each refresh runs the query again and Athena bills at least 10 MB for it."""
    floor = cost_usd(0, 5.0) * LIVE_REFRESHES_AN_HOUR
    assert f"${floor:.4f} an hour per query" in DOC
