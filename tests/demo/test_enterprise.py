import itertools
import json
import math
import re
import uuid
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from app.demo.enterprise import DayBatch, DemoConfig, Enterprise, write_ground_truth
from app.demo.orders import ORDER_CHAIN_TYPES
from app.demo.outages import PLANS
from app.demo.rows import format_times, format_uuids, new_uuids
from app.demo.world import holidays_of_year
from app.departments import DETAIL_TYPES, SOURCE_OF_DETAIL_TYPE, SOURCES
from app.lake.tables import ENVELOPE_COLUMNS, TABLE_FOR_DETAIL_TYPE
from tests.stats_bounds import LEVEL, max_abs_z

END = date(2026, 3, 31)
SMALL = DemoConfig(days=60, events_per_day=2_000, seed=11, end=END)
ENVELOPE_KEYS = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
TIME_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DATE_PATTERN = re.compile(r"^\d{4}-\d\d-\d\d$")
ENVELOPE_NAMES = {c.name for c in ENVELOPE_COLUMNS}


@pytest.fixture(scope="module")
def enterprise():
    return Enterprise(SMALL)


@pytest.fixture(scope="module")
def batches(enterprise):
    return list(enterprise.day_batches())


@pytest.fixture(scope="module")
def events(batches):
    return [e for b in batches for e in b.events]


@pytest.fixture(scope="module")
def truth(enterprise):
    return enterprise.ground_truth()


@pytest.fixture(scope="module")
def season():
    """Four months at a small scale: campaigns with a clean pre-period and controls."""
    enterprise = Enterprise(DemoConfig(days=120, events_per_day=1_500, seed=5, end=END))
    return enterprise.ground_truth(), [e for b in enterprise.day_batches() for e in b.events]


@pytest.fixture(scope="module")
def year():
    return Enterprise(DemoConfig(days=365, events_per_day=2_000, seed=3, end=date(2026, 6, 30)))


