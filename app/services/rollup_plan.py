"""Which part of a range a page reads from the rollups, and which from the raw tables.

The rollups (app/lake/rollups.py) hold whole UTC hours of the days they cover. A range
``[start, end)`` is split into *rollup pieces* (whole hours of covered days) and *raw
pieces* (the rest: a first and last partial hour, the day under way, days not rolled up
yet or made dirty by late events). Every instant falls in exactly one piece, so the sum
of the two answers is the raw answer, in any time zone: bounds that are not whole hours
(a preset ending at now rounded to 5 minutes, a custom range in Asia/Kolkata starting at
``:30`` UTC) just make a raw piece of less than an hour.

Queries grouped by the day written (``dt``) rather than by time (capacity, the analytics
pages' daily orders from ``orders_daily``) split whole days instead: :func:`day_runs`.

Pieces become bound parameters (``:<prefix><i>_dt_from`` …), never spliced values.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from app.lake.paths import day_names
from app.services.context import Context
from app.services.timerange import TimeRange

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
Piece = tuple[datetime, datetime]  # [start, end), UTC
PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
MAX_LISTED_DAYS = 62  # a predicate lists its days up to this many, else gives their hull


@dataclass(frozen=True)
class Split:
    rollup: list[Piece]
    raw: list[Piece]


def rollup_days(
    ctx: Context, rng: TimeRange | None = None, tables: Collection[str] | None = None
) -> frozenset[str]:
    """The days the context's engine has up-to-date rollups for (none: it has none).

    ``rng``: the range a page is about to read; an engine that builds rollups on demand
    (Athena: app/engines/athena_rollups.py) first builds the closed days of it missing.
    ``tables``: the rollup tables the page reads (an engine that can looks at theirs only)."""
    if rng is None:
        return engine_rollup_days(ctx.engine, tables=tables)
    return engine_rollup_days(ctx.engine, rng.start, rng.end, tables)


def engine_rollup_days(
    engine: Any,
    start: datetime | None = None,
    end: datetime | None = None,
    tables: Collection[str] | None = None,
) -> frozenset[str]:
    """:func:`rollup_days` of an engine, for ``[start, end)`` (None: no range)."""
    source = getattr(engine, "rollup_days", None)
    if not callable(source):
        return frozenset()
    accepts = _parameters(source)
    more = {"tables": tables} if tables is not None and "tables" in accepts else {}
    if start is not None and end is not None and "start" in accepts:
        return source(start, end, **more)
    return source(**more)


def days_lacking(ctx: Context, days: Collection[str], tables: Collection[str]) -> frozenset[str]:
    """Of ``days`` (a few: a lookup each), those whose rollups of ``tables`` are not up to
    date. None on an engine whose lookup does not tell tables apart: each day it gives has
    all its tables."""
    source = getattr(ctx.engine, "rollup_days", None)
    if not days or not callable(source) or "tables" not in _parameters(source):
        return frozenset()
    lacking = set()
    for day in days:
        midnight = _midnight(date.fromisoformat(day))
        if day not in engine_rollup_days(ctx.engine, midnight, midnight + DAY, tables):
            lacking.add(day)
    return frozenset(lacking)


def _parameters(method: Any) -> frozenset[str]:
    """The parameter names of an engine's method (``inspect.signature`` costs ~0.1 ms: once
    per function, the engine itself not kept)."""
    function = getattr(method, "__func__", None)
    if function is None:
        return frozenset(inspect.signature(method).parameters)
    return _function_parameters(function) - {"self"}


@functools.lru_cache(maxsize=64)
def _function_parameters(function: Any) -> frozenset[str]:
    return frozenset(inspect.signature(function).parameters)


def _floor(moment: datetime, step: timedelta) -> datetime:
    seconds = step.total_seconds()
    return datetime.fromtimestamp(moment.astimezone(UTC).timestamp() // seconds * seconds, UTC)


def _ceil(moment: datetime, step: timedelta) -> datetime:
    seconds = step.total_seconds()
    return datetime.fromtimestamp(-(-moment.astimezone(UTC).timestamp() // seconds) * seconds, UTC)


def _merge(pieces: Iterable[Piece]) -> list[Piece]:
    merged: list[Piece] = []
    for start, end in sorted(pieces):
        if merged and merged[-1][1] >= start:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def split(start: datetime, end: datetime, clean: frozenset[str]) -> Split:
    """Pieces of ``[start, end)``: whole hours of ``clean`` days, and the rest."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first_hour, last_hour = _ceil(start, HOUR), _floor(end, HOUR)
    rollup = []
    # A run of clean days is one piece: its days' whole hours inside the range.
    for first, last, is_clean in _runs(start.date(), (end - timedelta(microseconds=1)).date(), clean):
        piece = (max(_midnight(first), first_hour), min(_midnight(last) + DAY, last_hour))
        if is_clean and piece[0] < piece[1]:
            rollup.append(piece)
    raw, cursor = [], start
    for piece_start, piece_end in rollup:
        if cursor < piece_start:
            raw.append((cursor, piece_start))
        cursor = piece_end
    if cursor < end:
        raw.append((cursor, end))
    return Split(rollup, raw)


