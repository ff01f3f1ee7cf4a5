"""The local bus core: routing, targets' outcomes, retries, dead letters, metrics, PutEvents."""

import itertools
import json
import random
from collections import Counter
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from app.bus.definition import load_definition, parse_definition
from app.bus.local import LocalBus, backoff_s
from app.events import ValidationException

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
CONSUMER_URL = "http://consumer.test/events"


def definition(retry=None, dlq="consumer-dlq"):
    target = {"id": "consumer", "kind": "http", "endpoint": "consumer", "retry": retry or {}}
    if dlq:
        target["dead_letter_queue"] = dlq
    return parse_definition(
        {
            "bus": "test-bus",
            "endpoints": {"consumer": {"url": CONSUMER_URL}},
            "dead_letter_queues": ["consumer-dlq"],
            "rules": [
                {
                    "name": "to-lake",
                    "pattern": {"source": [{"prefix": "verticals."}]},
                    "targets": [{"id": "lake", "kind": "lake"}],
                },
                {
                    "name": "orders-to-consumer",
                    "pattern": {"detail-type": ["OrderPlaced"]},
                    "targets": [target],
                },
                {
                    "name": "stock-log",
                    "pattern": {"detail-type": ["StockOut"]},
                    "targets": [{"id": "ops", "kind": "log", "log": "ops"}],
                },
            ],
        }
    )


class ScriptedConsumer:
    """An HTTP consumer that answers each call with the next status of a script."""

    def __init__(self, *statuses: int, then: int = 200):
        self.statuses = list(statuses)
        self.then = then
        self.calls: list[tuple[str, dict, datetime]] = []

    def __call__(self, url: str, event: dict, at: datetime) -> int:
        self.calls.append((url, json.loads(json.dumps(event)), at))
        return self.statuses.pop(0) if self.statuses else self.then


def entry(detail_type="OrderPlaced", source="verticals.shop", **detail):
    return {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail or {"order_id": "o1"})}


def lake_ids(lake):
    files = list((lake / "events").rglob("*.parquet"))
    return sorted(i for f in files for i in pq.read_table(f, columns=["id"]).column("id").to_pylist())


def make_bus(tmp_path, consumer, **definition_args):
    return LocalBus(definition(**definition_args), tmp_path / "lake", transport=consumer, seed=1)


# -- routing -----------------------------------------------------------------------------


def test_events_reach_exactly_the_targets_of_matching_rules(tmp_path):
    consumer = ScriptedConsumer()
    bus = make_bus(tmp_path, consumer)
    response = bus.put_events(
        [entry(), entry("StockOut", "verticals.erp"), entry("Other", "elsewhere")], now=NOW
    )
    ids = [e["EventId"] for e in response["Entries"]]
    assert response["FailedEntryCount"] == 0
    assert lake_ids(tmp_path / "lake") == sorted(ids[:2])  # "elsewhere" matches no rule
    assert [call[1]["id"] for call in consumer.calls] == [ids[0]]
    logged = [
        json.loads(line)["id"] for line in (tmp_path / "bus" / "logs" / "ops.jsonl").read_text().splitlines()
    ]
    assert logged == [ids[1]]


def test_a_disabled_rule_matches_nothing(tmp_path):
    raw = {
        "rules": [
            {
                "name": "off",
                "state": "DISABLED",
                "pattern": {"source": ["a"]},
                "targets": [{"id": "lake", "kind": "lake"}],
            }
        ]
    }
    bus = LocalBus(parse_definition(raw), tmp_path / "lake")
    bus.put_events([entry(source="a")], now=NOW)
    assert lake_ids(tmp_path / "lake") == []


def test_the_repository_definition_loads_and_routes_an_order_to_its_rules(tmp_path):
    bus = LocalBus(load_definition(), tmp_path / "lake", transport=ScriptedConsumer())
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "OrderPlaced",
        "source": "verticals.shop",
        "account": "1",
        "time": "2026-11-20T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"amount": 12.5},
    }
    assert sorted(bus.index.match(event)) == [
        "lake-archive",
        "marketing-attribution",
        "payments-on-order",
        "production-demand-signals",
    ]