def moment(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def of_type(events, detail_type):
    return [e for e in events if e["detail-type"] == detail_type]


def daily_orders(events):
    """(region, date) -> orders placed."""
    counts = Counter()
    for e in of_type(events, "OrderPlaced"):
        counts[e["detail"]["region"], e["time"][:10]] += 1
    return counts


# --- determinism and shape ------------------------------------------------------------------


def test_same_config_draws_identical_events_ids_included(events):
    again = [e for b in Enterprise(SMALL).day_batches() for e in b.events]
    assert again == events


@pytest.mark.parametrize(
    "kept",
    [
        pytest.param({"OrderPlaced", "CampaignSpend", "BatchCompleted"}, id="no-order-consequences"),
        pytest.param({"OrderPlaced", "OrderShipped", "MachineDowntime"}, id="with-a-consequence"),
        pytest.param({"CartAbandoned"}, id="carts-only"),
    ],
)
def test_kept_detail_types_are_exactly_the_whole_simulations_events_of_those_types(events, kept):
    only = Enterprise(replace(SMALL, detail_types=frozenset(kept)))
    assert [e for b in only.day_batches() for e in b.events] == [
        e for e in events if e["detail-type"] in kept
    ]
    assert only.ground_truth() == Enterprise(SMALL).ground_truth()


def test_budgets_grow_with_the_enterprise_and_nothing_else_about_the_campaigns_changes(truth):
    assert DemoConfig.events_per_day == 12_000  # the scale BUDGET_RANGE is for
    bigger = Enterprise(replace(SMALL, events_per_day=3 * SMALL.events_per_day)).ground_truth()["campaigns"]
    assert len(bigger) == len(truth["campaigns"])
    for small, big in zip(truth["campaigns"], bigger, strict=True):
        assert big["budget"] == pytest.approx(3 * small["budget"], abs=200)  # each rounded to hundreds
        assert {k: v for k, v in big.items() if k != "budget"} == {
            k: v for k, v in small.items() if k != "budget"
        }


def test_the_order_chain_draws_exactly_its_declared_types(events):
    from_orders = {e["detail-type"] for e in events} - {
        t
        for t, source in SOURCE_OF_DETAIL_TYPE.items()
        if source in ("verticals.marketing", "verticals.production")
    }
    assert from_orders == ORDER_CHAIN_TYPES


def test_another_seed_draws_other_events(events):
    other = Enterprise(DemoConfig(days=3, events_per_day=2_000, seed=12, end=END - timedelta(days=57)))
    first = next(other.day_batches()).events
    assert {e["id"] for e in first}.isdisjoint(e["id"] for e in events)


def test_one_batch_per_day_oldest_first_each_in_time_order(batches):
    assert [b.date for b in batches] == [END - timedelta(days=59 - i) for i in range(60)]
    for batch in batches:
        assert isinstance(batch, DayBatch)
        times = [e["time"] for e in batch.events]
        assert times == sorted(times)
        assert {t[:10] for t in times} == {batch.date.isoformat()}


def test_every_event_is_an_eventbridge_envelope(events):
    for e in events:
        assert set(e) == ENVELOPE_KEYS
        assert e["version"] == "0" and e["account"] == SMALL.account and e["region"] == SMALL.region
        assert e["source"] == SOURCE_OF_DETAIL_TYPE[e["detail-type"]]
        assert TIME_PATTERN.match(e["time"])
        assert isinstance(e["resources"], list) and all(isinstance(r, str) for r in e["resources"])
        assert isinstance(e["detail"], dict)
    assert len({e["id"] for e in events}) == len(events)
    assert {uuid.UUID(e["id"]).version for e in events[:1000]} == {4}


def test_events_survive_json(events):
    assert json.loads(json.dumps(events[:5000])) == events[:5000]


def test_every_department_and_detail_type_appears(events):
    kinds = Counter(e["detail-type"] for e in events)
    assert set(kinds) == set(DETAIL_TYPES) and len(kinds) >= 15
    assert {e["source"] for e in events} == set(SOURCES) and len(SOURCES) == 8


def _accepts(column_type, value):
    checks = {
        "string": lambda v: isinstance(v, str),
        "bigint": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
        "boolean": lambda v: isinstance(v, bool),
        "date": lambda v: isinstance(v, str) and DATE_PATTERN.match(v) and date.fromisoformat(v),
    }
    return checks[column_type](value)


@pytest.mark.parametrize("detail_type", [t for t in DETAIL_TYPES if t != "CartAbandoned"])
def test_detail_keys_are_the_columns_of_the_table_the_type_feeds(events, detail_type):
    table = TABLE_FOR_DETAIL_TYPE[detail_type]
    columns = {c.key: c for c in table.columns if c.name not in ENVELOPE_NAMES}
    sample = of_type(events, detail_type)
    assert sample
    for e in sample:
        assert set(e["detail"]) <= set(columns), set(e["detail"]) - set(columns)
        for key, value in e["detail"].items():
            assert _accepts(columns[key].type, value), (detail_type, key, value)


@pytest.mark.parametrize(
    "table",
    sorted({t.name: t for t in TABLE_FOR_DETAIL_TYPE.values()}.values(), key=lambda t: t.name),
    ids=lambda t: t.name,
)
def test_every_column_of_every_entity_table_is_filled_by_some_detail_type(events, table):
    keys = {k for e in events if e["detail-type"] in table.detail_types for k in e["detail"]}
    assert keys == {c.key for c in table.columns if c.name not in ENVELOPE_NAMES}


@pytest.mark.parametrize(
    "detail_type, keys",
    [
        pytest.param(
            "OrderPlaced",
            {
                "order_id",
                "customer_id",
                "region",
                "channel",
                "product_line",
                "sku",
                "quantity",
                "unit_price",
                "amount",
                "currency",
            },
            id="order-placed",
        ),
        pytest.param(
            "OrderCancelled", {"order_id", "region", "amount", "reason"}, id="order-cancelled-reason"
        ),
        pytest.param("CartAbandoned", {"cart_id", "customer_id", "region", "amount"}, id="cart-abandoned"),
        pytest.param(
            "PaymentFailed", {"payment_id", "order_id", "method", "amount", "reason"}, id="payment-failed"
        ),
        pytest.param(
            "MachineDowntime", {"line_id", "product_line", "machine_id", "minutes", "reason"}, id="downtime"
        ),
        pytest.param(
            "OrderShipped", {"shipment_id", "order_id", "carrier", "warehouse", "promised_date"}, id="shipped"
        ),
        pytest.param(
            "OrderDelivered", {"shipment_id", "late", "transit_hours", "promised_date"}, id="delivered"
        ),
        pytest.param("DeliveryDelayed", {"shipment_id", "delay_hours", "reason"}, id="delayed"),
        pytest.param(
            "CapacityPlanned", {"line_id", "product_line", "plan_date", "capacity_units"}, id="capacity"
        ),
        pytest.param("BatchCompleted", {"line_id", "batch_id", "units", "scrap_units"}, id="batch-completed"),
        pytest.param(
            "CampaignSpend",
            {"campaign_id", "region", "channel", "spend", "impressions", "clicks"},
            id="spend",
        ),
        pytest.param(
            "CampaignLaunched", {"campaign_id", "budget", "start_date", "end_date", "region"}, id="launched"
        ),
        pytest.param(
            "TicketResolved",
            {"ticket_id", "order_id", "cause", "resolution_hours", "satisfaction"},
            id="ticket",
        ),
        pytest.param(
            "StockOut",
            {"order_id", "sku", "product_line", "warehouse", "quantity", "on_hand"},
            id="stock-out",
        ),
    ],
)
def test_detail_carries_what_its_type_needs(events, detail_type, keys):
    sample = of_type(events, detail_type)
    assert sample and all(keys <= set(e["detail"]) for e in sample)
    if detail_type == "CartAbandoned":
        assert all(set(e["detail"]) == keys for e in sample)


# --- causality --------------------------------------------------------------------------------


def test_every_order_event_follows_its_orders_placement(events):
    placed = {e["detail"]["order_id"]: e["time"] for e in of_type(events, "OrderPlaced")}
    children = [e for e in events if "order_id" in e["detail"] and e["detail-type"] != "OrderPlaced"]
    assert len(children) > len(placed)
    for e in children:
        assert e["detail"]["order_id"] in placed, e
        assert e["time"] > placed[e["detail"]["order_id"]], e


@pytest.mark.parametrize(
    "parent, child, always",
    [
        pytest.param("PaymentAuthorized", "InventoryReserved", True, id="paid-then-reserved"),
        pytest.param("InventoryReserved", "OrderShipped", True, id="reserved-then-shipped"),
        pytest.param("OrderShipped", "OrderDelivered", True, id="shipped-then-delivered"),
        pytest.param("OrderShipped", "DeliveryDelayed", True, id="shipped-then-delayed"),
        pytest.param("DeliveryDelayed", "OrderDelivered", False, id="delayed-then-delivered"),
        pytest.param("OrderDelivered", "RefundIssued", True, id="delivered-then-refunded"),
    ],
)
def test_chain_steps_happen_in_order(events, parent, child, always):
    """Each ``child`` comes after its order's ``parent`` (which it needs when ``always``)."""
    first = {e["detail"]["order_id"]: e["time"] for e in of_type(events, parent)}
    later = [e for e in of_type(events, child) if always or e["detail"]["order_id"] in first]
    assert later
    for e in later:
        assert e["detail"]["order_id"] in first and e["time"] > first[e["detail"]["order_id"]]


def test_tickets_are_resolved_after_they_are_opened(events):
    opened = {e["detail"]["ticket_id"]: e["time"] for e in of_type(events, "TicketOpened")}
    for e in of_type(events, "TicketResolved"):
        assert e["time"] > opened[e["detail"]["ticket_id"]]


def test_some_failed_payments_are_retried_and_authorized(events):
    failed = {e["detail"]["order_id"] for e in of_type(events, "PaymentFailed")}
    retried = {
        e["detail"]["order_id"]
        for e in of_type(events, "PaymentAuthorized")
        if e["detail"]["payment_id"].endswith("-2")
    }
    assert retried and retried <= failed


def test_bank_transfers_fail_more_than_cards(events):
    first = [
        e
        for e in events
        if e["detail-type"].startswith("Payment") and e["detail"].get("payment_id", "").endswith("-1")
    ]
    rate = {
        m: np.mean([e["detail-type"] == "PaymentFailed" for e in first if e["detail"]["method"] == m])
        for m in ("card", "bank_transfer")
    }
    assert rate["bank_transfer"] > 2 * rate["card"]


def test_delayed_deliveries_are_mostly_late(events):
    delayed = {e["detail"]["order_id"] for e in of_type(events, "DeliveryDelayed")}
    delivered = of_type(events, "OrderDelivered")
    late_when_delayed = np.mean(
        [e["detail"]["late"] for e in delivered if e["detail"]["order_id"] in delayed]
    )
    late_otherwise = np.mean(
        [e["detail"]["late"] for e in delivered if e["detail"]["order_id"] not in delayed]
    )
    assert late_when_delayed > 0.5 and 0.01 < late_otherwise < 0.2


def test_ticket_causes_match_what_happened_to_the_order(events):
    late = {e["detail"]["order_id"] for e in of_type(events, "OrderDelivered") if e["detail"]["late"]}
    failed = {e["detail"]["order_id"] for e in of_type(events, "PaymentFailed")}
    refunded = {e["detail"]["order_id"]: e["detail"]["reason"] for e in of_type(events, "RefundIssued")}
    expected = {
        "late_delivery": late,
        "payment_failed": failed,
        "damaged": {o for o, r in refunded.items() if r == "damaged"},
        "refund": set(refunded),
    }
    tickets = [
        e for e in of_type(events, "TicketOpened") if e["time"] < "2026-03-10"
    ]  # outcome known by the end
    for e in tickets:
        if e["detail"]["cause"] in expected:
            assert e["detail"]["order_id"] in expected[e["detail"]["cause"]], e
    assert {e["detail"]["cause"] for e in tickets} >= set(expected)


def test_stock_outs_are_replenished_later(events):
    outs = [e for e in of_type(events, "StockOut") if e["time"] < "2026-03-29"]  # refilled within 36 hours
    refills = of_type(events, "StockReplenished")
    assert outs and refills
    for out in outs:
        pool = (out["detail"]["product_line"], out["detail"]["warehouse"])
        assert any(
            (r["detail"]["product_line"], r["detail"]["warehouse"]) == pool and r["time"] > out["time"]
            for r in refills
        )


def test_no_event_after_the_window_but_the_simulation_goes_on(enterprise, events):
    assert max(e["time"] for e in events) < "2026-04-01"
    later = enterprise.events_between(datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 4, 1, 6, tzinfo=UTC))
    assert later and all("2026-04-01T00" <= e["time"] < "2026-04-01T06" for e in later)
    assert {e["detail-type"] for e in later} >= {"OrderPlaced", "OrderDelivered", "OrderShipped"}


