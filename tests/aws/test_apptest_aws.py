"""Every page through AppTest on the aws backend (VERTICALS_BACKEND=aws) against moto.

The stack is the rendered template deployed to moto (what moto cannot create is made
through each service's API, tests/aws/cfn_moto.py). CloudWatch holds AWS/Events metrics
put the way EventBridge publishes them, SQS holds dead letters with EventBridge's
attributes, and Athena answers each query the pages send with what DuckDB finds in the
objects that ``python -m app demo seed --backend aws`` wrote to the stack's S3 lake
(downloaded at their keys, tests/aws/moto_athena.py). So the chain seed → S3 layout →
Athena SQL → pages is exercised: a page on aws must show the same figures as on the local
backend over a local seed of the same parameters (tests/aws/seed_moto.py), through
ExecutionParameters, the workgroup's result location and Athena's CSV.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import boto3
import pandas as pd
import pytest
import streamlit as st
from moto import mock_aws

from app.bus.definition import load_definition
from app.display import plain
from app.infra.render import render_template
from app.lake.rollups import ROLLUP_TABLES
from app.lake.tables import TABLES
from tests.app.apptest import open_app, open_page
from tests.app.page_content import chart_with_trace, table_with
from tests.aws.cfn_moto import REGION, Resolver, create_stack
from tests.aws.moto_athena import athena_answers_from
from tests.instant import NOW, TODAY

STACK = "prod"
TEMPLATE = render_template(load_definition())
PARAMETERS = {
    "CrmWebhookApiKey": "k",
    "AttributionApiApiKey": "k",
    "CrmWebhookUrl": "https://crm.example.com/e",
    "AttributionApiUrl": "https://marketing.example.com/a",
}
RULE_DIMS = [{"Name": "EventBusName", "Value": STACK}]  # the template names the bus after the stack
PREFIX = "arn:aws:events:us-east-1:123456789012:"
# Whole days inside the seeded lakes (42 days ending on NOW's date): the same on both backends.
DAYS = {"from": (TODAY - timedelta(days=35)).isoformat(), "to": (TODAY - timedelta(days=6)).isoformat()}


def deploy_stack() -> Resolver:
    return create_stack(TEMPLATE, STACK, PARAMETERS)


def put_rule_metrics(now: datetime) -> None:
    """Three rules over the last hour, as EventBridge publishes them (its casing of the
    latency names included)."""
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for minutes_ago, matched, failed in ((50, 40, 0), (30, 35, 6), (10, 20, 2)):
        at = now - timedelta(minutes=minutes_ago)
        for rule, scale, fails in (
            ("crm-customer-signals", 1, failed),
            ("lake-archive", 5, 0),
            ("ops-alerts", 0.2, 0),
        ):
            dims = [*RULE_DIMS, {"Name": "RuleName", "Value": rule}]
            data = {
                "MatchedEvents": matched * scale,
                "TriggeredRules": matched * scale,
                "Invocations": matched * scale,
                "FailedInvocations": fails,
                "InvocationAttempts": matched * scale + 2 * fails,
                "RetryInvocationAttempts": 2 * fails,
                "InvocationsSentToDlq": fails,
            }
            cloudwatch.put_metric_data(
                Namespace="AWS/Events",
                MetricData=[
                    *(
                        {"MetricName": name, "Value": value, "Timestamp": at, "Dimensions": dims}
                        for name, value in data.items()
                    ),
                    {
                        "MetricName": "IngestiontoInvocationStartLatency",
                        "Value": 180.0 if fails else 40.0,
                        "Timestamp": at,
                        "Dimensions": dims,
                    },
                ],
            )


def put_account_metrics(now: datetime) -> None:
    """PutEvents metrics have no dimension on AWS."""
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for minutes_ago in (45, 15):
        at = now - timedelta(minutes=minutes_ago)
        cloudwatch.put_metric_data(
            Namespace="AWS/Events",
            MetricData=[
                {"MetricName": "PutEventsApproximateCallCount", "Value": 10, "Timestamp": at},
                {"MetricName": "PutEventsEntriesCount", "Value": 100, "Timestamp": at},
                {"MetricName": "PutEventsFailedEntriesCount", "Value": 3, "Timestamp": at},
                {"MetricName": "PutEventsApproximateThrottledCount", "Value": 1, "Timestamp": at},
                {"MetricName": "PutEventsRequestSize", "Value": 2048, "Timestamp": at},
            ],
        )


def send_dead_letters(queue_url: str, count: int = 3) -> list[str]:
    sqs = boto3.client("sqs", region_name=REGION)
    ids = []
    for i in range(count):
        event = {
            "version": "0",
            "id": f"evt-{i}",
            "detail-type": "PaymentFailed",
            "source": "verticals.payments",
            "account": "123456789012",
            "time": "2026-03-14T09:30:00Z",
            "region": REGION,
            "resources": [],
            "detail": {"order_id": f"o-{i}"},
        }
        attributes = {
            "ERROR_CODE": "SDK_CLIENT_ERROR",
            "ERROR_MESSAGE": "503 from crm",
            "RETRY_ATTEMPTS": "3",
            "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
            "RULE_ARN": PREFIX + f"rule/{STACK}/crm-customer-signals",
            "TARGET_ARN": PREFIX + "api-destination/crm-webhook/0a1b",
        }
        ids.append(
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=json.dumps(event),
                MessageAttributes={
                    k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                },
            )["MessageId"]
        )
    return ids


def fresh_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()  # the context holds clients and CloudWatch's discovered series


@pytest.fixture
def on_aws(lake_from_s3, monkeypatch) -> Iterator[dict]:
    """moto with the deployed stack, metrics and dead letters; the app's settings on aws."""
    with mock_aws():
        resolver = deploy_stack()
        now = NOW.replace(second=0, microsecond=0)
        put_rule_metrics(now)
        put_account_metrics(now)
        letters = send_dead_letters(resolver.ref("QueueCrmWebhookDlq"))
        settings = {
            "VERTICALS_BACKEND": "aws",
            "VERTICALS_STACK": STACK,
            "VERTICALS_REGION": REGION,
            # moto drops the Glue database and the workgroup, so the stack has no outputs for them
            "VERTICALS_ATHENA_WORKGROUP": resolver.ref("AthenaWorkGroup"),
            "VERTICALS_ATHENA_DATABASE": resolver.ref("GlueDatabase"),
        }
        for key, value in settings.items():
            monkeypatch.setenv(key, value)
        fresh_caches()
        with athena_answers_from(lake_from_s3) as athena:
            yield {"letters": letters, "athena": athena, "resolver": resolver}
        fresh_caches()


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def assert_clean(at) -> None:
    assert not at.exception, texts(at.exception)
    assert not at.error, texts(at.error)


