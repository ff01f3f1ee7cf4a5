"""What each lake table's Firehose stream receives, built so that every column is either the
event's own value or NULL, without relying on what EventBridge writes for a missing path.

EventBridge fills an input transformer's unquoted ``<var>`` with ``""`` when the event lacks
the path (recorded on a real account; :mod:`app.bus.transform` reproduces it). In a
string column that is ``""`` instead of NULL; in a boolean, double or date column the
Parquet conversion rejects the record. So:

- the raw ``events`` table gets the event itself, with no transformer. The converter's
  OpenX JSON SerDe reads the envelope's keys by name (``detail-type`` and ``replay-name``
  through ``ColumnToJsonKeyMappings``); a key the event lacks is a NULL column
  (https://docs.aws.amazon.com/firehose/latest/APIReference/API_OpenXJsonSerDe.html).
  ``ingested_at`` stays NULL on AWS: only a transformer could supply it.
- an entity table gets one companion rule per detail type, whose transformer places only
  the envelope and the fields that detail type always carries (:data:`DETAIL_FIELDS`);
  the columns it does not place are absent from the record and so NULL.

:data:`DETAIL_FIELDS` is the producers' contract; tests hold the demo's events to it and
feed every rendered transformer every detail type (tests/aws/test_lake_records.py). A
producer that breaks it (omits a field its type always carries) gets ``""`` for that field,
which the stream's ``FailedConversion.Records`` alarm reports (:mod:`app.infra.alarms`).
"""

from __future__ import annotations

from typing import Any

from app.infra.cfn import RenderError
from app.lake.tables import EVENTS, Table

# detail-type -> the keys of ``detail`` every event of that type carries.
DETAIL_FIELDS: dict[str, tuple[str, ...]] = {
    "OrderPlaced": (
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
    ),
    "OrderCancelled": (
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
        "reason",
    ),
    "PaymentAuthorized": ("payment_id", "order_id", "method", "amount", "currency"),
    "PaymentFailed": ("payment_id", "order_id", "method", "amount", "currency", "reason"),
    "RefundIssued": ("refund_id", "order_id", "amount", "reason"),
    "InventoryReserved": ("order_id", "sku", "product_line", "warehouse", "quantity", "on_hand"),
    "StockOut": ("order_id", "sku", "product_line", "warehouse", "quantity", "on_hand"),
    "StockReplenished": ("product_line", "warehouse", "quantity", "on_hand"),
    "OrderShipped": ("shipment_id", "order_id", "warehouse", "carrier", "region", "promised_date"),
    "OrderDelivered": (
        "shipment_id",
        "order_id",
        "warehouse",
        "carrier",
        "region",
        "promised_date",
        "late",
        "transit_hours",
    ),
    "DeliveryDelayed": (
        "shipment_id",
        "order_id",
        "warehouse",
        "carrier",
        "region",
        "promised_date",
        "delay_hours",
        "reason",
    ),
    "CampaignLaunched": ("campaign_id", "name", "channel", "region", "budget", "start_date", "end_date"),
    "CampaignSpend": (
        "campaign_id",
        "name",
        "channel",
        "region",
        "start_date",
        "end_date",
        "spend",
        "impressions",
        "clicks",
    ),
    "CampaignEnded": (
        "campaign_id",
        "name",
        "channel",
        "region",
        "budget",
        "start_date",
        "end_date",
        "spend",
        "impressions",
        "clicks",
    ),
    "CapacityPlanned": ("line_id", "product_line", "plan_date", "capacity_units"),
    "BatchStarted": ("line_id", "product_line", "batch_id", "planned_units"),
    "BatchCompleted": ("line_id", "product_line", "batch_id", "units", "scrap_units"),
    "MachineDowntime": ("line_id", "product_line", "batch_id", "machine_id", "minutes", "reason"),
    "TicketOpened": ("ticket_id", "order_id", "customer_id", "cause", "channel", "priority"),
    "TicketResolved": (
        "ticket_id",
        "order_id",
        "customer_id",
        "cause",
        "channel",
        "priority",
        "resolution_hours",
        "satisfaction",
    ),
}

# Envelope columns of the entity tables: where they are in the event (always there).
ENVELOPE_PATHS = {"event_id": "$.id", "time": "$.time", "detail_type": "$.detail-type"}

# The raw events table's columns whose JSON key in the event differs from the column name.
EVENT_KEY_OF_COLUMN = {"detail_type": "detail-type", "replay_name": "replay-name"}


def deserializer(table: Table) -> dict[str, Any]:
    """The stream's OpenX JSON SerDe: the events table maps the envelope's hyphenated keys."""
    if table is EVENTS:
        return {"OpenXJsonSerDe": {"ColumnToJsonKeyMappings": dict(EVENT_KEY_OF_COLUMN)}}
    return {"OpenXJsonSerDe": {}}


def placed_columns(table: Table, detail_type: str) -> dict[str, str]:
    """column -> JSON path: the envelope and the fields ``detail_type`` always carries."""
    fields = DETAIL_FIELDS.get(detail_type)
    if fields is None:
        raise RenderError(
            f"table {table.name}: detail type {detail_type} has no entry in app.infra.records.DETAIL_FIELDS "
            "(the fields each of its events always carries)"
        )
    return {
        c.name: ENVELOPE_PATHS.get(c.name) or f"$.detail.{c.key}"
        for c in table.columns
        if c.name in ENVELOPE_PATHS or c.key in fields
    }


def entity_transformer(table: Table, detail_type: str) -> dict[str, Any]:
    """A transformer for one detail type's events into an entity table: every ``<var>`` it
    places is a path every such event has, written unquoted (a string value comes out
    quoted and escaped as JSON; a quoted slot would not escape it)."""
    paths = placed_columns(table, detail_type)
    if len(paths) > 100:
        raise RenderError(f"table {table.name}: {len(paths)} columns, an input transformer maps at most 100")
    template = "{" + ",".join(f'"{column}":<{column}>' for column in paths) + "}"
    return {"InputPathsMap": paths, "InputTemplate": template}