# --- events_between -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, end",
    [
        pytest.param(datetime(2026, 2, 10, 13, 17, 5), datetime(2026, 2, 12, 4), id="across-days"),
        pytest.param(
            datetime(2026, 3, 31, 23, 0),
            datetime(2026, 3, 31, 23, 59, 59, 500_000),
            id="fraction-of-a-second",
        ),
        pytest.param(datetime(2026, 1, 31), datetime(2026, 2, 2), id="first-days"),
        pytest.param(datetime(2025, 12, 1), datetime(2026, 1, 31, 1), id="before-the-start"),
    ],
)
def test_events_between_is_the_slice_of_the_day_batches(events, start, end):
    low = start.strftime("%Y-%m-%dT%H:%M:%SZ")  # the windows start on whole seconds
    # Event times are whole seconds: t < 23:59:59.5 is t < 00:00:00 of the next second.
    high = (end + timedelta(microseconds=999_999)).strftime("%Y-%m-%dT%H:%M:%SZ")
    wanted = [e for e in events if low <= e["time"] < high]
    assert Enterprise(SMALL).events_between(start, end) == wanted
    assert wanted or start.year == 2025


def test_a_live_publisher_draws_only_the_new_days_cohort(monkeypatch):
    live = Enterprise(SMALL)
    drawn = []
    original = live.simulate_day
    monkeypatch.setattr(live, "simulate_day", lambda day: drawn.append(day) or original(day))
    window = (datetime(2026, 4, 2, 23, 55, tzinfo=UTC), datetime(2026, 4, 3, 0, 0, tzinfo=UTC))
    first = live.events_between(*window)
    assert len(drawn) == len(set(drawn)) == 46  # the day and the 45 before it
    assert live.events_between(*window) == first and len(drawn) == 46
    after_midnight = live.events_between(window[1], window[1] + timedelta(minutes=5))
    assert after_midnight and drawn[46:] == [(date(2026, 4, 3) - date(1970, 1, 1)).days]
    assert live.events_between(window[1], window[0]) == []