def test_a_rule_can_be_replaced_and_removed(tmp_path):
    bus = make_bus(tmp_path, ScriptedConsumer())
    rule = bus.rules["stock-log"]
    bus.add_rule(type(rule)(rule.name, {"detail-type": ["StockReplenished"]}, rule.targets))
    event = {"detail-type": "StockReplenished", "source": "verticals.erp"}
    assert "stock-log" in bus.index.match(event)
    bus.remove_rule("stock-log")
    assert "stock-log" not in bus.index.match(event) and "stock-log" not in bus.rules


# -- HTTP outcomes, retries, dead letters --------------------------------------------------


@pytest.mark.parametrize(
    "statuses, attempts, dead, error_code, exhausted",
    [
        pytest.param([200], 1, False, None, None, id="2xx-delivered"),
        pytest.param([204], 1, False, None, None, id="204-delivered"),
        pytest.param([503, 500, 200], 3, False, None, None, id="5xx-retried-then-delivered"),
        pytest.param([429, 200], 2, False, None, None, id="429-retried-then-delivered"),
        pytest.param([400], 1, True, "CLIENT_ERROR", None, id="400-not-retried"),
        pytest.param([404], 1, True, "CLIENT_ERROR", None, id="404-not-retried"),
        pytest.param(
            [500] * 10, 4, True, "SDK_CLIENT_ERROR", "MaximumRetryAttempts", id="5xx-exhausts-retries"
        ),
        pytest.param([429] * 10, 4, True, "THROTTLING", "MaximumRetryAttempts", id="429-exhausts-retries"),
    ],
)
def test_http_outcomes_retries_and_dead_letters(tmp_path, statuses, attempts, dead, error_code, exhausted):
    consumer = ScriptedConsumer(*statuses)
    bus = make_bus(tmp_path, consumer, retry={"MaximumRetryAttempts": 3})
    event_id = bus.put_events([entry()], now=NOW)["Entries"][0]["EventId"]
    bus.run_due(None)
    assert len(consumer.calls) == attempts
    letters = bus.dlqs["consumer-dlq"].peek()
    assert len(letters) == int(dead)
    if dead:
        letter = letters[0]
        assert letter.event["id"] == event_id
        expected = {
            "ERROR_CODE": error_code,
            "RETRY_ATTEMPTS": str(attempts - 1),
            "RULE_ARN": "arn:aws:events:us-east-1:123456789012:rule/test-bus/orders-to-consumer",
            "TARGET_ARN": "arn:aws:events:us-east-1:123456789012:api-destination/consumer",
        }
        assert {k: letter.attributes[k] for k in expected} == expected
        assert letter.attributes["ERROR_MESSAGE"]
        assert letter.attributes.get("EXHAUSTED_RETRY_CONDITION") == exhausted


def test_retries_back_off_exponentially_with_jitter(tmp_path):
    consumer = ScriptedConsumer(then=500)
    bus = make_bus(tmp_path, consumer, retry={"MaximumRetryAttempts": 5})
    bus.put_events([entry()], now=NOW)
    bus.run_due(None)
    gaps = [(b[2] - a[2]).total_seconds() for a, b in itertools.pairwise(consumer.calls)]
    assert len(gaps) == 5
    for attempt, gap in enumerate(gaps, start=1):
        assert 0.5 * 2 ** (attempt - 1) <= gap <= 2 ** (attempt - 1)


def test_no_retry_is_due_before_its_backoff(tmp_path):
    consumer = ScriptedConsumer(500)
    bus = make_bus(tmp_path, consumer)
    bus.put_events([entry()], now=NOW)
    assert bus.run_due(NOW.timestamp() + 0.49) == 0 and len(consumer.calls) == 1
    assert bus.run_due(NOW.timestamp() + 1.0) == 1 and len(consumer.calls) == 2