def _runs(first: date, last: date, clean: frozenset[str]) -> list[tuple[date, date, bool]]:
    """Days ``first``..``last`` as runs of consecutive days all clean or all not:
    (first day, last day, clean), in order."""
    if last < first:
        return []
    runs = []
    names = day_names(first, last)
    run_first, run_clean = 0, names[0] in clean
    for n, name in enumerate(names):
        is_clean = name in clean
        if is_clean != run_clean:
            runs.append((first + timedelta(days=run_first), first + timedelta(days=n - 1), run_clean))
            run_first, run_clean = n, is_clean
    runs.append((first + timedelta(days=run_first), last, run_clean))
    return runs


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def split_at(start: datetime, cut: datetime, end: datetime, clean: frozenset[str]) -> Split:
    """:func:`split` of ``[start, end)`` with no piece straddling ``cut`` when ``cut`` is
    not a whole hour (a rollup hour holding it is read raw instead): the pieces of two
    periods side by side, told apart by their rows' time (``time >= cut``)."""
    before, after = split(start, cut, clean), split(cut, end, clean)
    return Split(_merge(before.rollup + after.rollup), _merge(before.raw + after.raw))


def split_by_day(pieces: list[Piece], clean: frozenset[str]) -> tuple[list[Piece], list[Piece]]:
    """``pieces`` cut at UTC midnights: the parts on ``clean`` days and the others, each
    merged into runs (a run of days is one term of a predicate)."""
    covered: list[Piece] = []
    other: list[Piece] = []
    for piece_start, end in pieces:
        cursor = piece_start
        while cursor < end:
            part = (cursor, min(end, _floor(cursor, DAY) + DAY))
            (covered if cursor.date().isoformat() in clean else other).append(part)
            cursor = part[1]
    return _merge(covered), _merge(other)


def day_runs(first: date, last: date, clean: frozenset[str]) -> tuple[list[Piece], list[Piece]]:
    """Days ``first``..``last`` (``dt`` values) as runs of clean days and runs of the others,
    each run ``[midnight, midnight)``: for parts filtered by the day written, not by time."""
    runs = [(is_clean, (_midnight(a), _midnight(b) + DAY)) for a, b, is_clean in _runs(first, last, clean)]
    return [run for is_clean, run in runs if is_clean], [run for is_clean, run in runs if not is_clean]


def pieces_predicate(
    prefix: str,
    pieces: list[Piece],
    time_column: str | None = "time",
    dt_column: str = "dt",
    *,
    hull: bool = False,
    prune: bool = True,
) -> tuple[str, dict[str, Any]]:
    """``dt IN (…) AND ((dt BETWEEN … AND time >= … AND time < …) OR …)`` over ``pieces``,
    and its bindings.

    The leading ``dt`` list is what prunes partitions: DuckDB reads every file of the table
    for an OR that mixes ``dt`` with ``time``. Past :data:`MAX_LISTED_DAYS` days it is the
    days' hull instead. ``time_column`` None: whole days, filtered on ``dt`` only. No
    piece: ``false``.

    ``hull``, for the rollups (a file a day): ``dt BETWEEN <hull> AND ((time >= … AND time
    < …) OR …)``, whole days ``(dt BETWEEN … OR …)``. DuckDB compares the ``dt`` strings
    row by row: a day list and a ``dt`` range per piece cost more (0.02 s of a 7-day
    Overview's 0.05 s) than reading the few days between pieces the hull takes in.
    ``prune`` False (with ``hull``): no ``dt`` filter at all, where the statement prunes
    the table's partitions with one of its own (the times alone choose the rows).
    """
    if not (prune or hull):
        raise ValueError("only a hull predicate can leave the pruning to its statement")
    if not pieces:
        return "false", {}
    terms: list[str] = []
    params: dict[str, Any] = {}
    spans: list[tuple[date, date]] = []  # each piece's first and last day
    for i, (piece_start, piece_end) in enumerate(pieces):
        key = f"{prefix}{i}"
        first, last = piece_start.date(), (piece_end - timedelta(microseconds=1)).date()
        spans.append((first, last))
        on_days = f"{dt_column} BETWEEN :{key}_dt_from AND :{key}_dt_to"
        if time_column is None or not hull:
            params[f"{key}_dt_from"], params[f"{key}_dt_to"] = first.isoformat(), last.isoformat()
        if time_column is None:
            terms.append(f"({on_days})")
            continue
        params[f"{key}_from"], params[f"{key}_to"] = piece_start, piece_end
        in_time = f"{time_column} >= :{key}_from AND {time_column} < :{key}_to"
        terms.append(f"({in_time})" if hull else f"({on_days} AND {in_time})")
    if (hull and time_column is None) or not prune:
        return "(" + " OR ".join(terms) + ")", params
    days = None if hull else _listed_days(spans)
    if days is not None:
        listed = {f"{prefix}_dt{i}": day for i, day in enumerate(days)}
        on_partitions = f"{dt_column} IN (" + ", ".join(f":{key}" for key in listed) + ")"
    else:
        hull_from, hull_to = min(first for first, _ in spans), max(last for _, last in spans)
        listed = {f"{prefix}_hull_from": hull_from.isoformat(), f"{prefix}_hull_to": hull_to.isoformat()}
        on_partitions = f"{dt_column} BETWEEN :{prefix}_hull_from AND :{prefix}_hull_to"
    params.update(listed)
    return f"({on_partitions} AND (" + " OR ".join(terms) + "))", params


