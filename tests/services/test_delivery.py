import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from app.bus.dead_letter_source import LocalDeadLetters
from app.bus.dlq import LocalDeadLetterQueue
from app.metrics.firehose import stream_frame
from app.services import context, delivery
from app.services.context import Context
from app.services.timerange import custom_range
from app.settings import load_settings
from tests.instant import NOW


def metric_rows(*rows: tuple[str, str, float, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.Timestamp("2026-11-02", tz="UTC"),
            "metric": [r[1] for r in rows],
            "bus": "verticals",
            "rule": [r[0] for r in rows],
            "value": [r[2] for r in rows],
            "samples": [r[3] for r in rows],
        }
    )


def test_worst_rule_first_and_silent_rules_listed():
    metrics = metric_rows(
        ("lake-archive", "Invocations", 1000, 1000),
        ("lake-archive", "FailedInvocations", 1, 1),
        ("crm", "Invocations", 100, 100),
        ("crm", "FailedInvocations", 10, 10),
        ("crm", "InvocationsSentToDlq", 10, 10),
        ("crm", "RetryInvocationAttempts", 30, 30),
    )
    table = delivery.rule_health(metrics, rules=("lake-archive", "crm", "ops-alerts"))
    assert table["rule"].tolist() == ["crm", "lake-archive", "ops-alerts"]
    assert table["failure_rate"].iloc[:2].tolist() == [0.1, 0.001]
    assert pd.isna(table["failure_rate"].iloc[2])  # no invocations: no rate, listed last
    assert table.loc[0, ["retries", "sent_to_dlq"]].tolist() == [30, 10]


def test_latency_is_weighted_by_samples():
    metrics = metric_rows(
        ("crm", "IngestionToInvocationStartLatency", 100.0, 1),
        ("crm", "IngestionToInvocationStartLatency", 10.0, 9),
    )
    assert delivery.rule_health(metrics).loc[0, "latency_ms"] == pytest.approx(19.0)


def test_dead_letters_from_every_queue_newest_first(tmp_path, settings_ctx):
    folder = tmp_path / "dlq"
    event = {
        "id": "e-1",
        "source": "verticals.logistics",
        "detail-type": "OrderDelivered",
        "time": "2026-11-02T10:00:00Z",
        "detail": {"order_id": "ORD-1"},
    }
    attributes = {
        "ERROR_CODE": "SDK_CLIENT_ERROR",
        "ERROR_MESSAGE": "Target answered HTTP 503",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "RETRY_ATTEMPTS": "3",
        "RULE_ARN": "arn:aws:events:us-east-1:123456789012:rule/verticals/crm-customer-signals",
        "TARGET_ARN": "arn:aws:events:us-east-1:123456789012:api-destination/crm",
    }
    LocalDeadLetterQueue(folder / "crm-webhook-dlq.jsonl").send(
        event, attributes, datetime(2026, 11, 2, 10, tzinfo=UTC)
    )
    LocalDeadLetterQueue(folder / "lake-dlq.jsonl").send(
        {**event, "id": "e-2"}, {**attributes, "ERROR_CODE": "X"}, datetime(2026, 11, 3, 10, tzinfo=UTC)
    )
    ctx = settings_ctx(LocalDeadLetters(folder, ["crm-webhook-dlq", "lake-dlq", "attribution-dlq"]))
    letters = delivery.dead_letters(ctx)
    assert letters["event_id"].tolist() == ["e-2", "e-1"]
    first = letters.iloc[1]
    assert (first["queue"], first["rule"], first["RETRY_ATTEMPTS"], first["detail"]) == (
        "crm-webhook-dlq",
        "crm-customer-signals",
        3,
        json.dumps({"order_id": "ORD-1"}, separators=(",", ":")),
    )
    summary = delivery.dlq_summary(letters, {"crm-webhook-dlq": 7, "lake-dlq": 1})
    assert summary[["queue", "waiting", "ERROR_CODE", "messages"]].to_dict("records") == [
        {"queue": "crm-webhook-dlq", "waiting": 7, "ERROR_CODE": "SDK_CLIENT_ERROR", "messages": 1},
        {"queue": "lake-dlq", "waiting": 1, "ERROR_CODE": "X", "messages": 1},
    ]