def test_maximum_event_age_stops_retries(tmp_path):
    consumer = ScriptedConsumer(then=503)
    bus = make_bus(tmp_path, consumer, retry={"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 60})
    bus.put_events([entry()], now=NOW)
    bus.run_due(None)
    letter = bus.dlqs["consumer-dlq"].peek()[0]
    assert letter.attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert (consumer.calls[-1][2] - NOW).total_seconds() <= 60
    assert int(letter.attributes["RETRY_ATTEMPTS"]) == len(consumer.calls) - 1 < 185


def test_zero_retries_dead_letters_at_once(tmp_path):
    consumer = ScriptedConsumer(500)
    bus = make_bus(tmp_path, consumer, retry={"MaximumRetryAttempts": 0})
    bus.put_events([entry()], now=NOW)
    bus.run_due(None)
    assert len(consumer.calls) == 1
    assert bus.dlqs["consumer-dlq"].peek()[0].attributes["RETRY_ATTEMPTS"] == "0"


def test_without_a_dead_letter_queue_a_failed_event_is_dropped(tmp_path):
    bus = make_bus(tmp_path, ScriptedConsumer(400), dlq=None)
    bus.put_events([entry()], now=NOW)
    assert not (tmp_path / "bus" / "dlq" / "consumer-dlq.jsonl").exists()
    assert bus.pending == []


def test_backoff_is_capped_at_five_minutes():
    rng = random.Random(0)
    assert all(150 <= backoff_s(40, rng) <= 300 for _ in range(50))


# -- metrics -----------------------------------------------------------------------------


def recorded(bus, column="value"):
    """{(metric, rule): total} of what the bus's recorder would write (value or samples)."""
    points = bus.metrics.pending_points()
    return Counter(points.groupby(["metric", "rule"])[column].sum().to_dict())


def test_metrics_carry_cloudwatch_names_per_rule(tmp_path):
    bus = make_bus(tmp_path, ScriptedConsumer(500, 200, 500), retry={"MaximumRetryAttempts": 1})
    bus.put_events([entry(), entry(), {"Source": "aws.s3", "DetailType": "x", "Detail": "{}"}], now=NOW)
    bus.run_due(None)
    m = recorded(bus)
    rule = "orders-to-consumer"
    assert m[("MatchedEvents", rule)] == 2 and m[("TriggeredRules", rule)] == 2
    assert m[("MatchedEvents", "to-lake")] == 2 and m[("Invocations", "to-lake")] == 2
    # first order: 500, then 500 on its retry -> dead-lettered; second order: 200 at once
    assert m[("InvocationAttempts", rule)] == 3
    assert m[("RetryInvocationAttempts", rule)] == 1
    assert m[("SuccessfulInvocationAttempts", rule)] == 1
    assert m[("Invocations", rule)] == 2 and m[("FailedInvocations", rule)] == 1
    assert m[("InvocationsSentToDlq", rule)] == 1
    assert m[("PutEventsEntriesCount", "")] == 3 and m[("PutEventsFailedEntriesCount", "")] == 1
    assert m[("PutEventsApproximateCallCount", "")] == 1 and m[("PutEventsApproximateFailedCount", "")] == 1
    assert m[("IngestionToInvocationStartLatency", rule)] == 0.0
    assert ("IngestionToInvocationSuccessLatency", rule) in m


def test_metrics_flush_to_the_store_the_pages_read(tmp_path):
    from app.metrics.local import LocalMetricsSource

    bus = make_bus(tmp_path, ScriptedConsumer())
    bus.put_events([entry()], now=NOW)
    bus.flush()
    frame = LocalMetricsSource(tmp_path / "lake").get(["MatchedEvents"], NOW, NOW.replace(minute=5), 60)
    by_rule = frame.groupby("rule")["value"].sum().to_dict()
    assert by_rule == {"orders-to-consumer": 1.0, "to-lake": 1.0}


# -- hostile PutEvents input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, code",
    [
        pytest.param(
            {"Source": "verticals.shop", "DetailType": "X", "Detail": "{nope"},
            "MalformedDetail",
            id="malformed",
        ),
        pytest.param(
            {"Source": "aws.ec2", "DetailType": "X", "Detail": "{}"},
            "NotAuthorizedForSourceException",
            id="aws-source",
        ),
        pytest.param(entry(big="x" * 300_000), "InvalidArgument", id="oversized"),
        pytest.param({"DetailType": "X", "Detail": "{}"}, "InvalidArgument", id="no-source"),
        pytest.param({"Source": "s", "DetailType": 5, "Detail": "{}"}, "InvalidArgument", id="wrong-type"),
        pytest.param(["not", "an", "entry"], "InvalidArgument", id="not-an-object"),
    ],
)
def test_a_bad_entry_fails_alone_and_good_ones_in_the_call_are_delivered(tmp_path, bad, code):
    bus = make_bus(tmp_path, ScriptedConsumer())
    response = bus.put_events([entry(), bad, entry("StockOut", "verticals.erp")], now=NOW)
    assert response["FailedEntryCount"] == 1
    first, failed, last = response["Entries"]
    assert failed["ErrorCode"] == code and failed["ErrorMessage"] and "EventId" not in failed
    assert lake_ids(tmp_path / "lake") == sorted([first["EventId"], last["EventId"]])


@pytest.mark.parametrize(
    "entries", [pytest.param([entry()] * 11, id="eleven-entries"), pytest.param([], id="no-entries")]
)
def test_a_call_with_a_bad_entry_count_is_refused_whole(tmp_path, entries):
    bus = make_bus(tmp_path, ScriptedConsumer())
    with pytest.raises(ValidationException):
        bus.put_events(entries, now=NOW)
    assert lake_ids(tmp_path / "lake") == []


# -- virtual time (the seed path) ----------------------------------------------------------


def test_virtual_time_publishes_at_each_events_own_time(tmp_path):
    consumer = ScriptedConsumer()
    bus = LocalBus(
        definition(), tmp_path / "lake", transport=consumer, metrics_now=datetime(2025, 1, 2, 4, tzinfo=UTC)
    )  # 1-minute points are kept then
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "OrderPlaced",
        "source": "verticals.shop",
        "account": "1",
        "time": "2025-01-02T03:04:05Z",
        "region": "r",
        "resources": [],
        "detail": {},
    }
    bus.publish([event], virtual_time=True)
    assert consumer.calls[0][2] == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert lake_ids(tmp_path / "lake") == ["e1"]
    points = bus.metrics.pending_points()
    assert set(points.loc[points["metric"] == "MatchedEvents", "period"]) == {
        datetime(2025, 1, 2, 3, 4, tzinfo=UTC).timestamp()
    }