def figures(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


# --- Delivery health: CloudWatch and SQS ---------------------------------------------------


def test_delivery_health_shows_cloudwatch_metrics_and_sqs_dead_letters(on_aws):
    at = open_page("delivery_health", {"range": "24h"})
    assert_clean(at)
    assert any(c.startswith("Stack: `s3://") for c in texts(at.sidebar.caption))  # the aws backend
    shown = figures(at)
    assert shown["Matched events"] == "589"  # 95 + 5 x 95 + 0.2 x 95
    assert (shown["Failed invocations"], shown["Dead letters waiting"]) == ("8", "3")
    assert (shown["Entries put"], shown["Failed entries"], shown["Throttled calls"]) == ("200", "6", "2")

    rules = table_with(at, "rule", "failure_rate")
    assert rules.iloc[0]["rule"] == "crm-customer-signals"  # the only one failing: first
    crm = rules.set_index("rule").loc["crm-customer-signals"]
    assert (crm["invocations"], crm["failed"], crm["retries"], crm["sent_to_dlq"]) == (95, 8, 16, 8)
    assert crm["targets"] == "crm-webhook (http → crm-webhook-dlq)"
    assert "lake-archive-orders-OrderPlaced" in set(rules["rule"])  # a silent deployed rule still shows
    latency = table_with(at, "latency", "mean_ms")
    assert latency.iloc[0]["rule"] == "crm-customer-signals"  # the slowest first
    assert latency.iloc[0]["mean_ms"] == pytest.approx((40 + 180 + 180) / 3)
    # CloudWatch's p50/p90/p99 (moto computes them by nearest rank: tests/aws/moto_percentiles.py)
    assert (latency.iloc[0]["p50"], latency.iloc[0]["p99"]) == (180.0, 180.0)
    assert not any("Percentiles are not available" in c for c in texts(at.main.caption))

    letters = at.dataframe(key="dlq_table:0:crm-webhook-dlq").value
    assert set(letters["message_id"]) == set(on_aws["letters"])
    assert set(letters["ERROR_MESSAGE"]) == {"503 from crm"} and letters["RETRY_ATTEMPTS"].tolist() == [
        3,
        3,
        3,
    ]
    assert set(letters["target"]) == {"api-destination/crm-webhook/0a1b"}


def put_firehose_metrics(now: datetime) -> None:
    """Two lake streams as Firehose publishes them (dimension DeliveryStreamName): orders
    failed a conversion and a delivery, events delivered everything."""
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for minutes_ago, failed, success, freshness in ((50, 5, 1.0, 400.0), (20, 2, 0.0, 1200.0)):
        at = now - timedelta(minutes=minutes_ago)
        for stream, data in (
            (f"{STACK}-orders", {"FailedConversion.Records": failed, "DeliveryToS3.Success": success}),
            (f"{STACK}-events", {"DeliveryToS3.Success": 1.0}),
        ):
            data["DeliveryToS3.DataFreshness"] = freshness if stream.endswith("orders") else 90.0
            dims = [{"Name": "DeliveryStreamName", "Value": stream}]
            cloudwatch.put_metric_data(
                Namespace="AWS/Firehose",
                MetricData=[
                    {"MetricName": name, "Value": value, "Timestamp": at, "Dimensions": dims}
                    for name, value in data.items()
                ],
            )


def test_delivery_health_shows_the_lake_streams_firehose_errors(on_aws):
    put_firehose_metrics(NOW.replace(second=0, microsecond=0))
    at = open_page("delivery_health", {"range": "24h"})
    assert_clean(at)
    streams = table_with(at, "stream", "failed_conversion").set_index("table")
    assert len(streams) == len(TABLES)  # every deployed stream, data or not
    assert streams.loc["orders", "stream"] == f"{STACK}-orders"
    assert streams.loc["orders", "failed_conversion"] == 7
    assert bool(streams.loc["orders", "delivery_failed"]) and not streams.loc["events", "delivery_failed"]
    assert (streams.loc["orders", "max_freshness_s"], streams.loc["events", "max_freshness_s"]) == (1200, 90)
    assert streams.loc["payments", "failed_conversion"] == 0 and pd.isna(
        streams.loc["payments", "max_freshness_s"]
    )
    bucket = on_aws["resolver"].ref("LakeBucket")
    warnings = texts(at.warning)
    pointer = f"could not convert or deliver under s3://{bucket}/_firehose_errors/orders/."
    assert any(w.endswith(plain(pointer)) for w in warnings), warnings  # escaped like the page's text
    assert not any("events/" in w for w in warnings)


def test_redrive_on_aws_puts_the_events_back_on_the_bus(on_aws):
    at = open_page("delivery_health", {"range": "24h"})
    first = on_aws["letters"][0]
    at.multiselect(key="dlq_pick:0:crm-webhook-dlq").set_value([first]).run()
    at.button(key="dlq_redrive").click().run()
    assert texts(at.warning) == [
        "Redrive 1 message from crm-webhook-dlq to api-destination/crm-webhook/0a1b "
        "(rule crm-customer-signals)?"
    ]
    at.button(key="dlq_confirm").click().run()
    assert_clean(at)
    assert texts(at.success) == ["1 of 1 message put back on the bus."]
    assert figures(at)["Dead letters waiting"] == "2"
    remaining = at.dataframe(key="dlq_table:1:crm-webhook-dlq").value
    assert set(remaining["message_id"]) == set(on_aws["letters"][1:])
    # The audit trail is the stack's CloudWatch Logs group (moto), not the local file.
    assert not at.warning
    assert texts(at.subheader)[-1] == "Audit trail"
    assert texts(at.main.caption)[-1].endswith(f"from CloudWatch Logs {STACK}-audit.")
    trail = at.dataframe[-1].value
    assert (trail.iloc[0]["action"], trail.iloc[0]["what"], trail.iloc[0]["count"]) == (
        "redrive",
        "crm-webhook-dlq",
        1,
    )


# --- the lake pages: Athena in moto, answered from the objects the aws seed wrote ---------------


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order: DuckDB returns rows that tie on ORDER BY in any order."""
    order = frame.astype(str).sort_values(list(frame.columns)).index  # cells may hold lists
    return frame.loc[order].reset_index(drop=True)


def by_columns(at) -> list[pd.DataFrame]:
    """The page's tables in the order of their columns, not of their place on the page."""
    return sorted((frame.value for frame in at.dataframe), key=lambda frame: list(frame.columns))


def local_then_aws(monkeypatch, open_it):
    """The same page on the local backend (a local seed), then on aws (moto, the aws seed of the
    same parameters)."""
    with monkeypatch.context() as local:
        local.setenv("VERTICALS_BACKEND", "local")
        on_local = open_it()
    fresh_caches()
    return on_local, open_it()


def test_overview_on_aws_shows_what_the_local_backend_shows(on_aws, small_local_lake, monkeypatch):
    monkeypatch.setenv("VERTICALS_LAKE", str(small_local_lake))
    on_local, at = local_then_aws(monkeypatch, lambda: open_app(DAYS))
    assert_clean(at)
    assert figures(at) == figures(on_local) and len(figures(at)) == 8
    assert all(value != "—" for value in figures(at).values())
    queries = on_aws["athena"].queries
    assert queries and all(q["WorkGroup"] == STACK and q["ExecutionParameters"] for q in queries)
    results = on_aws["resolver"].ref("ResultsBucket")
    assert all(q["OutputLocation"] == f"s3://{results}/results/" for q in queries)
    assert all(":" + name not in q["QueryString"] for q in queries for name in ("dt_from", "t_from"))
    # The closed days of the range were materialized first (app/engines/athena_rollups.py),
    # then read from the rollups.
    built = on_aws["athena"].statements
    assert built and all(s.startswith("INSERT INTO") and s.split('"')[1] in ROLLUP_TABLES for s in built)
    assert any("FROM overview_hourly" in q["QueryString"] for q in queries)


def test_overview_over_24_hours_on_aws_draws_the_hours_the_local_backend_draws(
    on_aws, small_local_lake, monkeypatch
):
    """The hourly series' SQL (each branch's day put in hours) runs on the Athena path too."""
    monkeypatch.setenv("VERTICALS_LAKE", str(small_local_lake))
    on_local, at = local_then_aws(monkeypatch, lambda: open_app({"range": "24h"}))
    assert_clean(at)
    assert figures(at) == figures(on_local)
    drawn = [chart_with_trace(page, "this period")["data"] for page in (on_local, at)]
    assert drawn[0] == drawn[1] and len(drawn[0]) == 16
    assert any("date_trunc('hour'" in q["QueryString"].lower() for q in on_aws["athena"].queries)


@pytest.mark.parametrize(
    "page",
    [
        pytest.param("event_rates", id="event-rates"),
        pytest.param("campaigns", id="campaigns"),
        pytest.param("demand_forecast", id="demand-forecast"),
        pytest.param("event_explorer", id="event-explorer"),
    ],
)
def test_dashboard_on_aws_shows_what_the_local_backend_shows(page, on_aws, small_local_lake, monkeypatch):
    monkeypatch.setenv("VERTICALS_LAKE", str(small_local_lake))
    on_local, at = local_then_aws(monkeypatch, lambda: open_page(page, DAYS))
    assert_clean(at)
    assert figures(at) == figures(on_local)
    assert len(at.dataframe) == len(on_local.dataframe) and len(at.get("plotly_chart")) > 0
    for aws_table, local_table in zip(by_columns(at), by_columns(on_local), strict=True):
        assert len(aws_table) > 0
        pd.testing.assert_frame_equal(sorted_rows(aws_table), sorted_rows(local_table), check_dtype=False)
    assert on_aws["athena"].queries  # the figures came through Athena


def test_a_saved_query_runs_on_athena(on_aws):
    at = open_page("saved_queries")
    at.selectbox(key="sq_name").set_value("campaign_spend_vs_orders").run()
    at.button(key="sq_run").click().run()
    assert_clean(at)
    rows = table_with(at, "day", "region", "spend", "orders")
    assert len(rows) > 0
    sent = on_aws["athena"].queries[-1]
    assert "?" in sent["QueryString"] and sent["ExecutionParameters"]


# --- one sentence when the backend cannot answer ------------------------------------------------


def test_a_missing_workgroup_is_one_sentence_on_the_page(on_aws, monkeypatch):
    monkeypatch.setenv("VERTICALS_ATHENA_WORKGROUP", "nope")
    at = open_app(DAYS)
    assert not at.exception
    errors = texts(at.error)
    assert errors and all("WorkGroup" in e and "\n" not in e and "Traceback" not in e for e in errors)


@pytest.mark.parametrize(
    ("changes", "sentence"),
    [
        pytest.param(
            {"VERTICALS_ATHENA_WORKGROUP": None, "VERTICALS_ATHENA_DATABASE": None, "VERTICALS_STACK": None},
            "The aws backend does not know its resources: set VERTICALS_STACK or VERTICALS_ATHENA_WORKGROUP, "
            "VERTICALS_ATHENA_DATABASE, VERTICALS_LAKE_BUCKET.",
            id="no-resources",
        ),
        pytest.param(
            {"VERTICALS_STACK": "nope"},
            "The CloudFormation stack nope does not exist in us-east-1: check VERTICALS_STACK and "
            "VERTICALS_REGION, or deploy it with python -m app infra deploy.",
            id="missing-stack",
        ),
    ],
)
def test_a_backend_that_cannot_start_is_one_sentence(changes, sentence, on_aws, monkeypatch):
    for key, value in changes.items():
        if value is None:
            monkeypatch.delenv(key)
        else:
            monkeypatch.setenv(key, value)
    for at in (open_app(), open_page("delivery_health")):
        assert not at.exception
        assert texts(at.error) == [sentence]