def test_dead_letters_reads_the_newest_of_each_queue(tmp_path, settings_ctx):
    queue = LocalDeadLetterQueue(tmp_path / "q.jsonl")
    for day in range(1, 6):
        queue.send({"id": f"e-{day}"}, {}, datetime(2026, 11, day, tzinfo=UTC))
    letters = delivery.dead_letters(settings_ctx(LocalDeadLetters(tmp_path, ["q"])), limit=2)
    assert letters["event_id"].tolist() == ["e-5", "e-4"]


def test_a_message_whose_body_is_not_an_event_is_still_a_row(tmp_path, settings_ctx):
    """An SQS queue takes any body (on AWS anyone with access can send one): a body that is
    not a JSON object shows as itself, with no event fields, beside the others."""
    queue = LocalDeadLetterQueue(tmp_path / "q.jsonl")
    queue.send({"id": "e-1", "detail": {"a": 1}}, {}, datetime(2026, 11, 1, tzinfo=UTC))
    queue.send(["not", "an", "event"], {}, datetime(2026, 11, 2, tzinfo=UTC))  # type: ignore[arg-type]
    queue.send("just text", {}, datetime(2026, 11, 3, tzinfo=UTC))  # type: ignore[arg-type]
    with queue.path.open("a") as raw:  # a body that is not JSON at all
        raw.write(
            json.dumps(
                {
                    "MessageId": "m-4",
                    "Body": "{broken",
                    "Attributes": {},
                    "SentTimestamp": "2026-11-04T00:00:00+00:00",
                }
            )
            + "\n"
        )
    letters = delivery.dead_letters(settings_ctx(LocalDeadLetters(tmp_path, ["q"])))
    assert letters["event_id"].tolist() == ["", "", "", "e-1"]
    assert letters["detail"].tolist() == ["{broken", '"just text"', '["not", "an", "event"]', '{"a":1}']


def test_no_dead_letters(tmp_path, settings_ctx):
    ctx = settings_ctx(LocalDeadLetters(tmp_path, ["crm-webhook-dlq"]))
    assert delivery.dead_letters(ctx).empty
    assert delivery.dlq_summary(delivery.dead_letters(ctx), {}).empty


# --- the full metric set, latency, PutEvents ------------------------------------------------


def test_every_rule_metric_has_its_column():
    metrics = metric_rows(
        *[("crm", name, float(i + 1), float(i + 1)) for i, name in enumerate(delivery.COUNTS)]
    )
    row = delivery.rule_health(metrics, targets={"crm": "crm-webhook (http → crm-webhook-dlq)"}).iloc[0]
    assert [row[column] for column in delivery.COUNT_COLUMNS.values()] == [float(i + 1) for i in range(10)]
    assert row["targets"] == "crm-webhook (http → crm-webhook-dlq)"
    assert list(delivery.rule_health(metrics).columns) == delivery.HEALTH_COLUMNS


def test_rules_with_equal_failure_rates_rank_by_failures_then_dead_letters():
    metrics = metric_rows(
        ("a", "Invocations", 10, 10),
        ("b", "Invocations", 10, 10),
        ("c", "Invocations", 20, 20),
        ("c", "FailedInvocations", 2, 2),
        ("b", "InvocationsSentToDlq", 1, 1),
    )
    assert delivery.rule_health(metrics)["rule"].tolist() == ["c", "b", "a"]


PERCENTILES = pd.DataFrame(
    {
        "rule": ["crm", "crm"],
        "metric": list(delivery.LATENCIES),
        "p50": [40.0, 60.0],
        "p90": [90.0, 140.0],
        "p99": [900.0, 1500.0],
    }
)


