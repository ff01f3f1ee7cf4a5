"""Event explorer: find events, and follow one order through every department."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from app.departments import BY_SOURCE, DEPARTMENTS
from app.lake.paths import day_names
from app.services.common import in_list, run_sql, to_local_time
from app.services.context import Context
from app.services.errors import ServiceError
from app.services.rollup_plan import run_planned
from app.services.timerange import CUSTOM, TimeRange

MAX_ROWS = 500
JOURNEY_DAYS = 30  # an order's events (delivery, refunds, tickets) come within this many days
TEXT_MAX = 200

# A search reads day windows newest first, growing 1, 2, 4, … days, until it has the rows
# it shows. Each window holds only events older than every row already found (a ``dt`` is
# its event's UTC date), so the rows are those of one ORDER BY over the whole range. Ties on
# time are broken by id, source and detail type, so that the 500 rows shown are the same on
# every run. On DuckDB (``wide_top_n``) the window's top-N query selects ``detail`` too. It
# then reads it for every row of the window, not the rows kept only (DuckDB's late
# materialization does not reach through the lake views' UNION ALL: EXPLAIN ANALYZE of one
# day seeded at 20,000 events shows the projection under the top N taking all 18,384 rows),
# yet one query per window measured faster than two (30M lake, 7 d: 0.09 -> 0.05 s). The
# ``order_id`` is read from the kept rows' ``detail`` only, outside the top N (WIDE_SQL):
# inside it, the JSON of every row of the window was parsed (30M lake, a day's window: 30 ->
# 25 ms). Athena bills every selected column of every row it scans: there ``detail`` is
# read for the rows shown only, by a second pass over those rows' days and sources, the
# first reading the narrow columns (``detail`` only if the text filter needs it).
FIND_SQL = """
SELECT time, source, detail_type, id, dt{wide}
FROM events
WHERE dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to{filters}
ORDER BY time DESC, id, source, detail_type
LIMIT {limit}
"""

WIDE = "try(json_extract_scalar(detail, '$.order_id')) AS order_id, detail"
# One window's query on DuckDB: the top N with ``detail``, then the kept rows' ``order_id``.
WIDE_SQL = f"""
SELECT time, source, detail_type, id, dt, {WIDE}
FROM ({{newest}}) AS newest
ORDER BY time DESC, id, source, detail_type
"""
DETAIL_SQL = """
SELECT DISTINCT time, source, detail_type, id, {wide}
FROM events
WHERE dt IN {days} AND source IN {sources} AND id IN {ids} AND time >= :first_time AND time <= :last_time
"""
KEYS = ["time", "source", "detail_type", "id"]
SHOWN = ["time", "department", "source", "detail_type", "id", "order_id", "summary", "detail"]

ORDER_PLACED_SQL = """
SELECT min(time) AS placed_at
FROM orders
WHERE dt BETWEEN :dt_from AND :dt_to AND order_id = :order_id
"""

JOURNEY_SQL = """
SELECT time, source, detail_type, id, detail
FROM events
WHERE dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to
  AND try(json_extract_scalar(detail, '$.order_id')) = :order_id
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


def find_sql(query: EventQuery, wide: bool = False) -> tuple[str, dict[str, str]]:
    """The search's query (with ``order_id`` and ``detail`` when ``wide``; else its first,
    narrow pass) and its extra bindings; every value stays a bound parameter."""
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
        # In any case: ids are written in lower case, order ids in upper, a word in the
        # detail either way. The order id is read from the JSON too: `detail` holds it escaped
        # where it has a quote, a backslash or (as JSON is often written) a non-ASCII letter.
        text = query.text.strip()[:TEXT_MAX].lower()
        # The detail as JSON spells a quote \", a backslash \\ and (the local lake's writer,
        # as JSON is often written) a non-ASCII letter \uXXXX: a word is looked for as typed
        # and as the JSON spells it.
        spelled = json.dumps(text)[1:-1]
        filters += (
            "\n  AND (lower(id) = :text OR lower(try(json_extract_scalar(detail, '$.order_id'))) = :text"
            " OR strpos(lower(detail), :text) > 0"
            + (" OR strpos(lower(detail), :text_json) > 0)" if spelled != text else ")")
        )
        params["text"] = text
        if spelled != text:
            params["text_json"] = spelled
    sql = FIND_SQL.replace("{wide}", ", detail" if wide else "").replace("{filters}", filters)
    sql = sql.replace("{limit}", str(row_limit(query)))
    return (WIDE_SQL.replace("{newest}", sql.strip()) if wide else sql), params


def row_limit(query: EventQuery) -> int:
    return max(1, min(int(query.limit), MAX_ROWS))


