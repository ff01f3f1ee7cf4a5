"""Dead-letter redrive on the local bus: each message back to the target that failed it."""

import json
import threading
import time
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from app.bus.api import BusApi
from app.bus.dead_letter_source import LocalDeadLetters
from app.bus.definition import parse_definition
from app.bus.dlq import LocalDeadLetterQueue
from app.bus.local import LocalBus
from app.bus.rule_store import RuleStore

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
URL = "http://consumer.test/events"
RAW = {
    "bus": "test-bus",
    "endpoints": {"consumer": {"url": URL}},
    "dead_letter_queues": ["consumer-dlq", "lake-dlq"],
    "rules": [
        {
            "name": "orders",
            "pattern": {"detail-type": ["OrderPlaced"]},
            "targets": [
                {
                    "id": "consumer",
                    "kind": "http",
                    "endpoint": "consumer",
                    "dead_letter_queue": "consumer-dlq",
                    "retry": {"MaximumRetryAttempts": 0},
                }
            ],
        },
        {
            "name": "to-lake",
            "pattern": {"source": ["shop"]},
            "targets": [{"id": "lake", "kind": "lake", "dead_letter_queue": "lake-dlq"}],
        },
    ],
}
DEFINITION = parse_definition(RAW)


class Consumer:
    def __init__(self, status):
        self.status = status
        self.ids: list[str] = []

    def __call__(self, url, event, at):
        self.ids.append(event["id"])
        return self.status


def entry(n=1):
    return {"Source": "shop", "DetailType": "OrderPlaced", "Detail": json.dumps({"n": n})}


def failed_orders(tmp_path, count=2):
    """A bus whose consumer refused ``count`` orders: (bus, consumer, event ids, message ids)."""
    consumer = Consumer(500)
    bus = LocalBus(DEFINITION, tmp_path / "lake", transport=consumer)
    ids = [e["EventId"] for e in bus.put_events([entry(i) for i in range(count)], now=NOW)["Entries"]]
    letters = bus.dlqs["consumer-dlq"].peek()
    assert [letter.event["id"] for letter in letters] == ids
    return bus, consumer, ids, [letter.message_id for letter in letters]


def lake_ids(lake):
    return sorted(
        i
        for f in (lake / "events").rglob("*.parquet")
        for i in pq.read_table(f, columns=["id"])["id"].to_pylist()
    )


def test_redrive_delivers_to_the_failed_target_and_deletes_only_what_it_delivered(tmp_path):
    bus, consumer, ids, messages = failed_orders(tmp_path)
    consumer.status = 200
    result = bus.redrive("consumer-dlq", [messages[0], "no-such-message"])
    assert (result.sent, result.failed, result.missing) == ([messages[0]], {}, ["no-such-message"])
    assert consumer.ids[-1] == ids[0]  # the same event, only to the target that failed it
    assert [letter.message_id for letter in bus.dlqs["consumer-dlq"].peek()] == [messages[1]]
    assert lake_ids(tmp_path / "lake") == sorted(ids)  # the lake rule was not delivered again


def test_a_redrive_the_target_still_refuses_keeps_the_message(tmp_path):
    bus, _, _, messages = failed_orders(tmp_path, 1)
    result = bus.redrive("consumer-dlq", messages)
    assert result.sent == [] and result.failed == {messages[0]: "SDK_CLIENT_ERROR: Target answered HTTP 500"}
    assert bus.dlqs["consumer-dlq"].depth() == 1  # not dead-lettered a second time either


def test_a_message_whose_rule_lost_its_target_is_not_delivered(tmp_path):
    bus, _, _, messages = failed_orders(tmp_path, 1)
    bus.remove_rule("orders")
    result = bus.redrive("consumer-dlq", messages)
    assert "has no target" in result.failed[messages[0]] and bus.dlqs["consumer-dlq"].depth() == 1


def test_redriving_a_lake_letter_writes_the_event_once(tmp_path):
    bus = LocalBus(DEFINITION, tmp_path / "lake", transport=Consumer(200))
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "OrderPlaced",
        "source": "shop",
        "account": "1",
        "time": "2026-11-20T10:00:00Z",
        "region": "r",
        "resources": [],
        "detail": {},
    }
    attributes = {
        "RULE_ARN": bus.rule_arn("to-lake"),
        "TARGET_ARN": bus.target_arn(bus.rules["to-lake"].targets[0]),
    }
    first = bus.dlqs["lake-dlq"].send(event, attributes, NOW)
    second = bus.dlqs["lake-dlq"].send(event, attributes, NOW)  # the same event dead-lettered twice
    assert bus.redrive("lake-dlq", [first]).sent == [first]
    assert bus.redrive("lake-dlq", [second]).sent == [second]
    assert lake_ids(tmp_path / "lake") == ["e1"]


