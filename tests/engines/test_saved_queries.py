"""Given the hand-written fixture lake (tests/fixtures_lake.py), each saved query returns
exactly these rows. The fixture: o1 (east, chairs) and o2 (west, desks) placed on day 0,
paid, reserved, shipped on day 1, delivered on day 2 (o2 late, after a 20 h delay); o3
(east, marketplace) fails payment on day 1 and is cancelled; o4 (central) is placed and
paid on day 2. Production makes 76 good chairs of 100 planned capacity on day 1."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from app.catalog import QUERIES_DIR, bind, load_query, resolve_params
from tests.fixtures_lake import FIXTURE_END

D0, D1, D2 = (str(FIXTURE_END - timedelta(days=k)) for k in (2, 1, 0))
PERIOD = {"period": f"{D0}..{D2}"}


def rows_of(engine, name: str, raw: dict) -> list[tuple]:
    query = load_query(QUERIES_DIR / f"{name}.sql")
    sql, params = bind(query, resolve_params(query, raw, FIXTURE_END))
    frame = engine.run(sql, params).frame
    return [tuple(_plain(v) for v in row) for row in frame.itertuples(index=False)]


def _plain(value):
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value) in ("<NA>", "NaT"):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


@pytest.mark.parametrize(
    "name, raw, expected",
    [
        pytest.param(
            "order_funnel",
            PERIOD,
            [(D0, 2, 2, 2, 2, 2, 100.0), (D1, 1, 0, 0, 0, 0, 0.0), (D2, 1, 1, 0, 0, 0, 0.0)],
            id="order_funnel",
        ),
        pytest.param(
            "late_deliveries",
            PERIOD,
            [("UPS", "west", 1, 1, 100.0, 1, 20.0, 30.0), ("UPS", "east", 1, 0, 0.0, 0, None, 30.0)],
            id="late_deliveries",
        ),
        pytest.param(
            "payment_failure_rate",
            PERIOD,
            [
                (D0, "card", 2, 0, 0.0, 0.0),
                (D1, "paypal", 1, 1, 100.0, 165.0),
                (D2, "klarna", 1, 0, 0.0, 0.0),
            ],
            id="payment_failure_rate",
        ),
        pytest.param(
            "stock_outs",
            PERIOD,
            [("CHA-001", "WH-EAST", "chairs", 1, f"{D1}T12:00:00+00:00", f"{D1}T12:00:00+00:00", 18.0)],
            id="stock_outs",
        ),
        pytest.param("stock_outs", {**PERIOD, "sku": "DSK-%"}, [], id="stock_outs-sku-pattern"),
        pytest.param(
            "capacity_utilisation",
            PERIOD,
            [
                (D0, "LINE-CHR", "chairs", 100, 0, 0, 0, 0.0),
                (D1, "LINE-CHR", "chairs", 100, 80, 76, 4, 76.0),
                (D2, "LINE-CHR", "chairs", 100, 0, 0, 0, 0.0),
            ],
            id="capacity_utilisation",
        ),
        pytest.param(
            "revenue_by_region_channel",
            {},
            [
                ("west", "app", 1, 380.0, 0.0, 380.0, 380.0),
                ("east", "web", 1, 280.0, 0.0, 280.0, 280.0),
                ("central", "web", 1, 150.0, 0.0, 150.0, 150.0),
                ("east", "marketplace", 1, 165.0, 165.0, 0.0, 165.0),
            ],
            id="revenue_by_region_channel-month-to-date",
        ),
        pytest.param(
            "cancellations_by_reason",
            PERIOD,
            [("payment_failed", "marketplace", 1, 165.0, 100.0)],
            id="cancellations_by_reason",
        ),
        pytest.param(
            "refunds_by_reason", PERIOD, [("damaged", 1, 380.0, 380.0, 100.0)], id="refunds_by_reason"
        ),
        pytest.param(
            "refunds_by_reason", {**PERIOD, "min_amount": "500"}, [], id="refunds_by_reason-min-amount"
        ),
        pytest.param(
            "top_customers",
            {**PERIOD, "top_n": "2"},
            [
                (1, "c1", 3, 595.0, f"{D0}T08:00:00+00:00", f"{D2}T07:00:00+00:00"),
                (2, "c2", 1, 380.0, f"{D0}T09:00:00+00:00", f"{D0}T09:00:00+00:00"),
            ],
            id="top_customers",
        ),
        pytest.param(
            "daily_orders_by_product_line",
            {**PERIOD, "regions": "east"},
            [(D0, "chairs", 1, 2, 280.0), (D1, "lamps", 1, 3, 165.0)],
            id="daily_orders_by_product_line-east",
        ),
        pytest.param(
            "campaign_spend_vs_orders",
            {"period": D1},
            [(D1, "east", 1, 301.0, 10_000, 250, 1, 165.0)],
            id="campaign_spend_vs_orders",
        ),
        pytest.param(
            "machine_downtime",
            PERIOD,
            [("LINE-CHR", "chairs", "M-CHR-2", "jam", 1, 45.0, 45.0, 45.0)],
            id="machine_downtime",
        ),
        pytest.param(
            "machine_downtime", {**PERIOD, "min_minutes": "60"}, [], id="machine_downtime-min-minutes"
        ),
    ],
)
def test_given_the_fixture_lake_expect_exactly(engine, name, raw, expected):
    assert rows_of(engine, name, raw) == expected
