"""pieces_predicate: a row passes exactly when its instant (or, for whole days, its day) is
in one of the pieces, in each of its forms (a day list, the hull past 62 days, ``hull``)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from app.lake.paths import CACHED_SPAN_DAYS, day_names
from app.services.rollup_plan import MAX_LISTED_DAYS, Piece, day_runs, piece_days, pieces_predicate, split

START = datetime(2026, 1, 1, tzinfo=UTC)


def _rows(draw: random.Random, span_days: int, n: int) -> list[tuple[str, datetime]]:
    moments = [START + timedelta(seconds=draw.randrange(0, span_days * 86_400)) for _ in range(n)]
    # Each row in its day's partition, as the lake writes it.
    return [(m.date().isoformat(), m) for m in moments]


def _passing(predicate: str, params: dict, rows: list[tuple[str, datetime]]) -> set[int]:
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.execute("CREATE TABLE t (i INTEGER, dt VARCHAR, time TIMESTAMPTZ)")
    db.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, dt, m) for i, (dt, m) in enumerate(rows)])
    sql = "SELECT i FROM t WHERE " + predicate.replace(":", "$")
    return {i for (i,) in db.execute(sql, params).fetchall()}


def _pieces(draw: random.Random, span_days: int) -> list[Piece]:
    clean = frozenset(
        (START + timedelta(days=d)).date().isoformat() for d in range(span_days) if draw.random() < 0.7
    )
    start = START + timedelta(seconds=draw.randrange(0, span_days * 43_200))
    end = start + timedelta(seconds=draw.randrange(1, span_days * 43_200))
    pieces = split(start, end, clean)
    return pieces.rollup + pieces.raw if draw.random() < 0.3 else pieces.raw


@pytest.mark.parametrize("hull", [False, True])
@pytest.mark.parametrize("span_days", [20, 3 * MAX_LISTED_DAYS])
def test_rows_pass_exactly_when_in_a_piece(hull: bool, span_days: int):
    draw = random.Random(span_days * 2 + hull)
    for _ in range(15):
        pieces = sorted(_pieces(draw, span_days))
        edges = [m + d for a, b in pieces for m in (a, b) for d in (timedelta(0), timedelta(microseconds=-1))]
        rows = _rows(draw, span_days + 2, 400) + [(m.date().isoformat(), m) for m in edges]
        want = {i for i, (_, m) in enumerate(rows) if any(a <= m < b for a, b in pieces)}
        for prune in (True, False) if hull else (True,):
            predicate, params = pieces_predicate("p", pieces, "time", hull=hull, prune=prune)
            assert _passing(predicate, params, rows) == want
        # Whole days: a row passes when its day is one a piece touches.
        days = [
            (datetime.combine(a.date(), datetime.min.time(), UTC), b)
            for a, b in pieces  # every day from the piece's first to its last
        ]
        predicate, params = pieces_predicate("d", days, None, hull=hull)
        touched = {
            (a.date() + timedelta(days=n)).isoformat()
            for a, b in days
            for n in range(((b - timedelta(microseconds=1)).date() - a.date()).days + 1)
        }
        want = {i for i, (dt, _) in enumerate(rows) if dt in touched}
        assert _passing(predicate, params, rows) == want


def test_only_a_hull_leaves_the_pruning_to_its_statement():
    with pytest.raises(ValueError):
        pieces_predicate("p", [(START, START + timedelta(hours=1))], "time", prune=False)


def test_no_piece_passes_nothing():
    assert pieces_predicate("p", [], "time") == ("false", {})
    assert pieces_predicate("p", [], None, hull=True) == ("false", {})


@pytest.mark.parametrize("span_days", [1, 2, 40, CACHED_SPAN_DAYS - 1, CACHED_SPAN_DAYS, 2_000])
def test_day_runs_and_piece_days_name_each_day_of_any_span(span_days: int):
    """Runs of clean and other days, and the days pieces touch, against a day-by-day walk,
    on spans named once (cached) and longer ones."""
    draw = random.Random(span_days)
    first = START.date()
    days = [first + timedelta(days=n) for n in range(span_days)]
    clean = frozenset(d.isoformat() for d in days if draw.random() < 0.7)
    rolled, other = day_runs(days[0], days[-1], clean)
    for runs, wanted in ((rolled, True), (other, False)):
        named = piece_days(runs)
        assert named == {d.isoformat() for d in days if (d.isoformat() in clean) == wanted}
        assert sum((end - start).days for start, end in runs) == len(named)  # whole days, no overlap
    changes = sum((a.isoformat() in clean) != (b.isoformat() in clean) for a, b in itertools.pairwise(days))
    assert len(rolled) + len(other) == 1 + changes
    assert day_names(days[0], days[-1]) == tuple(d.isoformat() for d in days)
