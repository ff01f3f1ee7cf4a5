"""Saved queries: search the library, turn form values into typed parameters, run one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from app import clock
from app.catalog import (
    Param,
    ParamError,  # noqa: F401  (pages catch it: a bad form value, named)
    SavedQuery,
    bind,
    load_catalog_entries,
    relative_range,
    resolve_params,
)
from app.engines.base import QueryError, QueryResult, format_usd
from app.services.context import Context

# Relative ranges a date-range parameter offers besides explicit dates (app/catalog phrases).
RANGE_PRESETS = (
    "today",
    "yesterday",
    "last 7 days",
    "last 30 days",
    "last 90 days",
    "month to date",
    "last month",
    "year to date",
    "last 365 days",
)


@dataclass(frozen=True)
class QueryRun:
    name: str
    values: dict[str, Any]  # the typed parameter values it ran with
    result: QueryResult


def today_utc() -> date:
    """Dates in saved queries are ``dt`` partitions: UTC days."""
    return clock.today()


def _matches(query: SavedQuery, words: list[str]) -> bool:
    text = " ".join([query.name, query.title, query.description, query.audience, *query.tags]).lower()
    return all(word in text for word in words)


def library(search: str = "", audience: str = "") -> list[SavedQuery]:
    """Saved queries whose name, title, description or tags contain every search word."""
    words = search.lower().split()
    loaded, _ = load_catalog_entries()
    found = [q for q in loaded.values() if _matches(q, words) and (not audience or q.audience == audience)]
    return sorted(found, key=lambda q: q.title)


def broken(search: str = "") -> dict[str, str]:
    """Saved-query files that cannot be read, by name (whose name contains every search
    word), with why: the page lists each as an entry of its own."""
    words = search.lower().split()
    _, unreadable = load_catalog_entries()
    return {name: why for name, why in sorted(unreadable.items()) if all(w in name for w in words)}


def initial_values(query: SavedQuery, today: date) -> dict[str, Any]:
    """Each parameter's default as a typed value (what the form starts with)."""
    return resolve_params(query, {}, today)


def range_options(param: Param, today: date) -> list[str]:
    """The relative ranges to offer for a date-range parameter: its own default phrase
    first (when it is one, e.g. "last 14 days"), then RANGE_PRESETS; only those the
    parameter takes on ``today`` (no longer than its ``max_days``), so that no choice
    offered is refused when run."""
    phrase = " ".join(str(param.default).lower().split())
    own = [phrase] if relative_range(phrase, today) is not None else []
    return [
        option
        for option in dict.fromkeys([*own, *RANGE_PRESETS])
        if not param.max_days or _range_days(option, today) <= param.max_days
    ]


def _range_days(phrase: str, today: date) -> int:
    days = relative_range(phrase, today)
    assert days is not None, phrase  # RANGE_PRESETS and ``own`` are relative ranges
    return days.days


def run_saved_query(ctx: Context, name: str, raw: Mapping[str, Any], today: date) -> QueryRun:
    """Validate ``raw`` form values (ParamError names the parameter) and run the query."""
    query = load_catalog_entries()[0][name]
    values = resolve_params(query, raw, today)
    sql, params = bind(query, values)
    return QueryRun(name, values, ctx.engine.run(sql, params))


def failed_cost(exc: QueryError) -> tuple[str, str] | None:
    """(data scanned, cost) of a query that gave no result but was run, None when the
    engine does not know (the local engine; a query refused before it was sent)."""
    if exc.cost_usd is None:
        return None
    return format_bytes(exc.bytes_scanned or 0), format_usd(exc.cost_usd)


def format_bytes(count: int) -> str:
    if count < 1024:
        return f"{count:,} B"
    size, unit = float(count) / 1024, "KB"
    for bigger in ("MB", "GB", "TB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:,.1f} {unit}"
