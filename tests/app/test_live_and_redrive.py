"""The live pages (a toggle, a refresh that reads afresh) and redriving dead letters from
the Delivery health page, each on a small lake of its own."""

from __future__ import annotations

import types
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app import ui
from app.bus.dlq import LocalDeadLetterQueue
from app.lake.writer import LakeWriter
from tests.app.apptest import open_page
from tests.instant import NOW

# The dead letters and the events are placed relative to NOW and read through date presets.
pytestmark = pytest.mark.dated

PREFIX = "arn:aws:events:us-east-1:123456789012:"
DELIVERABLE = {
    "ERROR_CODE": "SDK_CLIENT_ERROR",
    "ERROR_MESSAGE": "Target answered HTTP 503",
    "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
    "RETRY_ATTEMPTS": "3",
    "RULE_ARN": PREFIX + "rule/verticals/payments-on-order",
    "TARGET_ARN": "arn:aws:sqs:us-east-1:123456789012:payments-orders",
}
STALE = {**DELIVERABLE, "ERROR_CODE": "RESOURCE_NOT_FOUND", "TARGET_ARN": PREFIX + "api-destination/removed"}


def event(i: int, at: datetime) -> dict:
    return {
        "version": "0",
        "id": f"e-{i}",
        "source": "verticals.shop",
        "detail-type": "OrderPlaced",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": {"order_id": f"o-{i}"},
    }


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def assert_clean(at) -> None:
    assert not at.exception, texts(at.exception)
    assert not at.error, texts(at.error)


@pytest.fixture
def dead_letters(on_empty_lake: Path) -> dict[str, list[str]]:
    """crm-webhook-dlq with three messages the bus can deliver again and one it cannot."""
    queue = LocalDeadLetterQueue(on_empty_lake.parent / "bus" / "dlq" / "crm-webhook-dlq.jsonl")
    sent = NOW - timedelta(hours=2)
    ok = [queue.send(event(i, sent), DELIVERABLE, sent + timedelta(seconds=i)) for i in range(3)]
    stale = [queue.send(event(9, sent), STALE, sent + timedelta(seconds=9))]
    return {"ok": ok, "stale": stale}


PICK = "dlq_pick:{}:crm-webhook-dlq"


def waiting(at) -> str:
    return next(m.value for m in at.metric if m.label == "Dead letters waiting")


def test_dead_letters_are_listed_with_their_attributes(dead_letters):
    at = open_page("delivery_health", {"range": "24h"})
    assert_clean(at)
    assert waiting(at) == "4"
    table = at.dataframe(key="dlq_table:0:crm-webhook-dlq").value
    assert set(table["message_id"]) == {*dead_letters["ok"], *dead_letters["stale"]}
    first = table.set_index("message_id").loc[dead_letters["ok"][0]]
    assert (
        first["ERROR_CODE"],
        first["ERROR_MESSAGE"],
        first["EXHAUSTED_RETRY_CONDITION"],
        first["RETRY_ATTEMPTS"],
        first["rule"],
        first["target"],
    ) == (
        "SDK_CLIENT_ERROR",
        "Target answered HTTP 503",
        "MaximumRetryAttempts",
        3,
        "payments-on-order",
        "payments-orders",
    )
    assert at.button(key="dlq_redrive").disabled  # nothing picked yet


def test_error_code_filter_and_select_all(dead_letters):
    at = open_page("delivery_health", {"range": "24h"})
    at.multiselect(key="dlq_codes:crm-webhook-dlq").set_value(["RESOURCE_NOT_FOUND"]).run()
    assert (
        at.dataframe(key="dlq_table:0:crm-webhook-dlq").value["message_id"].tolist() == dead_letters["stale"]
    )
    at.button(key="dlq_all").click().run()
    assert at.multiselect(key=PICK.format(0)).value == dead_letters["stale"]
    assert at.button(key="dlq_redrive").label == "Redrive 1 message…"