@pytest.mark.parametrize(
    ("percentiles", "first", "p99"),
    [
        pytest.param(
            PERCENTILES,
            ("crm", "Ingestion to invocation success"),
            [1500.0, 900.0, None],
            id="percentiles-slowest-p99-first",
        ),
        pytest.param(None, ("lake", "Ingestion to invocation start"), [None, None, None], id="means-only"),
    ],
)
def test_latency_table(percentiles, first, p99):
    metrics = metric_rows(
        ("crm", "IngestionToInvocationStartLatency", 100.0, 3),
        ("crm", "IngestionToInvocationSuccessLatency", 200.0, 3),
        ("lake", "IngestionToInvocationStartLatency", 250.0, 1),
        ("quiet", "IngestionToInvocationStartLatency", 0.0, 0),
    )
    table = delivery.latency_table(metrics, percentiles)
    assert list(table.columns) == delivery.LATENCY_COLUMNS
    assert (table.loc[0, "rule"], table.loc[0, "latency"]) == first
    assert "quiet" not in set(table["rule"])  # no samples, no row
    assert [None if pd.isna(v) else v for v in table["p99"]] == p99
    assert (
        table.set_index(["rule", "latency"]).loc[("crm", "Ingestion to invocation start"), "mean_ms"] == 100.0
    )


def test_latency_means_are_weighted_by_samples_across_periods():
    metrics = metric_rows(
        ("crm", "IngestionToInvocationStartLatency", 100.0, 1),
        ("crm", "IngestionToInvocationStartLatency", 10.0, 9),
    )
    assert delivery.latency_table(metrics).loc[0, "mean_ms"] == pytest.approx(19.0)


def put_rows(bus: str, *rows: tuple[str, float, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.Timestamp("2026-11-02", tz="UTC"),
            "metric": [r[0] for r in rows],
            "bus": bus,
            "rule": "",
            "value": [r[1] for r in rows],
            "samples": [r[2] for r in rows],
        }
    )


@pytest.mark.parametrize(
    ("frame", "entries"),
    [
        pytest.param(
            pd.concat(
                [
                    put_rows("", ("PutEventsEntriesCount", 7, 7)),
                    put_rows("verticals", ("PutEventsEntriesCount", 5, 5)),
                ]
            ),
            7.0,
            id="cloudwatch-no-dimension-wins",
        ),
        pytest.param(
            pd.concat(
                [
                    put_rows("verticals", ("PutEventsEntriesCount", 5, 5)),
                    put_rows("other-bus", ("PutEventsEntriesCount", 3, 3)),
                ]
            ),
            5.0,
            id="local-store-this-bus",
        ),
        pytest.param(put_rows("other-bus", ("PutEventsEntriesCount", 3, 3)), 0.0, id="another-bus-only"),
    ],
)
def test_account_rows(frame, entries):
    assert delivery.put_events_figures(delivery.account_rows(frame, "verticals")).entries == entries


def test_put_events_figures():
    frame = put_rows(
        "",
        ("PutEventsApproximateCallCount", 4, 4),
        ("PutEventsApproximateSuccessCount", 3, 3),
        ("PutEventsApproximateFailedCount", 1, 1),
        ("PutEventsApproximateThrottledCount", 2, 2),
        ("PutEventsEntriesCount", 40, 4),
        ("PutEventsFailedEntriesCount", 1, 1),
        ("PutEventsRequestSize", 8192, 4),
        ("PutEventsLatency", 30.0, 3),
        ("PutEventsLatency", 10.0, 1),
    )
    figures = delivery.put_events_figures(frame)
    assert (figures.calls, figures.succeeded, figures.failed, figures.throttled) == (4, 3, 1, 2)
    assert (figures.entries, figures.failed_entries, figures.mean_request_bytes) == (40, 1, 2048)
    assert figures.mean_latency_ms == pytest.approx(25.0)  # (30*3 + 10*1) / 4
    assert figures.trend == (40.0,) and figures.any


