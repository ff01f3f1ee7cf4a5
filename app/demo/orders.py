"""One day's orders and everything they cause, drawn with numpy for the whole day at once.

  OrderPlaced ─▶ PaymentAuthorized ─▶ InventoryReserved ─▶ OrderShipped ─▶ OrderDelivered ─▶ RefundIssued
       │     └▶ PaymentFailed (retried ─▶ PaymentAuthorized | given up ─▶ OrderCancelled)
       │                            └▶ StockOut ─▶ StockReplenished ─▶ InventoryReserved (or OrderCancelled)
       │                                             OrderShipped ─▶ DeliveryDelayed ─▶ OrderDelivered (late)
       └▶ OrderCancelled (customer, before shipping)          TicketOpened ─▶ TicketResolved (any problem)

Every child happens at least a second after its parent, so sorting by time keeps causes
first. Each day's stock is allocated per (product line, warehouse) pool; when a pool runs
dry the ERP says StockOut, later StockReplenished, and the orders in between wait (some
are cancelled). All delays are bounded so that an order's story ends within
``MAX_CHAIN_DAYS``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.demo.rows import DAY, HOUR, MINUTE, Rows, format_dates, make_rows
from app.demo.world import (
    HOUR_WEIGHTS,
    LINE_SHARES,
    MAX_QUANTITY,
    PRODUCT_LINES,
    REGION_NAMES,
    REGIONS,
    WAREHOUSES,
    Catalog,
    mean_quantity,
)

MAX_CHAIN_DAYS = 45  # no event is further than this from its order's day (checked)
CURRENCY = "USD"
CUSTOMERS = 400_000
SHOP_CHANNELS = ("web", "app", "marketplace")
SHOP_CHANNEL_SHARES = (0.55, 0.35, 0.10)
CART_ABANDON_RATIO = 0.6  # abandoned carts per order

METHODS = ("card", "paypal", "klarna", "bank_transfer", "gift_card")
METHOD_SHARES = (0.52, 0.22, 0.10, 0.10, 0.06)
FAIL_RATE = np.array([0.04, 0.03, 0.06, 0.15, 0.08])  # first attempt, by method
RETRY_SHARE = 0.6  # of failed payments, retried
RETRY_FAIL_FACTOR = 0.5  # a retry fails at half the method's rate
FAIL_REASONS = ("insufficient_funds", "card_declined", "fraud_suspected", "timeout", "bank_rejected")
FAIL_REASON_P = np.array(
    [  # by method
        [0.35, 0.40, 0.10, 0.15, 0.00],
        [0.40, 0.25, 0.15, 0.20, 0.00],
        [0.55, 0.20, 0.10, 0.15, 0.00],
        [0.20, 0.00, 0.05, 0.25, 0.50],
        [0.70, 0.20, 0.05, 0.05, 0.00],
    ]
)
CANCEL_AFTER_FAILURE = 0.6
CANCEL_REASONS = ("customer_request", "duplicate_order", "payment_failed", "out_of_stock")
CUSTOMER_CANCEL = 0.03
OUT_OF_STOCK_CANCEL = 0.2  # of orders waiting for a replenishment

CARRIERS = ("UPS", "FedEx", "DHL", "USPS")
CARRIER_P = np.array(
    [  # by region
        [0.35, 0.30, 0.15, 0.20],
        [0.30, 0.35, 0.20, 0.15],
        [0.40, 0.25, 0.10, 0.25],
        [0.25, 0.25, 0.20, 0.30],
        [0.20, 0.20, 0.25, 0.35],
    ]
)
CARRIER_MEDIAN_HOURS = np.array([30.0, 28.0, 38.0, 44.0])
DELAY_P = np.array([0.05, 0.04, 0.09, 0.12])
DELAY_REASONS = ("weather", "capacity", "address_issue", "vehicle_breakdown", "sorting_backlog")
REFUND_REASONS = ("damaged", "wrong_item", "returned", "late_delivery")
REFUND_P = {"damaged": 0.012, "wrong_item": 0.005, "returned": 0.02}
LATE_REFUND_P = 0.10  # of late deliveries

TICKET_CAUSES = ("late_delivery", "payment_failed", "damaged", "wrong_item", "refund", "other")
TICKET_CHANNELS = ("email", "chat", "phone")
TICKET_CHANNEL_P = np.array(
    [[0.5, 0.35, 0.15], [0.3, 0.4, 0.3], [0.5, 0.2, 0.3], [0.5, 0.3, 0.2], [0.6, 0.3, 0.1], [0.6, 0.3, 0.1]]
)
PRIORITIES = ("low", "normal", "high")
PRIORITY_P = np.array(
    [[0.2, 0.6, 0.2], [0.1, 0.4, 0.5], [0.05, 0.35, 0.6], [0.1, 0.6, 0.3], [0.3, 0.6, 0.1], [0.6, 0.35, 0.05]]
)
RESOLUTION_MEDIAN_HOURS = np.array([28.0, 12.0, 5.0])  # by priority
SATISFACTION_BASE = np.array([3.2, 3.4, 3.0, 3.3, 3.9, 4.1])  # by cause
TICKET_P = {
    "late_delivery": 0.30,
    "payment_failed": 0.35,
    "damaged": 0.85,
    "wrong_item": 0.90,
    "refund": 0.15,
    "other": 0.004,
}


def _objects(names: tuple[str, ...]) -> np.ndarray:
    return np.array(names, dtype=object)


LINE_NAMES = _objects(tuple(p.name for p in PRODUCT_LINES))
REGION_OBJECTS = _objects(REGION_NAMES)
WAREHOUSE_OBJECTS = _objects(WAREHOUSES)
REGION_WAREHOUSE = np.array([r.warehouse for r in REGIONS])
QUANTITY_P = np.array([p.quantity_p for p in PRODUCT_LINES])


def choose(rng: np.random.Generator, cdf_rows: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One category per item, item ``i`` drawn with the probabilities of row ``row[i]``."""
    u = rng.random(len(row))
    return np.minimum((u[:, None] >= cdf_rows[row]).sum(axis=1), cdf_rows.shape[1] - 1)