# -- what targets receive ------------------------------------------------------------------


def test_targets_receive_their_input_transformer_text_and_the_dlq_keeps_the_event(tmp_path):
    raw = {
        "bus": "test-bus",
        "endpoints": {"consumer": {"url": CONSUMER_URL}},
        "dead_letter_queues": ["dlq"],
        "rules": [
            {
                "name": "orders",
                "pattern": {"detail-type": ["OrderPlaced"]},
                "targets": [
                    {
                        "id": "http",
                        "kind": "http",
                        "endpoint": "consumer",
                        "dead_letter_queue": "dlq",
                        "retry": {"MaximumRetryAttempts": 0},
                        "input_transformer": {
                            "InputPathsMap": {"o": "$.detail.order_id"},
                            "InputTemplate": '{"order": <o>, "rule": <aws.events.rule-name>}',
                        },
                    },
                    {"id": "log", "kind": "log", "log": "orders", "input_path": "$.detail"},
                    {"id": "q", "kind": "queue", "queue": "orders", "input": '{"ping": true}'},
                ],
            }
        ],
    }
    consumer = ScriptedConsumer(500)
    bus = LocalBus(parse_definition(raw), tmp_path / "lake", transport=consumer)
    event_id = bus.put_events([entry(order_id="o7")], now=NOW)["Entries"][0]["EventId"]
    assert [json.loads(call[1]) for call in consumer.calls] == [{"order": "o7", "rule": "orders"}]
    assert (tmp_path / "bus" / "logs" / "orders.jsonl").read_text() == '{"order_id":"o7"}\n'
    assert list(bus.targets[("orders", "q")].messages) == ['{"ping": true}']
    assert bus.dlqs["dlq"].peek()[0].event["id"] == event_id  # dead letters hold the event itself