# --- demand and campaigns ---------------------------------------------------------------------


def test_mean_events_per_day_is_the_configured_scale(batches):
    middle = [len(b.events) for b in batches[7:-7]]  # the first days have no deliveries yet
    assert abs(np.mean(middle) / SMALL.events_per_day - 1) < 0.08


def test_weekends_sell_more_than_weekdays(events):
    per_day = Counter(e["time"][:10] for e in of_type(events, "OrderPlaced"))
    weekend = [n for d, n in per_day.items() if date.fromisoformat(d).weekday() >= 5]
    weekday = [n for d, n in per_day.items() if date.fromisoformat(d).weekday() <= 2]
    assert np.mean(weekend) / np.mean(weekday) > 1.15


def test_daily_orders_are_poisson_around_the_expected_count(enterprise, events):
    counts = daily_orders(events)
    ratios = []
    for day in range(enterprise.first_day, enterprise.last_day + 1):
        expected = enterprise.expected_orders(day)
        when = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
        ratios += [
            (counts[r, when] - mu) ** 2 / mu
            for r, mu in zip(enterprise.ground_truth()["regions"], expected, strict=True)
        ]
    assert 0.8 < np.mean(ratios) < 1.25  # variance / mean of a Poisson count is 1


def test_demand_peaks_in_the_fourth_quarter_and_on_black_friday(year):
    def total(day):
        return year.expected_orders((day - date(1970, 1, 1)).days, with_campaigns=False).sum()

    december, june = total(date(2025, 12, 9)), total(date(2026, 6, 9))  # both Tuesdays
    assert december > 1.2 * june
    assert total(date(2025, 11, 28)) > 1.8 * total(date(2025, 11, 21))  # Black Friday vs a Friday