def test_no_put_events():
    figures = delivery.put_events_figures(put_rows("").iloc[0:0])
    assert not figures.any and figures.mean_request_bytes is None and figures.mean_latency_ms is None


def test_rule_targets_from_the_definition_with_the_lake_fan_out():
    from app.bus.definition import load_definition

    labels = delivery.rule_targets(
        load_definition(), ["crm-customer-signals", "lake-archive-orders", "api-made"]
    )
    assert labels == {
        "crm-customer-signals": "crm-webhook (http → crm-webhook-dlq)",
        "lake-archive-orders": "lake (lake → lake-dlq)",
    }


@pytest.mark.parametrize(
    ("arn", "name"),
    [
        pytest.param(
            "arn:aws:events:us-east-1:123456789012:api-destination/crm-webhook",
            "api-destination/crm-webhook",
            id="api-destination",
        ),
        pytest.param(
            "arn:aws:firehose:us-east-1:123456789012:deliverystream/verticals-lake",
            "verticals-lake",
            id="firehose",
        ),
        pytest.param("arn:aws:sqs:us-east-1:123456789012:payments-orders", "payments-orders", id="sqs"),
        pytest.param(
            "arn:aws:logs:us-east-1:123456789012:log-group:/verticals/ops-alerts",
            "verticals/ops-alerts",
            id="log-group",
        ),
        pytest.param("not-an-arn", "not-an-arn", id="not-an-arn"),
    ],
)
def test_target_name(arn, name):
    assert delivery.target_name(arn) == name


class FakeMetrics:
    """Returns the rows it holds inside [start, end), and percentiles when given some."""

    def __init__(self, frame: pd.DataFrame, percentiles: pd.DataFrame | None = None):
        self.frame, self.calls = frame, []
        if percentiles is not None:  # a source without the method gives means only
            self.latency_percentiles = lambda *args, **kwargs: percentiles

    def get(self, metrics, start, end, period_s, bus=None):
        self.calls.append((tuple(metrics), start, end, period_s, bus))
        frame = self.frame[self.frame["metric"].isin(metrics)]
        if bus is not None:
            frame = frame[frame["bus"] == bus]
        inside = (frame["timestamp"] >= pd.Timestamp(start)) & (frame["timestamp"] < pd.Timestamp(end))
        return frame[inside].reset_index(drop=True)


class FakeDeadLetters:
    def __init__(self, depth: dict[str, int]):
        self._depth = depth

    def queues(self):
        return list(self._depth)

    def depth(self, queue):
        return self._depth[queue]

    def peek(self, queue, limit=None):
        return []


def metrics_ctx(metrics, depth=None):
    from tests.services.conftest import NoEngine

    return Context(
        load_settings({}),
        NoEngine(),
        metrics,
        FakeDeadLetters(depth or {"crm-webhook-dlq": 0}),
        "local",
        "test",
        ("crm-customer-signals", "lake-archive"),
    )


def test_delivery_metrics_puts_the_pieces_together():
    at = pd.Timestamp("2026-11-02 10:00", tz="UTC")
    frame = pd.concat(
        [
            metric_rows(
                ("crm-customer-signals", "Invocations", 10, 10),
                ("crm-customer-signals", "FailedInvocations", 4, 4),
                ("crm-customer-signals", "IngestionToInvocationStartLatency", 120.0, 6),
            ),
            put_rows("verticals", ("PutEventsEntriesCount", 30, 3)),
        ]
    ).assign(timestamp=at)
    percentiles = PERCENTILES.assign(rule="crm-customer-signals", bus="verticals", samples=6.0)
    rng = custom_range(date(2026, 11, 2), date(2026, 11, 2))
    health = delivery.delivery_metrics(
        metrics_ctx(FakeMetrics(frame, percentiles), {"crm-webhook-dlq": 3}), rng
    )
    assert health.rules["rule"].tolist() == ["crm-customer-signals", "lake-archive"]
    assert health.rules.loc[0, ["invocations", "failed", "failure_rate"]].tolist() == [10, 4, 0.4]
    assert health.rules.loc[1, "targets"] == "lake (lake → lake-dlq)"
    start = health.latency[health.latency["latency"] == "Ingestion to invocation start"].iloc[0]
    assert (start["mean_ms"], start["p50"], start["p99"]) == (120.0, 40.0, 900.0)
    assert health.has_latency and health.has_percentiles
    assert health.put_events.entries == 30 and health.waiting == 3 and not health.is_empty
    assert health.lake_streams is None and not health.lake_failures  # no Firehose behind this source