def day_windows(rng: TimeRange) -> Iterator[TimeRange]:
    """The range cut at UTC midnights into windows of 1, 2, 4, … days, newest first."""
    end, length = rng.end, 1
    while end > rng.start:
        last_day = (end - timedelta(microseconds=1)).astimezone(UTC).date()
        first = datetime.combine(last_day - timedelta(days=length - 1), datetime.min.time(), UTC)
        start = max(rng.start, first)
        yield TimeRange(start, end, CUSTOM, f"{rng.label} ({length} days)")
        end, length = start, length * 2


def _newest_rows(ctx: Context, rng: TimeRange, query: EventQuery, wide: bool) -> pd.DataFrame:
    """The newest rows' keys and ``dt`` (and ``order_id``, ``detail`` when ``wide``), window
    by window until there are enough."""
    wanted, found = row_limit(query), list[pd.DataFrame]()
    for window in day_windows(rng):
        have = sum(len(f) for f in found)
        sql, params = find_sql(replace(query, limit=wanted - have), wide)
        found.append(run_planned(ctx, sql, window, params, {"events": _days(window)}))
        if have + len(found[-1]) >= wanted:
            break
    rows = [f for f in found if not f.empty]
    if not rows:
        return found[0] if found else pd.DataFrame(columns=[*KEYS, "dt"])
    return pd.concat(rows, ignore_index=True)


def _days(rng: TimeRange) -> tuple[str, ...]:
    return day_names(date.fromisoformat(rng.dt_from), date.fromisoformat(rng.dt_to))


def _details(ctx: Context, rng: TimeRange, rows: pd.DataFrame) -> pd.DataFrame:
    """Second pass: ``order_id`` and ``detail`` of the chosen rows only (``rows``: at least one)."""
    days, sources, ids = (tuple(sorted(set(rows[c].astype(str)))) for c in ("dt", "source", "id"))
    lists = {name: in_list(name, values) for name, values in (("day", days), ("src", sources), ("eid", ids))}
    sql = DETAIL_SQL.format(wide=WIDE, days=lists["day"][0], sources=lists["src"][0], ids=lists["eid"][0])
    params = {k: v for _, bound in lists.values() for k, v in bound.items()}
    # The rows' time span too: DuckDB then reads ``detail`` of fewer row groups (at 82k
    # events a day, the newest day's 500 rows: 0.067 -> 0.057 s).
    times = pd.to_datetime(rows["time"], utc=True)
    params |= {"first_time": times.min().to_pydatetime(), "last_time": times.max().to_pydatetime()}
    frame = run_planned(ctx, sql, rng, params, {"events": days})
    # A duplicate delivery of one event (a replay) is the same row: keep one copy of it.
    return frame.drop_duplicates(subset=KEYS)


def _department(source: str) -> str:
    department = BY_SOURCE.get(source)
    return department.name if department else source


def _summary(detail: str) -> str:
    """The detail's fields in one line, for a table cell or a hover (half a UTF-16 pair,
    which JSON can spell, shown as its escape: no table can hold it as text)."""
    try:
        fields = json.loads(detail)
    except (TypeError, ValueError):
        text = str(detail)
    else:
        text = ", ".join(f"{k}={v}" for k, v in fields.items() if not isinstance(v, (dict, list)))
    return text[:200].encode("utf-8", "backslashreplace").decode("utf-8")


def find_events(ctx: Context, rng: TimeRange, query: EventQuery) -> pd.DataFrame:
    """time, department, source, detail_type, id, order_id, summary, detail — newest first."""
    wide = ctx.engine.wide_top_n
    rows = _newest_rows(ctx, rng, query, wide)
    text = rows["id"].dtype  # the engine's type for text
    if rows.empty:
        found = rows.assign(order_id=pd.Series(dtype=text), detail=pd.Series(dtype=text))
    else:
        found = rows if wide else rows[KEYS].merge(_details(ctx, rng, rows), on=KEYS, how="left", sort=False)
    # Built once, column by column (500 rows: each pandas step costs about as much as its
    # work). Text in the engine's type for text, whatever the rows hold (a column of nulls
    # only comes from DuckDB as objects, and windows' frames are concatenated).
    sources, details = found["source"].tolist(), found["detail"].astype(text)
    columns = {
        "time": to_local_time(found["time"], ctx.settings.timezone),
        "department": pd.Series([_department(s) for s in sources], index=found.index, dtype=text),
        "source": found["source"],
        "detail_type": found["detail_type"],
        "id": found["id"],
        "order_id": found["order_id"].astype(text),
        "summary": pd.Series([_summary(d) for d in details.tolist()], index=found.index, dtype=text),
        "detail": details,
    }
    return pd.DataFrame(columns)


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
