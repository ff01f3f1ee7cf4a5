"""Event explorer: find events, and follow one order through every department."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from app.departments import BY_SOURCE, DEPARTMENTS
from app.services.common import in_list, run_sql, to_local_time
from app.services.context import Context
from app.services.errors import ServiceError
from app.services.timerange import TimeRange

MAX_ROWS = 500
JOURNEY_DAYS = 30  # an order's events (delivery, refunds, tickets) come within this many days
TEXT_MAX = 200

FIND_SQL = """
SELECT time, source, detail_type, id, json_extract_scalar(detail, '$.order_id') AS order_id, detail
FROM events
WHERE dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to{filters}
ORDER BY time DESC
LIMIT {limit}
"""

ORDER_PLACED_SQL = """
SELECT min(time) AS placed_at
FROM orders
WHERE dt BETWEEN :dt_from AND :dt_to AND order_id = :order_id
"""

JOURNEY_SQL = """
SELECT time, source, detail_type, id, detail
FROM events
WHERE dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to
  AND json_extract_scalar(detail, '$.order_id') = :order_id
ORDER BY time
"""


@dataclass(frozen=True)
class EventQuery:
    sources: tuple[str, ...] = ()  # empty: every source
    detail_types: tuple[str, ...] = ()  # empty: every detail type
    text: str = ""  # an event id, an order id, or text inside the detail
    limit: int = MAX_ROWS


@dataclass(frozen=True)
class Journey:
    order_id: str
    events: pd.DataFrame  # time, department, source, detail_type, id, summary, step

    @property
    def is_empty(self) -> bool:
        return self.events.empty


def department_order() -> list[str]:
    """Departments in the order an order travels through them (for the timeline's axis)."""
    return [d.name for d in DEPARTMENTS]


def find_sql(query: EventQuery) -> tuple[str, dict[str, str]]:
    """The search's SQL and its extra bindings; every value stays a bound parameter."""
    filters, params = "", {}
    for column, name, values in (
        ("source", "source", query.sources),
        ("detail_type", "detail_type", query.detail_types),
    ):
        if values:
            placeholders, bound = in_list(name, values)
            filters += f"\n  AND {column} IN {placeholders}"
            params.update(bound)
    if query.text.strip():
        filters += (
            "\n  AND (id = :text OR json_extract_scalar(detail, '$.order_id') = :text"
            " OR strpos(detail, :text) > 0)"
        )
        params["text"] = query.text.strip()[:TEXT_MAX]
    limit = max(1, min(int(query.limit), MAX_ROWS))
    return FIND_SQL.replace("{filters}", filters).replace("{limit}", str(limit)), params


def _department(source: str) -> str:
    department = BY_SOURCE.get(source)
    return department.name if department else source


def _summary(detail: str) -> str:
    """The detail's fields in one line, for a table cell or a hover."""
    try:
        fields = json.loads(detail)
    except (TypeError, ValueError):
        return str(detail)[:200]
    return ", ".join(f"{k}={v}" for k, v in fields.items() if not isinstance(v, (dict, list)))[:200]


def find_events(ctx: Context, rng: TimeRange, query: EventQuery) -> pd.DataFrame:
    """time, department, source, detail_type, id, order_id, summary, detail — newest first."""
    sql, params = find_sql(query)
    frame = run_sql(ctx, sql, rng, **params)
    frame["time"] = to_local_time(frame["time"], ctx.settings.timezone)
    frame.insert(1, "department", frame["source"].map(_department))
    frame["summary"] = frame["detail"].map(_summary)
    return frame[["time", "department", "source", "detail_type", "id", "order_id", "summary", "detail"]]


def order_journey(ctx: Context, rng: TimeRange, order_id: str) -> Journey:
    """Every event that carries ``order_id``, from the order onwards, across departments.

    The order must have been placed in ``rng`` or up to ``JOURNEY_DAYS`` before it (an
    order delivered in the range); its events are read from then up to ``JOURNEY_DAYS``
    later, so the search prunes by date like every other query.
    """
    order_id = order_id.strip()
    if not order_id:
        raise ServiceError("Enter an order id (such as one from the table above) to follow it.")
    searched = rng.widened(rng.start - pd.Timedelta(days=JOURNEY_DAYS))
    placed = run_sql(ctx, ORDER_PLACED_SQL, searched, order_id=order_id)["placed_at"]
    if placed.empty or pd.isna(placed.iloc[0]):
        return Journey(
            order_id,
            pd.DataFrame(columns=["time", "department", "source", "detail_type", "id", "summary", "step"]),
        )
    start = pd.Timestamp(placed.iloc[0]).tz_convert("UTC").to_pydatetime()
    window = TimeRange(start, start + pd.Timedelta(days=JOURNEY_DAYS), "custom", f"order {order_id}")
    events = run_sql(ctx, JOURNEY_SQL, window, order_id=order_id)
    events["time"] = to_local_time(events["time"], ctx.settings.timezone)
    events.insert(1, "department", events["source"].map(_department))
    events["summary"] = events["detail"].map(_summary)
    events["step"] = range(1, len(events) + 1)
    return Journey(order_id, events[["time", "department", "source", "detail_type", "id", "summary", "step"]])


def source_choices() -> list[str]:
    return [d.source for d in DEPARTMENTS]


def detail_type_choices(sources: tuple[str, ...] = ()) -> list[str]:
    chosen = [d for d in DEPARTMENTS if not sources or d.source in sources]
    return [t for d in chosen for t in d.detail_types]