def test_lake_stream_failures_point_at_their_error_prefix_only():
    streams = stream_frame(
        {"events": "prod-events", "orders": "prod-orders", "refunds": "prod-refunds"},
        {"fc1": {NOW: 3.0}, "ds1": {NOW: 1.0}, "ds2": {NOW: 0.0}, "ds0": {NOW: 1.0}, "df0": {NOW: 60.0}},
        {t: f"s3://lake/_firehose_errors/{t}/" for t in ("events", "orders", "refunds")},
    )
    assert streams["failed_conversion"].tolist() == [0.0, 3.0, 0.0]
    assert streams["delivery_failed"].tolist() == [False, False, True]
    assert streams["max_freshness_s"].iloc[0] == 60.0 and streams["max_freshness_s"].iloc[1:].isna().all()
    assert delivery.lake_failure_sentence(streams) == (
        "Firehose wrote the records it could not convert or deliver under "
        "s3://lake/_firehose_errors/orders/, s3://lake/_firehose_errors/refunds/."
    )
    empty = delivery.DeliveryMetrics(
        pd.DataFrame(), pd.DataFrame({"matched": []}), pd.DataFrame(), delivery.PutEventsFigures(), {}
    )
    assert empty.is_empty and not empty.lake_failures
    failing = replace(empty, lake_streams=streams)
    assert failing.lake_failures and not failing.is_empty  # a failing stream alone is worth the page
    quiet = replace(empty, lake_streams=streams.iloc[:1])
    assert not quiet.lake_failures and quiet.is_empty


def test_recent_activity_is_whole_minutes_of_the_last_hour_summed_over_rules():
    now = datetime(2026, 11, 2, 10, 30, 40, tzinfo=UTC)
    minute = pd.Timestamp("2026-11-02 10:29", tz="UTC")
    frame = pd.DataFrame(
        {
            "timestamp": [
                minute,
                minute,
                minute + pd.Timedelta(minutes=1),
                minute - pd.Timedelta(minutes=61),
                minute,
            ],
            "metric": ["Invocations", "Invocations", "Invocations", "Invocations", "FailedInvocations"],
            "bus": "verticals",
            "rule": ["a", "b", "a", "a", "a"],
            "value": [3.0, 4.0, 9.0, 5.0, 1.0],
            "samples": 1.0,
        }
    )
    metrics = FakeMetrics(frame)
    recent = delivery.recent_activity(metrics_ctx(metrics), now)
    assert recent[["metric", "value"]].to_dict("records") == [
        {"metric": "FailedInvocations", "value": 1.0},
        {"metric": "Invocations", "value": 7.0},
    ]
    assert recent["timestamp"].tolist() == [pd.Timestamp("2026-11-02 10:29")] * 2
    assert metrics.calls[0][3] == 60  # per minute