def _lift_estimate(counts, truth, campaign, pre_days=21):
    """Difference in differences: the campaign's region in its effect window against the
    three weeks before its start, relative to the regions no campaign touched in either."""
    lag = timedelta(days=campaign["lag_days"])
    start, end = (date.fromisoformat(campaign[k]) for k in ("start_date", "end_date"))
    effect = [start + lag + timedelta(days=i) for i in range((end - start).days + 1)]
    before = [start - timedelta(days=pre_days - i) for i in range(pre_days)]
    if before[0] < date.fromisoformat(truth["start"]) or effect[-1] > date.fromisoformat(truth["end"]):
        return None
    touched = {
        c["region"]
        for c in truth["campaigns"]
        if c["campaign_id"] != campaign["campaign_id"]
        and date.fromisoformat(c["start_date"]) <= effect[-1]
        and date.fromisoformat(c["end_date"]) + timedelta(days=c["lag_days"]) >= before[0]
    }
    controls = [r for r in truth["regions"] if r not in touched | {campaign["region"]}]
    if campaign["region"] in touched or not controls:
        return None

    def total(regions, days):
        return sum(counts[r, d.isoformat()] for r in regions for d in days)

    treated = (total([campaign["region"]], effect), total([campaign["region"]], before))
    control = (total(controls, effect), total(controls, before))
    estimate = treated[0] / treated[1] / (control[0] / control[1]) - 1
    standard_error = math.sqrt(sum(1 / n for n in treated + control))
    return estimate, standard_error