@pytest.mark.parametrize(
    "target, words",
    [
        pytest.param(
            {"id": "lake", "kind": "lake", "input_path": "$.detail"},
            "lake target takes whole events",
            id="lake-with-input-path",
        ),
        pytest.param(
            {"id": "q", "kind": "queue", "input_transformer": {"InputTemplate": '"<nope>"'}},
            "invalid placeholder nope",
            id="undefined-placeholder",
        ),
    ],
)
def test_the_definition_refuses_bad_target_inputs(target, words):
    from app.bus.definition import DefinitionError

    raw = {"rules": [{"name": "r", "pattern": {"source": ["a"]}, "targets": [target]}]}
    with pytest.raises(DefinitionError, match=words):
        parse_definition(raw)


# -- more metrics: throttles, latencies, PutEvents ---------------------------------------------


def test_a_429_counts_as_a_throttled_rule_invocation(tmp_path):
    bus = make_bus(tmp_path, ScriptedConsumer(429, 429, 200))
    bus.put_events([entry()], now=NOW)
    bus.run_due(None)
    m = recorded(bus)
    assert m[("ThrottledRules", "orders-to-consumer")] == 2
    assert m[("RetryInvocationAttempts", "orders-to-consumer")] == 2


def test_latencies_run_from_ingestion_to_the_start_of_delivery(tmp_path):
    bus = make_bus(tmp_path, ScriptedConsumer())
    _, accepted = bus.accept_entries([entry()], NOW)
    bus.publish(accepted, ingested_at=NOW, now=NOW.replace(second=2))  # waited 2 s to be delivered
    values, samples = recorded(bus), recorded(bus, "samples")
    points = {key: values[key] / samples[key] for key in values if key[0].startswith("IngestionTo")}
    assert points == {
        ("IngestionToInvocationStartLatency", "to-lake"): 2000.0,
        ("IngestionToInvocationSuccessLatency", "to-lake"): 2000.0,
        ("IngestionToInvocationStartLatency", "orders-to-consumer"): 2000.0,
        ("IngestionToInvocationSuccessLatency", "orders-to-consumer"): 2000.0,
    }


def test_batch_targets_in_virtual_time_record_zero_latency_samples(tmp_path):
    bus = LocalBus(
        definition(),
        tmp_path / "lake",
        transport=ScriptedConsumer(),
        metrics_now=datetime(2025, 1, 2, 4, tzinfo=UTC),
    )
    events = [
        {
            "version": "0",
            "id": f"e{i}",
            "detail-type": "StockOut",
            "source": "verticals.erp",
            "account": "1",
            "time": f"2025-01-02T03:0{i}:00Z",
            "region": "r",
            "resources": [],
            "detail": {},
        }
        for i in range(3)
    ]
    bus.publish(events, virtual_time=True)
    m = recorded(bus)
    samples = recorded(bus, "samples")[("IngestionToInvocationStartLatency", "to-lake")]
    assert samples == 3 and m[("IngestionToInvocationStartLatency", "to-lake")] == 0.0


def test_put_events_latency_is_recorded_per_call(tmp_path):
    bus = make_bus(tmp_path, ScriptedConsumer())
    bus.put_events([entry()], now=NOW)
    bus.put_events([entry()], now=NOW)
    samples = recorded(bus, "samples")[("PutEventsLatency", "")]
    assert samples == 2 and recorded(bus)[("PutEventsLatency", "")] > 0


# --- one bad event or target never stops the rest (the hostile probe's poison pills) ------


def test_half_a_utf16_pair_in_detail_is_that_entry_s_error_and_the_others_reach_the_lake(tmp_path):
    bus = LocalBus(definition(), tmp_path / "lake", transport=ScriptedConsumer())
    good = {"Source": "verticals.shop", "DetailType": "CartAbandoned", "Detail": '{"order_id": "ORD-1"}'}
    bad = {**good, "Detail": '{"order_id": "\\ud800"}'}  # valid JSON; no text UTF-8 can hold
    odd_source = {**good, "Source": "verticals.\ud800"}
    answer = bus.put_events([bad, good, odd_source], now=NOW)
    assert answer["FailedEntryCount"] == 2
    assert answer["Entries"][0]["ErrorCode"] == "MalformedDetail"
    assert answer["Entries"][2]["ErrorCode"] == "InvalidArgument"
    bus.flush()
    ids = pq.read_table(tmp_path / "lake" / "events", columns=["id"]).column("id").to_pylist()
    assert ids == [answer["Entries"][1]["EventId"]]  # the good one, once