# --- redrive ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "sent", "failed", "missing", "sentence", "ok"),
    [
        pytest.param("local", 3, {}, (), "3 of 3 messages delivered again.", True, id="all-local"),
        pytest.param("aws", 1, {}, (), "1 of 1 message put back on the bus.", True, id="one-aws"),
        pytest.param(
            "local",
            1,
            {"m2": "SDK_CLIENT_ERROR: 503", "m3": "SDK_CLIENT_ERROR: 503"},
            ("m4",),
            "1 of 4 messages delivered again, 2 failed again and stay in q: "
            "SDK_CLIENT_ERROR: 503 (2), 1 was no longer in the queue.",
            False,
            id="mixed",
        ),
    ],
)
def test_redrive_report_sentence(backend, sent, failed, missing, sentence, ok):
    asked = sent + len(failed) + len(missing)
    report = delivery.RedriveReport("q", backend, asked, tuple(f"m{i}" for i in range(sent)), failed, missing)
    assert (report.sentence, report.ok) == (sentence, ok)


def test_redrive_question_names_count_queue_and_targets():
    letters = pd.DataFrame(
        {"rule": ["crm", "crm", "ops"], "target": ["api-destination/crm"] * 2 + ["ops-log"]}
    )
    assert delivery.redrive_question(letters, "crm-webhook-dlq") == (
        "Redrive 3 messages from crm-webhook-dlq to api-destination/crm (rule crm), ops-log (rule ops)?"
    )
    assert delivery.redrive_question(letters.iloc[:1], "q").startswith("Redrive 1 message from q")


def test_redrive_on_the_local_bus_delivers_and_keeps_what_failed_again(tmp_path):
    lake = tmp_path / "lake"
    dlq = LocalDeadLetterQueue(tmp_path / "bus" / "dlq" / "crm-webhook-dlq.jsonl")
    prefix = "arn:aws:events:us-east-1:123456789012:"
    event = {
        "version": "0",
        "id": "e-1",
        "source": "verticals.shop",
        "detail-type": "OrderPlaced",
        "account": "123456789012",
        "time": "2026-11-02T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"order_id": "o-1"},
    }
    to_queue = {
        "ERROR_CODE": "SDK_CLIENT_ERROR",
        "RULE_ARN": prefix + "rule/verticals/payments-on-order",
        "TARGET_ARN": "arn:aws:sqs:us-east-1:123456789012:payments-orders",
    }
    gone = {**to_queue, "TARGET_ARN": prefix + "api-destination/removed"}
    at = datetime(2026, 11, 2, 10, 5, tzinfo=UTC)
    delivered, stale = dlq.send(event, to_queue, at), dlq.send({**event, "id": "e-2"}, gone, at)
    ctx = context.build_context(load_settings({"VERTICALS_LAKE": str(lake)}))

    report = delivery.redrive(ctx, "crm-webhook-dlq", [delivered, stale, "no-such-id", delivered])

    assert (report.asked, report.sent, report.missing) == (3, (delivered,), ("no-such-id",))
    assert list(report.failed) == [stale] and "removed" in report.failed[stale]
    assert [letter.message_id for letter in dlq.peek()] == [stale]  # only the delivered one left
    assert "1 of 3 messages delivered again" in report.sentence


@pytest.mark.parametrize(
    ("first", "last", "stamps", "values"),
    [
        pytest.param(date(2026, 11, 2), date(2026, 11, 2), ["2026-11-02 10:00"], [7.0], id="a-day-hourly"),
        pytest.param(date(2026, 10, 1), date(2026, 11, 2), ["2026-11-02 00:00"], [7.0], id="a-month-daily"),
    ],
)
def test_chart_series_sums_counts_per_bucket_of_the_range(first, last, stamps, values):
    at = pd.Timestamp("2026-11-02 10:05", tz="UTC")
    metrics = metric_rows(("crm", "Invocations", 3, 3), ("crm", "Invocations", 4, 4)).assign(
        timestamp=[at, at + pd.Timedelta(minutes=30)]
    )
    series = delivery.chart_series(metrics, custom_range(first, last), "UTC")
    assert series["timestamp"].tolist() == [pd.Timestamp(s) for s in stamps]
    assert series["value"].tolist() == values