def test_an_unknown_queue_is_refused(tmp_path):
    bus = LocalBus(DEFINITION, tmp_path / "lake")
    with pytest.raises(ValueError, match="unknown dead-letter queue"):
        bus.redrive("nope", ["m"])


def totals(bus, rule):
    points = bus.metrics.pending_points()
    return points[points["rule"] == rule].groupby("metric")["value"].sum().to_dict()


def test_redrive_counts_its_invocations(tmp_path):
    bus, consumer, _, messages = failed_orders(tmp_path, 2)
    before = totals(bus, "orders")
    bus.redrive("consumer-dlq", messages[:1], now=NOW)
    consumer.status = 200
    bus.redrive("consumer-dlq", messages[1:], now=NOW)
    after = totals(bus, "orders")
    change = {m: after.get(m, 0) - before.get(m, 0) for m in after}
    assert {m: v for m, v in change.items() if v} == {
        "InvocationAttempts": 2,
        "Invocations": 2,
        "FailedInvocations": 1,
        "SuccessfulInvocationAttempts": 1,
    }


def test_local_dead_letters_has_the_sqs_interface_and_redrives_through_the_api_rules(tmp_path):
    lake = tmp_path / "lake"
    consumer = Consumer(500)
    bus = LocalBus(DEFINITION, lake, transport=consumer)
    api = BusApi(bus, RuleStore(tmp_path / "bus" / "rules.json"))
    api.call("PutRule", {"Name": "api-rule", "EventPattern": json.dumps({"source": ["shop"]})})
    api.call(
        "PutTargets",
        {
            "Rule": "api-rule",
            "Targets": [
                {
                    "Id": "t",
                    "Arn": "http://127.0.0.1:9/none",
                    "RetryPolicy": {"MaximumRetryAttempts": 0},
                    "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:123456789012:api-dlq"},
                }
            ],
        },
    )
    bus.put_events([entry()], now=NOW)
    letters = LocalDeadLetters.for_lake(lake, DEFINITION)
    assert letters.queues() == ["consumer-dlq", "lake-dlq", "api-dlq"]
    assert {q: letters.depth(q) for q in letters.queues()} == {"consumer-dlq": 1, "lake-dlq": 0, "api-dlq": 1}
    message = letters.peek("api-dlq", limit=1)[0]
    assert message.attributes["RULE_ARN"].endswith("/api-rule")
    result = letters.redrive("api-dlq", [message.message_id])  # port 9 refuses: it stays
    assert result.sent == [] and "HTTP 503" in result.failed[message.message_id]
    assert letters.depth("api-dlq") == 1


def test_a_message_sent_while_a_delete_runs_waits_and_is_kept(tmp_path):
    queue = LocalDeadLetterQueue(tmp_path / "q.jsonl")
    kept = queue.send({"id": "a"}, {}, NOW)
    gone = queue.send({"id": "b"}, {}, NOW)
    sender = threading.Thread(target=queue.send, args=({"id": "c"}, {}, NOW))
    with queue._locked():  # a delete in progress (another process, in real life)
        sender.start()
        time.sleep(0.2)
        assert queue.depth() == 2  # the sender waits for the lock
        assert sender.is_alive()
    sender.join(timeout=5)
    assert queue.delete({gone}) == 1
    assert [json.loads(m.body)["id"] for m in queue.peek()] == ["a", "c"] and queue.peek()[
        0
    ].message_id == kept


def test_the_redrive_command_reports_what_it_did(tmp_path, capsys):
    from app.__main__ import main

    failed_orders(tmp_path, 1)
    definition = tmp_path / "bus.yaml"
    closed_port = {**RAW, "endpoints": {"consumer": {"url": "http://127.0.0.1:9/events"}}}
    definition.write_text(json.dumps(closed_port))  # JSON is YAML
    command = [
        "bus",
        "redrive",
        "--lake",
        str(tmp_path / "lake"),
        "--definition",
        str(definition),
        "--queue",
        "consumer-dlq",
    ]
    assert main([*command, "--message-id", "missing-one"]) == 1
    assert "0 delivered again and deleted, 0 still failing, 1 not found" in capsys.readouterr().out
    assert main(command) == 1  # every message: nothing listens on port 9, so it stays
    assert "0 delivered again and deleted, 1 still failing" in capsys.readouterr().out
