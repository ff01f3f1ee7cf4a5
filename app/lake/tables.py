"""The lake's tables: one definition that the local writer, the DuckDB views, the saved
queries and the Glue/CloudFormation generator all read.

Every table is Hive-partitioned by ``dt`` (``YYYY-MM-DD`` of the event time, UTC, a string
column so that Athena partition projection and DuckDB compare it the same way). The raw
``events`` table is partitioned by ``source`` too, so that a query on one department only
reads its files.

Typed entity tables hold one row per event of the detail types that feed them: the
envelope's id and time, the detail type, then typed fields taken from ``detail``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

# Glue/Athena type name -> Arrow type. Kept small on purpose: these are the types the
# saved queries rely on, and each maps one-to-one onto a Glue column type.
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "array<string>": pa.list_(pa.string()),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str = ""
    detail_key: str | None = None  # the key in ``detail`` when it differs from ``name``

    @property
    def key(self) -> str:
        return self.detail_key or self.name

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]
    partitions: tuple[str, ...] = ("dt",)
    detail_types: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])


def _c(name: str, type_: str, doc: str = "", key: str | None = None) -> Column:
    return Column(name, type_, doc, key)


# Columns every entity table starts with; they come from the envelope, not from detail.
ENVELOPE_COLUMNS = (
    _c("event_id", "string", "EventBridge event id"),
    _c("time", "timestamp", "event time (UTC)"),
    _c("detail_type", "string", "EventBridge detail-type"),
)

EVENTS = Table(
    name="events",
    doc="Every event the bus accepted, whole: the envelope with detail as JSON text.",
    columns=(
        _c("id", "string", "event id"),
        _c("version", "string"),
        _c("detail_type", "string", "detail-type"),
        _c("account", "string"),
        _c("time", "timestamp", "event time (UTC)"),
        _c("region", "string", "AWS region of the bus"),
        _c("resources", "array<string>"),
        _c("detail", "string", "detail as JSON text"),
        _c("replay_name", "string", "set when the event was delivered by a replay"),
        _c("ingested_at", "timestamp", "when the bus accepted it"),
    ),
    partitions=("dt", "source"),
)


def _entity(name: str, doc: str, detail_types: tuple[str, ...], *columns: Column) -> Table:
    return Table(name=name, doc=doc, columns=ENVELOPE_COLUMNS + columns, detail_types=detail_types)


ORDERS = _entity(
    "orders",
    "Orders placed and cancelled in the web shop.",
    ("OrderPlaced", "OrderCancelled"),
    _c("order_id", "string"),
    _c("customer_id", "string"),
    _c("region", "string", "sales region"),
    _c("channel", "string", "web | app | marketplace"),
    _c("product_line", "string"),
    _c("sku", "string"),
    _c("quantity", "bigint"),
    _c("unit_price", "double"),
    _c("amount", "double", "order value in currency units"),
    _c("currency", "string"),
    _c("cancel_reason", "string", "OrderCancelled only", "reason"),
)

PAYMENTS = _entity(
    "payments",
    "Payment authorizations and failures.",
    ("PaymentAuthorized", "PaymentFailed"),
    _c("payment_id", "string"),
    _c("order_id", "string"),
    _c("method", "string", "card | paypal | klarna | bank_transfer | gift_card"),
    _c("amount", "double"),
    _c("currency", "string"),
    _c("failure_reason", "string", "PaymentFailed only", "reason"),
)

REFUNDS = _entity(
    "refunds",
    "Refunds issued by payments.",
    ("RefundIssued",),
    _c("refund_id", "string"),
    _c("order_id", "string"),
    _c("amount", "double"),
    _c("reason", "string"),
)

INVENTORY = _entity(
    "inventory",
    "Stock reservations, stock-outs and replenishments in the ERP.",
    ("InventoryReserved", "StockOut", "StockReplenished"),
    _c("order_id", "string"),
    _c("sku", "string"),
    _c("product_line", "string"),
    _c("warehouse", "string"),
    _c("quantity", "bigint"),
    _c("on_hand", "bigint", "units on hand after the event"),
)

SHIPMENTS = _entity(
    "shipments",
    "Shipments: handed to a carrier, delivered, delayed.",
    ("OrderShipped", "OrderDelivered", "DeliveryDelayed"),
    _c("shipment_id", "string"),
    _c("order_id", "string"),
    _c("warehouse", "string"),
    _c("carrier", "string"),
    _c("region", "string"),
    _c("promised_date", "date"),
    _c("late", "boolean", "OrderDelivered only: delivered after the promised date"),
    _c("transit_hours", "double", "OrderDelivered only: shipped to delivered"),
    _c("delay_hours", "double", "DeliveryDelayed only"),
    _c("delay_reason", "string", "DeliveryDelayed only", "reason"),
)

CAMPAIGNS = _entity(
    "campaigns",
    "Marketing campaigns: launches, daily spend, ends.",
    ("CampaignLaunched", "CampaignSpend", "CampaignEnded"),
    _c("campaign_id", "string"),
    _c("name", "string"),
    _c("channel", "string", "search | social | email | tv | display"),
    _c("region", "string", "the sales region the campaign targets"),
    _c("budget", "double", "CampaignLaunched only"),
    _c("start_date", "date"),
    _c("end_date", "date"),
    _c("spend", "double", "CampaignSpend: spend that day; CampaignEnded: total"),
    _c("impressions", "bigint"),
    _c("clicks", "bigint"),
)

PRODUCTION = _entity(
    "production",
    "Production lines: planned capacity, batches, machine downtime.",
    ("CapacityPlanned", "BatchStarted", "BatchCompleted", "MachineDowntime"),
    _c("line_id", "string"),
    _c("product_line", "string"),
    _c("batch_id", "string"),
    _c("plan_date", "date", "CapacityPlanned only: the day planned"),
    _c("capacity_units", "bigint", "CapacityPlanned only: units the line can make that day"),
    _c("planned_units", "bigint", "BatchStarted only"),
    _c("units", "bigint", "BatchCompleted only: good units"),
    _c("scrap_units", "bigint", "BatchCompleted only"),
    _c("machine_id", "string", "MachineDowntime only"),
    _c("downtime_minutes", "double", "MachineDowntime only", "minutes"),
    _c("downtime_reason", "string", "MachineDowntime only", "reason"),
)

TICKETS = _entity(
    "tickets",
    "Customer support tickets.",
    ("TicketOpened", "TicketResolved"),
    _c("ticket_id", "string"),
    _c("order_id", "string"),
    _c("customer_id", "string"),
    _c("cause", "string", "late_delivery | payment_failed | damaged | wrong_item | refund | other"),
    _c("channel", "string", "email | chat | phone"),
    _c("priority", "string", "low | normal | high"),
    _c("resolution_hours", "double", "TicketResolved only"),
    _c("satisfaction", "bigint", "TicketResolved only: 1-5"),
)

ENTITY_TABLES: tuple[Table, ...] = (
    ORDERS,
    PAYMENTS,
    REFUNDS,
    INVENTORY,
    SHIPMENTS,
    CAMPAIGNS,
    PRODUCTION,
    TICKETS,
)
TABLES: dict[str, Table] = {t.name: t for t in (EVENTS, *ENTITY_TABLES)}

# detail-type -> the entity table it feeds.
TABLE_FOR_DETAIL_TYPE: dict[str, Table] = {dt: table for table in ENTITY_TABLES for dt in table.detail_types}