def _listed_days(spans: list[tuple[date, date]]) -> list[str] | None:
    """The days of ``spans`` (first and last day each), in order, or None past
    MAX_LISTED_DAYS (found without listing a long span's days)."""
    if max((last - first).days + 1 for first, last in spans) > MAX_LISTED_DAYS:
        return None
    days = {first + timedelta(days=n) for first, last in spans for n in range((last - first).days + 1)}
    return [day.isoformat() for day in sorted(days)] if len(days) <= MAX_LISTED_DAYS else None


def piece_days(pieces: Iterable[Piece]) -> set[str]:
    """The ``dt`` partitions ``pieces`` touch."""
    days: set[str] = set()
    for start, end in pieces:
        days.update(day_names(start.date(), (end - timedelta(microseconds=1)).date()))
    return days


def run_planned(
    ctx: Context,
    sql: str,
    rng: TimeRange,
    params: dict[str, Any],
    days: Mapping[str, Collection[str]] | None = None,
) -> pd.DataFrame:
    """Run ``sql`` with the range's bounds and ``params``, binding only what it uses (the
    engines refuse a value without a placeholder; branches without pieces are left out).

    ``days``: table -> the only ``dt`` partitions the SQL's filters admit of it; an engine
    that can (DuckDB) then reads only those folders instead of listing the whole table.
    """
    return run_on(ctx.engine, sql, {**rng.params(), **params}, days)


def run_on(
    engine: Any, sql: str, params: dict[str, Any], days: Mapping[str, Collection[str]] | None = None
) -> pd.DataFrame:
    """:func:`run_planned` on an engine, without a range: ``params`` are all the values.
    The engine's ``frame`` where it has one: the rows without the measures ``run`` takes."""
    rows = getattr(engine, "frame", None)
    if callable(rows):
        return _called(rows, sql, params, days)
    return _called(engine.run, sql, params, days).frame


# A statement's rows by column: NumPy arrays (an engine's ``columns``) or a frame's Series.
Columns = Mapping[str, Any]


def whole_numbers(column: Any) -> np.ndarray:
    """A column of whole numbers (an array or a Series) as int64; a missing one raises, as
    a frame's ``to_numpy(dtype="int64")`` does, rather than become the smallest int64."""
    values = np.asarray(column)
    if values.dtype.kind not in "iu" and pd.isna(values).any():
        raise ValueError("cannot convert to 'int64'-dtype NumPy array with missing values")
    return values.astype("int64", copy=False)


def run_planned_columns(
    ctx: Context,
    sql: str,
    rng: TimeRange,
    params: dict[str, Any],
    days: Mapping[str, Collection[str]] | None = None,
) -> Columns:
    """:func:`run_planned`'s rows as one NumPy array a column where the engine gives them
    so (DuckDB's ``columns``: no DataFrame built), else its frame (a Series a column)."""
    columns = getattr(ctx.engine, "columns", None)
    if callable(columns):
        return _called(columns, sql, {**rng.params(), **params}, days)
    frame = run_planned(ctx, sql, rng, params, days)
    return {name: frame[name] for name in frame.columns}


def _called(method: Any, sql: str, params: dict[str, Any], days: Mapping[str, Collection[str]] | None) -> Any:
    """An engine's ``method`` on ``sql`` with the values it uses, and ``days`` if it takes them."""
    used = set(PLACEHOLDER.findall(sql))  # our own SQL: no ``::`` casts, no ``:`` in strings
    values = {k: v for k, v in params.items() if k in used}
    return method(sql, values, days=days) if days and "days" in _parameters(method) else method(sql, values)
