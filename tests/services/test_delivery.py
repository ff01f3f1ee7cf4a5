import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from app.bus.dlq import LocalDeadLetterQueue, LocalDeadLetters
from app.services import delivery


def metric_rows(*rows: tuple[str, str, float, float]) -> pd.DataFrame:
    return pd.DataFrame({
        "timestamp": pd.Timestamp("2026-11-02", tz="UTC"), "metric": [r[1] for r in rows], "bus": "verticals",
        "rule": [r[0] for r in rows], "value": [r[2] for r in rows], "samples": [r[3] for r in rows]})


def test_worst_rule_first_and_silent_rules_listed():
    metrics = metric_rows(
        ("lake-archive", "Invocations", 1000, 1000), ("lake-archive", "FailedInvocations", 1, 1),
        ("crm", "Invocations", 100, 100), ("crm", "FailedInvocations", 10, 10),
        ("crm", "InvocationsSentToDlq", 10, 10), ("crm", "RetryInvocationAttempts", 30, 30),
    )
    table = delivery.rule_health(metrics, rules=("lake-archive", "crm", "ops-alerts"))
    assert table["rule"].tolist() == ["crm", "lake-archive", "ops-alerts"]
    assert table["failure_rate"].iloc[:2].tolist() == [0.1, 0.001]
    assert pd.isna(table["failure_rate"].iloc[2])  # no invocations: no rate, listed last
    assert table.loc[0, ["retries", "sent_to_dlq"]].tolist() == [30, 10]


def test_latency_is_weighted_by_samples():
    metrics = metric_rows(("crm", "IngestionToInvocationStartLatency", 100.0, 1),
                          ("crm", "IngestionToInvocationStartLatency", 10.0, 9))
    assert delivery.rule_health(metrics).loc[0, "latency_ms"] == pytest.approx(19.0)


def test_dead_letters_from_every_queue_newest_first(tmp_path, settings_ctx):
    folder = tmp_path / "dlq"
    event = {"id": "e-1", "source": "verticals.logistics", "detail-type": "OrderDelivered",
             "time": "2026-11-02T10:00:00Z", "detail": {"order_id": "ORD-1"}}
    attributes = {"ERROR_CODE": "SDK_CLIENT_ERROR", "ERROR_MESSAGE": "Target answered HTTP 503",
                  "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts", "RETRY_ATTEMPTS": "3",
                  "RULE_ARN": "arn:aws:events:us-east-1:123456789012:rule/verticals/crm-customer-signals",
                  "TARGET_ARN": "arn:aws:events:us-east-1:123456789012:api-destination/crm"}
    LocalDeadLetterQueue(folder / "crm-webhook-dlq.jsonl").send(event, attributes, datetime(2026, 11, 2, 10, tzinfo=UTC))
    LocalDeadLetterQueue(folder / "lake-dlq.jsonl").send({**event, "id": "e-2"}, {**attributes, "ERROR_CODE": "X"},
                                                         datetime(2026, 11, 3, 10, tzinfo=UTC))
    ctx = settings_ctx(LocalDeadLetters(folder, ["crm-webhook-dlq", "lake-dlq", "attribution-dlq"]))
    letters = delivery.dead_letters(ctx)
    assert letters["event_id"].tolist() == ["e-2", "e-1"]
    first = letters.iloc[1]
    assert (first["queue"], first["rule"], first["RETRY_ATTEMPTS"], first["detail"]) == (
        "crm-webhook-dlq", "crm-customer-signals", 3, json.dumps({"order_id": "ORD-1"}, separators=(",", ":")))
    summary = delivery.dlq_summary(letters, {"crm-webhook-dlq": 7, "lake-dlq": 1})
    assert summary[["queue", "waiting", "ERROR_CODE", "messages"]].to_dict("records") == [
        {"queue": "crm-webhook-dlq", "waiting": 7, "ERROR_CODE": "SDK_CLIENT_ERROR", "messages": 1},
        {"queue": "lake-dlq", "waiting": 1, "ERROR_CODE": "X", "messages": 1}]


def test_dead_letters_reads_the_newest_of_each_queue(tmp_path, settings_ctx):
    queue = LocalDeadLetterQueue(tmp_path / "q.jsonl")
    for day in range(1, 6):
        queue.send({"id": f"e-{day}"}, {}, datetime(2026, 11, day, tzinfo=UTC))
    letters = delivery.dead_letters(settings_ctx(LocalDeadLetters(tmp_path, ["q"])), limit=2)
    assert letters["event_id"].tolist() == ["e-5", "e-4"]


def test_no_dead_letters(tmp_path, settings_ctx):
    ctx = settings_ctx(LocalDeadLetters(tmp_path, ["crm-webhook-dlq"]))
    assert delivery.dead_letters(ctx).empty
    assert delivery.dlq_summary(delivery.dead_letters(ctx), {}).empty