def test_a_target_that_cannot_take_an_event_fails_that_delivery_alone(tmp_path, monkeypatch):
    consumer = ScriptedConsumer()
    bus = LocalBus(definition(), tmp_path / "lake", transport=consumer, seed=1)
    sink = bus.targets[("stock-log", "ops")]

    def broken(*args, **kwargs):
        raise ValueError("embedded null byte")  # what a log name with a NUL did

    monkeypatch.setattr(sink, "deliver", broken)
    entries = [
        {"Source": "verticals.erp", "DetailType": "StockOut", "Detail": "{}"},
        {"Source": "verticals.shop", "DetailType": "OrderPlaced", "Detail": '{"order_id": "ORD-9"}'},
    ]
    answer = bus.put_events(entries, now=NOW)  # raised before: every later rule went without
    assert answer["FailedEntryCount"] == 0
    bus.flush()
    assert [call[1]["detail-type"] for call in consumer.calls] == ["OrderPlaced"]
    stored = pq.read_table(tmp_path / "lake" / "events", columns=["detail_type"]).column("detail_type")
    assert sorted(stored.to_pylist()) == ["OrderPlaced", "StockOut"]


def test_an_event_of_year_one_is_rolled_up_with_the_rest(tmp_path):
    from app.lake.rollups import refresh_rollups, rolled_up_days

    bus = LocalBus(definition(), tmp_path / "lake", transport=ScriptedConsumer())
    early = {**entry("CartAbandoned"), "Time": "0001-01-01T00:00:00Z"}  # PutEvents takes years 1-9999
    assert bus.put_events([early, entry("CartAbandoned")], now=NOW)["FailedEntryCount"] == 0
    bus.flush()
    refresh_rollups(tmp_path / "lake", now=NOW)  # OverflowError before: no rollup refreshed again
    assert "0001-01-01" in rolled_up_days(tmp_path / "lake")


def test_a_pattern_with_half_a_utf16_pair_is_an_invalid_pattern_not_a_500(tmp_path):
    from app.bus.api import BusApi
    from app.bus.patterns.errors import InvalidEventPatternException
    from app.bus.rule_store import RuleStore

    bus = LocalBus(definition(), tmp_path / "lake", transport=ScriptedConsumer())
    api = BusApi(bus, RuleStore(tmp_path / "bus" / "rules.json"))
    with pytest.raises(InvalidEventPatternException, match="not valid Unicode"):
        api.put_rule({"Name": "odd", "EventPattern": '{"source": ["\ud800"]}'})
    assert "odd" not in bus.rules


@pytest.mark.parametrize(
    "arn",
    [
        pytest.param("http://a..b/", id="an-empty-host-label"),
        pytest.param("http://" + "h" * 70_000 + "/", id="a-host-of-70000-letters"),
        pytest.param("http://a:notaport/", id="a-port-that-is-no-number"),
        pytest.param("arn:aws:logs:us-east-1:123456789012:log-group:a\x00b", id="a-log-name-with-a-nul"),
    ],
)
def test_a_target_no_delivery_could_reach_is_refused_by_put_targets(tmp_path, arn):
    from app.bus.api import BusApi
    from app.bus.rule_store import RuleStore

    bus = LocalBus(definition(), tmp_path / "lake", transport=ScriptedConsumer())
    api = BusApi(bus, RuleStore(tmp_path / "bus" / "rules.json"))
    api.put_rule({"Name": "r", "EventPattern": '{"source": ["x"]}'})
    with pytest.raises(ValidationException, match=r"not a URL a request can go to|log group name"):
        api.put_targets({"Rule": "r", "Targets": [{"Id": "t", "Arn": arn}]})
    fine = [
        {"Id": "u", "Arn": "http://127.0.0.1:4020/events"},
        {"Id": "l", "Arn": "arn:aws:logs:us-east-1:123456789012:log-group:/verticals/ops"},
    ]
    assert api.put_targets({"Rule": "r", "Targets": fine})["FailedEntryCount"] == 0