def test_chart_series_weights_latency_and_leaves_out_a_bucket_under_way():
    rows = [
        ("crm", "IngestionToInvocationStartLatency", 100.0, 1),
        ("crm", "IngestionToInvocationStartLatency", 10.0, 9),
        ("crm", "Invocations", 5, 5),
    ]
    metrics = metric_rows(*rows).assign(
        timestamp=[
            pd.Timestamp("2026-11-02 10:05", tz="UTC"),
            pd.Timestamp("2026-11-02 10:35", tz="UTC"),
            pd.Timestamp("2026-11-02 11:10", tz="UTC"),
        ]
    )
    rng = delivery.TimeRange(
        pd.Timestamp("2026-11-02 10:00", tz="UTC").to_pydatetime(),
        pd.Timestamp("2026-11-02 11:30", tz="UTC").to_pydatetime(),
        "custom",
        "",
    )
    series = delivery.chart_series(metrics, rng, "UTC")
    assert series[["metric", "value"]].to_dict("records") == [
        {"metric": "IngestionToInvocationStartLatency", "value": pytest.approx(19.0)}
    ]  # 11:00 is cut by the end


def test_equal_p99s_rank_by_mean():
    metrics = metric_rows(
        ("a", "IngestionToInvocationStartLatency", 0.0, 10),
        ("b", "IngestionToInvocationStartLatency", 20.0, 10),
    )
    percentiles = pd.DataFrame(
        {
            "rule": ["a", "b"],
            "metric": "IngestionToInvocationStartLatency",
            "p50": 0.5,
            "p90": 0.9,
            "p99": [0.99001, 0.98999],
        }
    )
    assert delivery.latency_table(metrics, percentiles)["rule"].tolist() == ["b", "a"]


@pytest.mark.dated
def test_percentiles_from_the_local_metrics_store(tmp_path):
    from app.metrics.local import MetricsRecorder

    lake = tmp_path / "lake"
    now = NOW
    recorder = MetricsRecorder(lake, "verticals")
    recorder.add_latencies(
        "IngestionToInvocationStartLatency",
        now.timestamp() - 600,
        [10.0] * 90 + [1000.0] * 10,
        rule="crm-customer-signals",
    )
    recorder.add("Invocations", now.timestamp() - 600, 100.0, rule="crm-customer-signals", samples=100.0)
    recorder.flush()
    ctx = context.build_context(load_settings({"VERTICALS_LAKE": str(lake)}))
    rng = delivery.TimeRange(now - pd.Timedelta(hours=1), now, "custom", "")

    latency = delivery.delivery_metrics(ctx, rng).latency.iloc[0]

    assert (latency["rule"], latency["samples"], latency["mean_ms"]) == ("crm-customer-signals", 100, 109.0)
    assert latency["p50"] == pytest.approx(10.0, rel=0.13) and latency["p99"] == pytest.approx(
        1000.0, rel=0.13
    )


def test_a_body_nested_too_deep_for_the_json_parser_is_still_a_row(tmp_path, settings_ctx):
    """Python's json parser gives up on deep nesting with RecursionError, not ValueError: an
    SQS body of 100,000 '[' (well under SQS's 256 KiB) must show as itself, not stop the page."""
    queue = LocalDeadLetterQueue(tmp_path / "q.jsonl")
    queue.send({"id": "e-1", "detail": {"a": 1}}, {}, datetime(2026, 11, 1, tzinfo=UTC))
    deep = "[" * 100_000
    with queue.path.open("a") as raw:
        sent = "2026-11-02T00:00:00+00:00"
        message = {"MessageId": "m-2", "Body": deep, "Attributes": {}, "SentTimestamp": sent}
        raw.write(json.dumps(message) + "\n")
    letters = delivery.dead_letters(settings_ctx(LocalDeadLetters(tmp_path, ["q"])))
    assert letters["event_id"].tolist() == ["", "e-1"]
    assert letters["detail"].tolist() == [deep[:200], '{"a":1}']
