"""The enterprise's verticals: the EventBridge `source` each publishes under, and what it sends."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Department:
    source: str
    name: str
    detail_types: tuple[str, ...]


DEPARTMENTS: tuple[Department, ...] = (
    Department("verticals.shop", "Retail web shop", ("OrderPlaced", "OrderCancelled", "CartAbandoned")),
    Department("verticals.payments", "Payments", ("PaymentAuthorized", "PaymentFailed", "RefundIssued")),
    Department("verticals.marketing", "Marketing", ("CampaignLaunched", "CampaignSpend", "CampaignEnded")),
    Department("verticals.erp", "ERP", ("InventoryReserved", "StockOut", "StockReplenished")),
    Department("verticals.fulfillment", "Fulfillment", ("OrderShipped",)),
    Department("verticals.logistics", "Logistics", ("OrderDelivered", "DeliveryDelayed")),
    Department(
        "verticals.production",
        "Production lines",
        ("CapacityPlanned", "BatchStarted", "BatchCompleted", "MachineDowntime"),
    ),
    Department("verticals.crm", "Customer relations", ("TicketOpened", "TicketResolved")),
)

BY_SOURCE: dict[str, Department] = {d.source: d for d in DEPARTMENTS}
SOURCES: tuple[str, ...] = tuple(d.source for d in DEPARTMENTS)
DETAIL_TYPES: tuple[str, ...] = tuple(t for d in DEPARTMENTS for t in d.detail_types)
SOURCE_OF_DETAIL_TYPE: dict[str, str] = {t: d.source for d in DEPARTMENTS for t in d.detail_types}