def test_redrive_asks_first_then_reports_what_was_delivered_and_what_failed_again(dead_letters):
    at = open_page("delivery_health", {"range": "24h"})
    picked = [*dead_letters["ok"], *dead_letters["stale"]]
    at.multiselect(key=PICK.format(0)).set_value(picked).run()
    at.button(key="dlq_redrive").click().run()
    assert_clean(at)
    question = texts(at.warning)
    assert question == [
        "Redrive 4 messages from crm-webhook-dlq to api-destination/removed (rule payments-on-order), "
        "payments-orders (rule payments-on-order)?"
    ]
    assert waiting(at) == "4"  # nothing happened yet

    at.button(key="dlq_confirm").click().run()
    assert_clean(at)
    report = texts(at.warning)
    assert len(report) == 1 and report[0].startswith(
        "3 of 4 messages delivered again, 1 failed again and stay in crm-webhook-dlq: "
        "rule 'payments-on-order' has no target"
    )
    assert waiting(at) == "1"
    table = at.dataframe(key="dlq_table:1:crm-webhook-dlq").value
    assert table["message_id"].tolist() == dead_letters["stale"]
    assert at.multiselect(key=PICK.format(1)).value == []


def test_cancel_leaves_the_queue_alone(dead_letters):
    at = open_page("delivery_health", {"range": "24h"})
    at.multiselect(key=PICK.format(0)).set_value(dead_letters["ok"][:1]).run()
    at.button(key="dlq_redrive").click().run()
    assert texts(at.warning)[0].startswith("Redrive 1 message from crm-webhook-dlq")
    at.button(key="dlq_cancel").click().run()
    assert_clean(at)
    assert not at.warning and waiting(at) == "4"


def test_a_redrive_of_everything_says_so(dead_letters):
    at = open_page("delivery_health", {"range": "24h"})
    at.multiselect(key=PICK.format(0)).set_value(dead_letters["ok"]).run()
    at.button(key="dlq_redrive").click().run()
    at.button(key="dlq_confirm").click().run()
    assert texts(at.success) == ["3 of 3 messages delivered again."]
    assert waiting(at) == "1"


@pytest.mark.parametrize(
    ("page", "query", "key", "live"),
    [
        pytest.param("event_rates", {"range": "24h"}, "rates_live:short", True, id="rates-day"),
        pytest.param("event_rates", {"range": "7d"}, "rates_live:long", False, id="rates-week"),
        pytest.param("delivery_health", {"range": "24h"}, "delivery_live:short", True, id="delivery-day"),
        pytest.param(
            "delivery_health",
            {"from": "2026-11-01", "to": "2026-11-03"},
            "delivery_live:long",
            False,
            id="delivery-custom-days",
        ),
    ],
)
def test_live_is_on_by_default_only_for_a_day(page, query, key, live, on_empty_lake):
    at = open_page(page, query)
    assert_clean(at)
    assert at.toggle(key=key).value is live


class Clock:
    """Stands in for ``time`` in app.ui: the refresh tick moves only when a test says so."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


def events_kpi(at) -> int:
    return int(next(m.value for m in at.metric if m.label == "Events").replace(",", ""))


def test_a_live_refresh_reads_new_events_and_a_still_page_keeps_its_cache(on_empty_lake, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(ui, "time", types.SimpleNamespace(time=clock.time))
    writer = LakeWriter(on_empty_lake)
    now = NOW
    writer.write([event(i, now - timedelta(minutes=30)) for i in range(5)])

    at = open_page("event_rates", {"range": "24h"})
    assert_clean(at)
    assert events_kpi(at) == 5 and any(c.value.startswith("Live:") for c in at.main.caption)
    writer.write([event(i, now - timedelta(minutes=20)) for i in range(5, 8)])
    at.run()
    assert events_kpi(at) == 5  # the same refresh tick: the cached figure
    clock.now += ui.LIVE_EVERY_S
    at.run()
    assert events_kpi(at) == 8  # the next tick reads the lake again

    at.toggle(key="rates_live:short").set_value(False).run()
    assert not any(c.value.startswith("Live:") for c in at.main.caption)
    writer.write([event(i, now - timedelta(minutes=10)) for i in range(8, 10)])
    clock.now += ui.LIVE_EVERY_S
    at.run()
    assert events_kpi(at) == 8  # not live: the cache holds for cache_ttl


def test_rules_picked_without_metrics_in_the_range_are_told_so(dead_letters):
    """Dead letters keep the page past its empty state on days without metrics: it asked
    to pick rules while three were picked."""
    at = open_page("delivery_health", {"from": "1970-01-01", "to": "1970-01-02"})
    assert not at.exception and not at.error
    assert at.multiselect(key="delivery_rules").value  # rules are picked
    assert "The rules picked have no metrics in this range." in [i.value for i in at.info]