def cdf(probabilities) -> np.ndarray:
    table = np.cumsum(np.atleast_2d(np.asarray(probabilities, dtype=float)), axis=1)
    return table / table[:, -1:]


def between(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    """Whole seconds uniformly in ``[low, high)``."""
    return rng.uniform(low, high, n).astype(np.int64)


def seconds_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    hours = rng.choice(24, size=n, p=HOUR_WEIGHTS)
    return hours * HOUR + rng.integers(0, HOUR, n)


def with_prefix(prefix: str, order_ids: np.ndarray, suffix: str = "") -> np.ndarray:
    """Ids of things that belong to an order: ORD-20260115-000042 -> PAY-20260115-000042-1."""
    return np.array([prefix + o[3:] + suffix for o in order_ids.tolist()], dtype=object)


@dataclass(frozen=True)
class Orders:
    """One day's orders, one array element per order, sorted by the time they were placed."""

    ids: np.ndarray
    customers: np.ndarray
    region: np.ndarray
    channel: np.ndarray
    line: np.ndarray
    sku: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray
    amount: np.ndarray
    placed: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def columns(self, i: np.ndarray) -> dict[str, np.ndarray]:
        """The orders table's fields (OrderPlaced's detail) for the orders ``i``."""
        return {
            "order_id": self.ids[i],
            "customer_id": self.customers[i],
            "region": REGION_OBJECTS[self.region[i]],
            "channel": _objects(SHOP_CHANNELS)[self.channel[i]],
            "product_line": LINE_NAMES[self.line[i]],
            "sku": self.sku[i],
            "quantity": self.quantity[i],
            "unit_price": self.unit_price[i],
            "amount": self.amount[i],
            "currency": np.full(len(i), CURRENCY, dtype=object),
        }


def customer_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.array([f"CUST-{c:07d}" for c in rng.integers(1, CUSTOMERS, n).tolist()], dtype=object)


def draw_orders(rng: np.random.Generator, day: int, expected: np.ndarray, catalog: Catalog) -> Orders:
    """Poisson counts per region around ``expected``; times follow the hour-of-day profile."""
    region = np.repeat(np.arange(len(expected)), rng.poisson(expected))
    n = len(region)
    placed = day * DAY + seconds_of_day(rng, n)
    order = np.argsort(placed, kind="stable")
    region, placed = region[order], placed[order]
    line = rng.choice(len(PRODUCT_LINES), size=n, p=LINE_SHARES)
    sku = line * len(catalog.popularity_cdf) + np.searchsorted(catalog.popularity_cdf, rng.random(n))
    quantity = np.minimum(rng.geometric(QUANTITY_P[line]), MAX_QUANTITY)
    stamp = np.datetime_as_string(np.datetime64(day, "D")).replace("-", "")
    return Orders(
        np.array([f"ORD-{stamp}-{i:06d}" for i in range(1, n + 1)], dtype=object),
        customer_ids(rng, n),
        region,
        rng.choice(len(SHOP_CHANNELS), size=n, p=SHOP_CHANNEL_SHARES),
        line,
        catalog.skus[sku],
        quantity,
        catalog.prices[sku],
        np.round(quantity * catalog.prices[sku], 2),
        placed,
    )


@dataclass
class Payments:
    authorized_at: np.ndarray  # time of the authorization, -1 if never authorized
    failed_at: np.ndarray  # time of the last failure of an order that was never authorized, else -1


@dataclass
class Stock:
    reserved_at: np.ndarray  # -1 if never reserved
    on_hand: np.ndarray  # units left in the pool after the order's reservation
    cancelled_at: np.ndarray  # cancelled while waiting for stock, else -1
    events: list[Rows]


# What the orders of a day cause (carts abandoned included): everything but production and marketing.
ORDER_CHAIN_TYPES = frozenset(
    {
        "OrderPlaced",
        "PaymentAuthorized",
        "PaymentFailed",
        "InventoryReserved",
        "StockOut",
        "StockReplenished",
        "OrderCancelled",
        "OrderShipped",
        "OrderDelivered",
        "DeliveryDelayed",
        "RefundIssued",
        "TicketOpened",
        "TicketResolved",
        "CartAbandoned",
    }
)


class OrderChain:
    """Draws the consequences of a day's orders, step by step, collecting rows."""

    def __init__(self, rng: np.random.Generator, day: int, orders: Orders, stock_plan: np.ndarray):
        self.rng, self.day, self.orders = rng, day, orders
        self.stock_plan = stock_plan  # (lines, warehouses): units the ERP expects to reserve today
        self.rows: list[Rows] = []

    def emit(self, detail_type: str, times: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        if len(times):
            self.rows.append(make_rows(self.rng, detail_type, times, columns))

    def place(self) -> None:
        o = self.orders
        self.emit("OrderPlaced", o.placed, o.columns(np.arange(len(o))))

    def run(self) -> list[Rows]:
        o = self.orders
        self.place()
        payments = self.pay()
        stock = self.reserve(payments.authorized_at)
        ship_delay = np.clip(self.rng.gamma(2.0, 6.0 * HOUR, len(o)), HOUR, 72 * HOUR).astype(np.int64)
        cancelled_at = self.cancel(payments, stock, ship_delay)
        shipped_at = np.where(
            (stock.reserved_at >= 0) & (cancelled_at < 0), stock.reserved_at + ship_delay, -1
        )
        delivery = self.deliver(shipped_at)
        refunds = self.refund(delivery)
        self.tickets(payments, delivery, refunds)
        return self.rows

    # --- payments -------------------------------------------------------------------------

    def pay(self) -> Payments:
        rng, o, n = self.rng, self.orders, len(self.orders)
        method = rng.choice(len(METHODS), size=n, p=METHOD_SHARES)
        bank = method == METHODS.index("bank_transfer")
        first_at = o.placed + np.where(
            bank,
            between(rng, 0.5 * HOUR, 12 * HOUR, n),
            5 + rng.exponential(40, n).astype(np.int64).clip(0, 1800),
        )
        first_failed = rng.random(n) < FAIL_RATE[method]
        retried = first_failed & (rng.random(n) < RETRY_SHARE)
        retry_failed = retried & (rng.random(n) < FAIL_RATE[method] * RETRY_FAIL_FACTOR)
        retry_at = first_at + between(rng, 10 * MINUTE, 6 * HOUR, n)
        authorized = ~first_failed | (retried & ~retry_failed)
        self.emit_payment("PaymentFailed", first_failed, first_at, method, "-1")
        self.emit_payment("PaymentFailed", retry_failed, retry_at, method, "-2")
        authorized_at = np.where(first_failed, retry_at, first_at)
        self.emit_payment("PaymentAuthorized", authorized & ~first_failed, first_at, method, "-1")
        self.emit_payment("PaymentAuthorized", authorized & first_failed, retry_at, method, "-2")
        return Payments(
            np.where(authorized, authorized_at, -1),
            np.where(authorized, -1, np.where(retried, retry_at, first_at)),
        )

    def emit_payment(
        self, detail_type: str, mask: np.ndarray, times: np.ndarray, method: np.ndarray, attempt: str
    ) -> None:
        i = np.flatnonzero(mask)
        o = self.orders
        columns = {
            "payment_id": with_prefix("PAY", o.ids[i], attempt),
            "order_id": o.ids[i],
            "method": _objects(METHODS)[method[i]],
            "amount": o.amount[i],
            "currency": np.full(len(i), CURRENCY, dtype=object),
        }
        if detail_type == "PaymentFailed":
            columns["reason"] = _objects(FAIL_REASONS)[choose(self.rng, cdf(FAIL_REASON_P), method[i])]
        self.emit(detail_type, times[i], columns)

    # --- stock ----------------------------------------------------------------------------

    def reserve(self, authorized_at: np.ndarray) -> Stock:
        rng, o, n = self.rng, self.orders, len(self.orders)
        requested_at = np.where(authorized_at >= 0, authorized_at + between(rng, 30, 600, n), -1)
        stock = Stock(np.full(n, -1), np.zeros(n, dtype=np.int64), np.full(n, -1), [])
        warehouse = REGION_WAREHOUSE[o.region]
        openings = np.ceil(self.stock_plan * rng.uniform(0.9, 2.5, self.stock_plan.shape)).astype(np.int64)
        for line in range(len(PRODUCT_LINES)):
            for house in range(len(WAREHOUSES)):
                pool = np.flatnonzero((o.line == line) & (warehouse == house) & (requested_at >= 0))
                pool = pool[np.argsort(requested_at[pool], kind="stable")]
                self.serve_pool(pool, requested_at[pool], openings[line, house], stock)
        self.emit_stock("InventoryReserved", stock.reserved_at >= 0, stock.reserved_at, stock.on_hand)
        return stock

    def serve_pool(self, pool: np.ndarray, requested_at: np.ndarray, opening: int, stock: Stock) -> None:
        """Reserve in request order; past the first order the pool cannot serve, wait for stock."""
        quantity = self.orders.quantity[pool]
        left = opening - np.cumsum(quantity)
        short = np.flatnonzero(left < 0)
        k = short[0] if short.size else len(pool)
        stock.reserved_at[pool[:k]] = requested_at[:k]
        stock.on_hand[pool[:k]] = left[:k]
        if k < len(pool):
            remaining = int(left[k - 1]) if k else opening
            self.backorder(pool[k:], requested_at[k:], remaining, opening, stock)

    def backorder(
        self, waiting: np.ndarray, requested_at: np.ndarray, remaining: int, opening: int, stock: Stock
    ) -> None:
        rng, n = self.rng, len(waiting)
        out_at = int(requested_at[0])
        back_at = out_at + int(rng.integers(4 * HOUR, 36 * HOUR))
        gives_up = (requested_at < back_at) & (rng.random(n) < OUT_OF_STOCK_CANCEL)
        stock.cancelled_at[waiting[gives_up]] = (
            requested_at[gives_up]
            + ((back_at - requested_at[gives_up]) * rng.uniform(0.2, 0.9, int(gives_up.sum()))).astype(
                np.int64
            )
            + 1
        )
        served, served_at = (
            waiting[~gives_up],
            np.maximum(requested_at[~gives_up], back_at)
            + between(rng, MINUTE, 30 * MINUTE, int((~gives_up).sum())),
        )
        order = np.argsort(served_at, kind="stable")
        served, served_at = served[order], served_at[order]
        quantity = self.orders.quantity[served]
        delivered = int(quantity.sum() + np.ceil(opening * rng.uniform(0.3, 0.8)))
        stock.reserved_at[served] = served_at
        stock.on_hand[served] = remaining + delivered - np.cumsum(quantity)
        first = waiting[:1]
        self.emit_pool_event("StockOut", first, out_at, int(self.orders.quantity[first[0]]), remaining)
        self.emit_pool_event("StockReplenished", first, back_at, delivered, remaining + delivered)

    def emit_pool_event(
        self, detail_type: str, order: np.ndarray, at: int, quantity: int, on_hand: int
    ) -> None:
        o = self.orders
        columns = {
            "product_line": LINE_NAMES[o.line[order]],
            "warehouse": WAREHOUSE_OBJECTS[REGION_WAREHOUSE[o.region[order]]],
            "quantity": np.array([quantity]),
            "on_hand": np.array([on_hand]),
        }
        if detail_type == "StockOut":
            columns = {"order_id": o.ids[order], "sku": o.sku[order], **columns}
        self.emit(detail_type, np.array([at]), columns)

    def emit_stock(self, detail_type: str, mask: np.ndarray, times: np.ndarray, on_hand: np.ndarray) -> None:
        i = np.flatnonzero(mask)
        o = self.orders
        self.emit(
            detail_type,
            times[i],
            {
                "order_id": o.ids[i],
                "sku": o.sku[i],
                "product_line": LINE_NAMES[o.line[i]],
                "warehouse": WAREHOUSE_OBJECTS[REGION_WAREHOUSE[o.region[i]]],
                "quantity": o.quantity[i],
                "on_hand": on_hand[i],
            },
        )

    # --- cancellations, shipping, delivery ------------------------------------------------

    def cancel(self, payments: Payments, stock: Stock, ship_delay: np.ndarray) -> np.ndarray:
        """Orders cancelled after a failed payment, while waiting for stock, or by the customer
        between reservation and shipping. Returns each order's cancel time (-1: not cancelled)."""
        rng, n = self.rng, len(self.orders)
        after_failure = (payments.failed_at >= 0) & (rng.random(n) < CANCEL_AFTER_FAILURE)
        by_customer = (stock.reserved_at >= 0) & (rng.random(n) < CUSTOMER_CANCEL)
        reason = np.full(n, CANCEL_REASONS.index("out_of_stock"))
        reason[after_failure] = CANCEL_REASONS.index("payment_failed")
        reason[by_customer] = np.where(rng.random(int(by_customer.sum())) < 0.8, 0, 1)
        cancelled_at = stock.cancelled_at.copy()
        cancelled_at[after_failure] = payments.failed_at[after_failure] + between(
            rng, 10 * MINUTE, 24 * HOUR, int(after_failure.sum())
        )
        cancelled_at[by_customer] = (
            stock.reserved_at[by_customer]
            + 1
            + (ship_delay[by_customer] * rng.uniform(0.05, 0.9, int(by_customer.sum()))).astype(np.int64)
        )
        i = np.flatnonzero(cancelled_at >= 0)
        self.emit(
            "OrderCancelled",
            cancelled_at[i],
            {**self.orders.columns(i), "reason": _objects(CANCEL_REASONS)[reason[i]]},
        )
        return cancelled_at

    def deliver(self, shipped_at: np.ndarray) -> Delivery:
        rng, o = self.rng, self.orders
        i = np.flatnonzero(shipped_at >= 0)
        region = o.region[i]
        carrier = choose(rng, cdf(CARRIER_P), region)
        distance = np.array([r.distance for r in REGIONS])[region]
        transit = np.clip(
            rng.lognormal(np.log(CARRIER_MEDIAN_HOURS[carrier] * distance), 0.35) * HOUR, 6 * HOUR, 240 * HOUR
        ).astype(np.int64)
        delayed = rng.random(len(i)) < DELAY_P[carrier]
        delay = np.where(delayed, rng.uniform(6, 72, len(i)).round(1), 0.0)
        delivery = Delivery(i, shipped_at[i], carrier, transit, delayed, delay, self.promised_days(i))
        self.emit_shipments(delivery)
        return delivery

    def promised_days(self, i: np.ndarray) -> np.ndarray:
        promise = np.array([r.promise_days for r in REGIONS])
        return self.orders.placed[i] // DAY + promise[self.orders.region[i]]

    def emit_shipments(self, d: Delivery) -> None:
        o, i = self.orders, d.orders
        common = {
            "shipment_id": with_prefix("SHP", o.ids[i]),
            "order_id": o.ids[i],
            "warehouse": WAREHOUSE_OBJECTS[REGION_WAREHOUSE[o.region[i]]],
            "carrier": _objects(CARRIERS)[d.carrier],
            "region": REGION_OBJECTS[o.region[i]],
            "promised_date": format_dates(d.promised_day),
        }
        self.emit("OrderShipped", d.shipped_at, common)
        transit_hours = np.round((d.delivered_at - d.shipped_at) / HOUR, 1)
        self.emit(
            "OrderDelivered", d.delivered_at, {**common, "late": d.late, "transit_hours": transit_hours}
        )
        k = np.flatnonzero(d.delayed)
        reasons = _objects(DELAY_REASONS)[self.rng.integers(0, len(DELAY_REASONS), len(k))]
        self.emit(
            "DeliveryDelayed",
            d.delayed_at[k],
            {
                **{key: values[k] for key, values in common.items()},
                "delay_hours": d.delay_hours[k],
                "reason": reasons,
            },
        )

    # --- after delivery -------------------------------------------------------------------

    def refund(self, d: Delivery) -> Refunds:
        """At most one refund per delivered order: damaged, wrong item, returned, or (late
        deliveries only) a partial refund for the wait."""
        rng, o = self.rng, self.orders
        u = rng.random(len(d.orders))
        edges = np.cumsum([REFUND_P[r] for r in REFUND_REASONS[:3]])
        reason = np.searchsorted(edges, u, side="right")  # 0..2 a reason, 3 none yet
        late_refund = (reason == 3) & d.late & (u < edges[-1] + LATE_REFUND_P)
        k = np.flatnonzero((reason < 3) | late_refund)
        reason = reason[k]
        wait = np.select(
            [reason <= 1, reason == 2],
            [between(rng, DAY, 5 * DAY, len(k)), between(rng, 3 * DAY, 14 * DAY, len(k))],
            between(rng, 12 * HOUR, 3 * DAY, len(k)),
        )
        i = d.orders[k]
        amount = np.where(reason == 3, np.round(o.amount[i] * rng.uniform(0.1, 0.25, len(k)), 2), o.amount[i])
        refunds = Refunds(i, d.delivered_at[k] + wait, reason, d.delivered_at[k])
        self.emit(
            "RefundIssued",
            refunds.at,
            {
                "refund_id": with_prefix("RFD", o.ids[i]),
                "order_id": o.ids[i],
                "amount": amount,
                "reason": _objects(REFUND_REASONS)[reason],
            },
        )
        return refunds

    def tickets(self, payments: Payments, d: Delivery, refunds: Refunds) -> None:
        """Some customers open a ticket about what went wrong, a while after it happened."""
        late, failed = d.late, np.flatnonzero(payments.failed_at >= 0)
        damaged, wrong = refunds.reason == 0, refunds.reason == 1
        money_back = refunds.reason >= 2
        causes = [  # (orders, when the problem showed, longest wait before the ticket in hours)
            (d.orders[late], np.where(d.delayed, d.delayed_at, d.delivered_at)[late], 24, "late_delivery"),
            (failed, payments.failed_at[failed], 12, "payment_failed"),
            (refunds.orders[damaged], refunds.delivered_at[damaged], 20, "damaged"),
            (refunds.orders[wrong], refunds.delivered_at[wrong], 20, "wrong_item"),
            (refunds.orders[money_back], refunds.at[money_back], 72, "refund"),
            (np.arange(len(self.orders)), self.orders.placed, 96, "other"),
        ]
        picked = [self.some(*cause) for cause in causes]
        self.emit_tickets(*(np.concatenate(parts) for parts in zip(*picked, strict=True)))

    def some(
        self, orders: np.ndarray, shown_at: np.ndarray, wait_hours: int, cause: str
    ) -> tuple[np.ndarray, ...]:
        """The orders whose customers open a ticket about ``cause``, and when they do."""
        keep = np.flatnonzero(self.rng.random(len(orders)) < TICKET_P[cause])
        opened = shown_at[keep] + between(self.rng, 5 * MINUTE, wait_hours * HOUR, len(keep))
        return orders[keep], opened, np.full(len(keep), TICKET_CAUSES.index(cause))

    def emit_tickets(self, orders: np.ndarray, opened_at: np.ndarray, cause: np.ndarray) -> None:
        rng, o, n = self.rng, self.orders, len(orders)
        stamp = np.datetime_as_string(np.datetime64(self.day, "D")).replace("-", "")
        priority = choose(rng, cdf(PRIORITY_P), cause)
        hours = np.clip(rng.lognormal(np.log(RESOLUTION_MEDIAN_HOURS[priority]), 0.6), 0.2, 120).round(1)
        satisfaction = np.clip(
            np.round(SATISFACTION_BASE[cause] - 0.02 * hours + rng.normal(0, 0.8, n)), 1, 5
        )
        common = {
            "ticket_id": np.array([f"TKT-{stamp}-{k:05d}" for k in range(1, n + 1)], dtype=object),
            "order_id": o.ids[orders],
            "customer_id": o.customers[orders],
            "cause": _objects(TICKET_CAUSES)[cause],
            "channel": _objects(TICKET_CHANNELS)[choose(rng, cdf(TICKET_CHANNEL_P), cause)],
            "priority": _objects(PRIORITIES)[priority],
        }
        self.emit("TicketOpened", opened_at, common)
        self.emit(
            "TicketResolved",
            opened_at + (hours * HOUR).astype(np.int64),
            {**common, "resolution_hours": hours, "satisfaction": satisfaction.astype(np.int64)},
        )


@dataclass
class Delivery:
    """Shipped orders (indices into the day's orders) and how their delivery went."""

    orders: np.ndarray
    shipped_at: np.ndarray
    carrier: np.ndarray
    transit: np.ndarray  # seconds without the delay
    delayed: np.ndarray
    delay_hours: np.ndarray
    promised_day: np.ndarray  # epoch day

    @property
    def delivered_at(self) -> np.ndarray:
        return self.shipped_at + self.transit + (self.delay_hours * HOUR).astype(np.int64)

    @property
    def late(self) -> np.ndarray:
        return self.delivered_at // DAY > self.promised_day

    @property
    def delayed_at(self) -> np.ndarray:
        return self.shipped_at + (self.transit * 0.5).astype(np.int64)


@dataclass
class Refunds:
    orders: np.ndarray
    at: np.ndarray
    reason: np.ndarray  # index into REFUND_REASONS
    delivered_at: np.ndarray


def draw_carts(rng: np.random.Generator, day: int, expected: np.ndarray) -> Rows:
    region = np.repeat(np.arange(len(expected)), rng.poisson(expected * CART_ABANDON_RATIO))
    n = len(region)
    stamp = np.datetime_as_string(np.datetime64(day, "D")).replace("-", "")
    return make_rows(
        rng,
        "CartAbandoned",
        day * DAY + seconds_of_day(rng, n),
        {
            "cart_id": np.array([f"CART-{stamp}-{i:06d}" for i in range(1, n + 1)], dtype=object),
            "customer_id": customer_ids(rng, n),
            "region": REGION_OBJECTS[region],
            "amount": np.round(rng.lognormal(np.log(180), 0.9, n), 2),
        },
    )


def stock_plan(expected: np.ndarray) -> np.ndarray:
    """Units per (product line, warehouse) the ERP expects to reserve on a day with these
    expected orders per region."""
    per_house = np.zeros(len(WAREHOUSES))
    np.add.at(per_house, REGION_WAREHOUSE, expected)
    units = LINE_SHARES * np.array([mean_quantity(p) for p in PRODUCT_LINES])
    return np.outer(units, per_house)


def simulate_orders(
    rng: np.random.Generator,
    day: int,
    expected: np.ndarray,
    planned: np.ndarray,
    catalog: Catalog,
    consequences: bool = True,
) -> list[Rows]:
    """Every event caused by the orders placed on epoch ``day`` (plus the day's abandoned carts).

    ``expected``: mean orders per region (campaigns included); ``planned``: what the ERP
    planned stock for (the calendar without campaigns). Without ``consequences``, only the
    OrderPlaced rows — the same ones, since they are drawn first."""
    orders = draw_orders(rng, day, expected, catalog)
    chain = OrderChain(rng, day, orders, stock_plan(planned))
    if not consequences:
        chain.place()
        return chain.rows
    rows = chain.run()
    rows.append(draw_carts(rng, day, expected))
    latest = max(int(r.times[-1]) for r in rows if len(r))
    if latest >= (day + MAX_CHAIN_DAYS + 1) * DAY:
        raise AssertionError(f"an order's story ran past {MAX_CHAIN_DAYS} days")
    return rows