def test_campaigns_lift_their_regions_orders_as_planted(season):
    truth, events = season
    counts = daily_orders(events)
    checked = [(c["lift"], *found) for c in truth["campaigns"] if (found := _lift_estimate(counts, truth, c))]
    # The property tests/analytics/test_seeded.py bounds too: k z-scores all within
    # Φ⁻¹(1 − LEVEL / 2k) (was 3 for each).
    bound = max_abs_z(len(checked))
    assert all(abs(estimate - lift) <= bound * se for lift, estimate, se in checked), (bound, checked)
    # Power: some campaign planted above 3 se is estimated clearly above zero. Each such
    # estimate is at or below c se with probability at most Φ(c − 3); with j of them all
    # are with probability Φ(c − 3)^j ≤ LEVEL when c = 3 + Φ⁻¹(LEVEL^(1/j)) (j = 2: 1.14;
    # was 2, which a valid estimate failed with probability up to 0.16² ≈ 0.025).
    strong = [(estimate, se) for lift, estimate, se in checked if lift > 3 * se]
    assert strong, checked
    c = 3 + stats.norm.ppf(LEVEL ** (1 / len(strong)))
    assert any(estimate > c * se for estimate, se in strong), (c, checked)


def test_a_year_of_campaigns_is_planted_as_specified(year):
    campaigns = year.ground_truth()["campaigns"]
    assert 20 <= len(campaigns) <= 32
    by_id = {c["campaign_id"]: c for c in campaigns}
    assert all(re.match(r"^CMP-20\d\d-\d{3}$", c) for c in by_id)
    for c in campaigns:
        days = (date.fromisoformat(c["end_date"]) - date.fromisoformat(c["start_date"])).days + 1
        assert 7 <= days <= 28 and 0 <= c["lag_days"] <= 7
        assert c["lift"] == 0.0 or 0.08 <= c["lift"] <= 0.30
        assert c["region"] in year.ground_truth()["regions"]
        for other in c["overlaps"]:
            o = by_id[other]
            assert o["region"] == c["region"] and c["campaign_id"] in o["overlaps"]
            assert o["start_date"] <= c["end_date"] and c["start_date"] <= o["end_date"]
    assert any(c["lift"] == 0.0 for c in campaigns)
    assert 1 <= sum(bool(c["overlaps"]) for c in campaigns) // 2 <= 3


def test_spend_adds_up_to_the_ended_total_within_budget(events):
    spend = defaultdict(float)
    for e in of_type(events, "CampaignSpend"):
        spend[e["detail"]["campaign_id"]] += e["detail"]["spend"]
    ended = of_type(events, "CampaignEnded")
    assert ended
    for e in ended:
        assert e["detail"]["spend"] == pytest.approx(spend[e["detail"]["campaign_id"]], abs=0.05)
        assert 0.9 * e["detail"]["budget"] <= e["detail"]["spend"] <= e["detail"]["budget"]


@pytest.mark.parametrize(
    "year_, name, day",
    [
        pytest.param(2025, "Black Friday", date(2025, 11, 28), id="black-friday-2025"),
        pytest.param(2026, "Thanksgiving", date(2026, 11, 26), id="thanksgiving-2026"),
        pytest.param(2026, "Memorial Day sale", date(2026, 5, 25), id="memorial-day-2026"),
        pytest.param(2026, "Labor Day sale", date(2026, 9, 7), id="labor-day-2026"),
        pytest.param(2026, "Presidents' Day sale", date(2026, 2, 16), id="presidents-day-2026"),
        pytest.param(2026, "Cyber Monday", date(2026, 11, 30), id="cyber-monday-2026"),
    ],
)
def test_holidays_fall_on_their_dates(year_, name, day):
    assert {h.name: h.day for h in holidays_of_year(year_)}[name] == day


# --- production ---------------------------------------------------------------------------------


