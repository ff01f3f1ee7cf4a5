"""A tiny hand-written lake: a few orders followed through every department over three
days, written by the real LakeWriter. Small enough to reason about row by row, and it
fills every lake table, so each saved query has rows to return.

The realistic lake is the shared ``seeded_lake`` fixture in tests/conftest.py.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path

from app.departments import SOURCE_OF_DETAIL_TYPE
from app.lake.writer import LakeWriter

FIXTURE_END = date(2026, 3, 4)  # a Wednesday; the lake holds FIXTURE_END - 2 .. FIXTURE_END


def event(detail_type: str, day: date, hour: float, **detail) -> dict:
    moment = datetime.combine(day, time()) + timedelta(hours=hour)
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{detail_type}/{day}/{hour}/{detail}")),
        "detail-type": detail_type,
        "source": SOURCE_OF_DETAIL_TYPE[detail_type],
        "account": "123456789012",
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def _order(
    day: date,
    hour: float,
    n: int,
    region: str,
    line: str,
    quantity: int,
    price: float,
    channel: str = "web",
    customer: str | None = None,
) -> dict:
    return event(
        "OrderPlaced",
        day,
        hour,
        order_id=f"o{n}",
        customer_id=customer or f"c{n % 3}",
        region=region,
        channel=channel,
        product_line=line,
        sku=f"{line[:3].upper()}-00{n % 4}",
        quantity=quantity,
        unit_price=price,
        amount=quantity * price,
        currency="USD",
    )


def _fulfilled(day: date, hour: float, n: int, region: str, line: str, late: bool) -> list[dict]:
    """Paid, reserved, shipped the next morning, delivered the day after."""
    order_id, ship = f"o{n}", f"s{n}"
    return [
        event(
            "PaymentAuthorized",
            day,
            hour + 0.1,
            payment_id=f"p{n}",
            order_id=order_id,
            method="card",
            amount=100.0,
            currency="USD",
        ),
        event(
            "InventoryReserved",
            day,
            hour + 0.2,
            order_id=order_id,
            sku=f"{line[:3].upper()}-001",
            product_line=line,
            warehouse="WH-EAST",
            quantity=1,
            on_hand=40,
        ),
        event(
            "OrderShipped",
            day + timedelta(days=1),
            9,
            shipment_id=ship,
            order_id=order_id,
            warehouse="WH-EAST",
            carrier="UPS",
            region=region,
            promised_date=(day + timedelta(days=3)).isoformat(),
        ),
        event(
            "OrderDelivered",
            day + timedelta(days=2),
            15,
            shipment_id=ship,
            order_id=order_id,
            warehouse="WH-EAST",
            carrier="UPS",
            region=region,
            late=late,
            transit_hours=30.0,
        ),
    ]


def fixture_events(end: date = FIXTURE_END) -> list[dict]:
    d0, d1, d2 = (end - timedelta(days=k) for k in (2, 1, 0))
    return [
        _order(d0, 8, 1, "east", "chairs", 2, 140.0),
        *_fulfilled(d0, 8, 1, "east", "chairs", late=False),
        _order(d0, 9, 2, "west", "desks", 1, 380.0, "app"),
        *_fulfilled(d0, 9, 2, "west", "desks", late=True),
        _order(d1, 10, 3, "east", "lamps", 3, 55.0, "marketplace", customer="c1"),
        event(
            "PaymentFailed",
            d1,
            10.1,
            payment_id="p3",
            order_id="o3",
            method="paypal",
            amount=165.0,
            currency="USD",
            reason="insufficient_funds",
        ),
        event(
            "OrderCancelled",
            d1,
            11,
            order_id="o3",
            customer_id="c1",
            region="east",
            channel="marketplace",
            product_line="lamps",
            sku="LAM-003",
            quantity=3,
            unit_price=55.0,
            amount=165.0,
            currency="USD",
            reason="payment_failed",
        ),
        _order(d2, 7, 4, "central", "chairs", 1, 150.0, customer="c1"),
        event(
            "PaymentAuthorized",
            d2,
            7.1,
            payment_id="p4",
            order_id="o4",
            method="klarna",
            amount=150.0,
            currency="USD",
        ),
        event(
            "StockOut",
            d1,
            12,
            sku="CHA-001",
            product_line="chairs",
            warehouse="WH-EAST",
            quantity=0,
            on_hand=0,
        ),
        event(
            "StockReplenished",
            d2,
            6,
            sku="CHA-001",
            product_line="chairs",
            warehouse="WH-EAST",
            quantity=200,
            on_hand=200,
        ),
        event(
            "DeliveryDelayed",
            d2,
            8,
            shipment_id="s2",
            order_id="o2",
            warehouse="WH-EAST",
            carrier="UPS",
            region="west",
            delay_hours=20.0,
            reason="weather",
        ),
        event("RefundIssued", d2, 13, refund_id="r1", order_id="o2", amount=380.0, reason="damaged"),
        event(
            "CampaignLaunched",
            d0,
            0,
            campaign_id="m1",
            name="Spring chairs",
            channel="search",
            region="east",
            budget=5000.0,
            start_date=d0.isoformat(),
            end_date=d2.isoformat(),
        ),
        *[
            event(
                "CampaignSpend",
                d,
                23,
                campaign_id="m1",
                name="Spring chairs",
                channel="search",
                region="east",
                spend=300.0 + k,
                impressions=10_000,
                clicks=250,
            )
            for k, d in enumerate((d0, d1, d2))
        ],
        *[
            event(
                "CapacityPlanned",
                d,
                0,
                line_id="LINE-CHR",
                product_line="chairs",
                plan_date=d.isoformat(),
                capacity_units=100,
            )
            for d in (d0, d1, d2)
        ],
        event(
            "BatchStarted", d1, 6, line_id="LINE-CHR", product_line="chairs", batch_id="b1", planned_units=80
        ),
        event(
            "BatchCompleted",
            d1,
            14,
            line_id="LINE-CHR",
            product_line="chairs",
            batch_id="b1",
            units=76,
            scrap_units=4,
        ),
        event(
            "MachineDowntime",
            d1,
            9,
            line_id="LINE-CHR",
            product_line="chairs",
            machine_id="M-CHR-2",
            minutes=45.0,
            reason="jam",
        ),
        event(
            "TicketOpened",
            d1,
            12,
            ticket_id="t1",
            order_id="o3",
            customer_id="c1",
            cause="payment_failed",
            channel="chat",
            priority="high",
        ),
        event(
            "TicketResolved",
            d2,
            9,
            ticket_id="t1",
            order_id="o3",
            customer_id="c1",
            cause="payment_failed",
            channel="chat",
            priority="high",
            resolution_hours=21.0,
            satisfaction=4,
        ),
    ]


def write_fixture_lake(root: Path, end: date = FIXTURE_END) -> Path:
    LakeWriter(root).write(fixture_events(end))
    return root