def test_lines_plan_their_base_capacity_and_downtime_costs_output(events, truth):
    planned = {
        (e["detail"]["line_id"], e["detail"]["plan_date"]): e["detail"]["capacity_units"]
        for e in of_type(events, "CapacityPlanned")
    }
    assert len(planned) == 5 * 60
    assert all(
        units == truth["capacities"][line]["base_capacity_units"] for (line, _), units in planned.items()
    )
    made = Counter()
    for e in of_type(events, "BatchCompleted"):
        made[e["detail"]["batch_id"]] += e["detail"]["units"] + e["detail"]["scrap_units"]
    started = {e["detail"]["batch_id"]: e["detail"]["planned_units"] for e in of_type(events, "BatchStarted")}
    stopped = {e["detail"]["batch_id"] for e in of_type(events, "MachineDowntime")}
    assert stopped
    for batch, units in made.items():
        assert (units < started[batch]) if batch in stopped else (units == started[batch]), batch


def test_capacity_is_short_of_demand_at_the_seasonal_peak(year):
    truth = year.ground_truth()
    shares = truth["product_lines"]
    black_friday = date(2025, 11, 28)
    day = (black_friday - date(1970, 1, 1)).days
    orders = year.expected_orders(day).sum()
    short = [
        line
        for line, c in truth["capacities"].items()
        if orders * shares[c["product_line"]] > c["base_capacity_units"]
    ]
    assert short  # orders alone (each at least one unit) outrun some line's capacity


# --- outages and ground truth ---------------------------------------------------------------------


def test_crm_webhook_is_down_in_several_windows_some_of_them_recent(year):
    windows = [(moment(a), moment(b)) for a, b in year.ground_truth()["outages"]["crm-webhook"]]
    assert 6 <= len(windows) <= 12
    assert sum(a.date() > year.end - timedelta(days=7) for a, _ in windows) >= 2
    for a, b in windows:
        assert timedelta(minutes=20) <= b - a <= timedelta(hours=6)
        assert year.consumer_is_down("crm-webhook", a + (b - a) / 2)
        assert year.consumer_is_down("crm-webhook", a) and not year.consumer_is_down("crm-webhook", b)
    assert len(year.ground_truth()["outages"]["attribution-api"]) <= 3
    assert not year.consumer_is_down("nobody", windows[0][0])


def test_outages_never_overlap_and_cover_little_time(year):
    for consumer in PLANS:
        windows = year.outages.windows[consumer]
        assert all(a[1] < b[0] for a, b in itertools.pairwise(windows))
    down = sum(
        b - a
        for a, b in year.outages.between("crm-webhook", year.first_day * 86400, (year.last_day + 1) * 86400)
    )
    assert down < 0.02 * 365 * 86400


def test_ground_truth_round_trips_through_the_file_beside_the_lake(enterprise, truth, tmp_path):
    lake = tmp_path / "data" / "lake"
    path = write_ground_truth(enterprise, lake)
    assert path == tmp_path / "data" / "ground_truth.json"
    assert json.loads(path.read_text()) == truth
    assert [p.name for p in path.parent.iterdir()] == ["ground_truth.json"]
    assert {
        "seed",
        "days",
        "events_per_day",
        "start",
        "end",
        "campaigns",
        "capacities",
        "outages",
        "holidays",
    } <= set(truth)
    assert truth["start"] == "2026-01-31" and truth["end"] == "2026-03-31"
    assert {h["name"] for h in truth["holidays"]} == {"Presidents' Day sale"}


# --- formatting helpers ---------------------------------------------------------------------------


def test_uuids_format_like_the_standard_library():
    raw = new_uuids(np.random.default_rng(1), 50)
    assert format_uuids(raw) == [str(uuid.UUID(bytes=bytes(r))) for r in raw]
    assert {uuid.UUID(bytes=bytes(r)).version for r in raw} == {4}


@pytest.mark.parametrize(
    "seconds, text",
    [
        pytest.param(0, "1970-01-01T00:00:00Z", id="epoch"),
        pytest.param(1_767_225_599, "2025-12-31T23:59:59Z", id="new-years-eve"),
        pytest.param(1_772_323_200, "2026-03-01T00:00:00Z", id="midnight"),
    ],
)
def test_times_format_like_eventbridge(seconds, text):
    assert format_times(np.array([seconds])) == [text]
