"""A rollup table read for given days (``run(..., days=)``) reads each day's one file by
its path (app/engines/duckdb_engine.py ``_day_files``): the same rows as the whole table's
view over those days, nothing for a day without its file, and the whole table's view past
ROLLUP_PATHS_UP_TO days."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from app.engines import duckdb_engine
from app.engines.duckdb_engine import DuckDBEngine
from app.lake.rollups import FILE_NAME, ROLLUP_TABLES, rebuild_rollups, rollup_file
from tests.fixtures_lake import FIXTURE_END

DAYS = [str(FIXTURE_END - timedelta(days=k)) for k in (2, 1, 0)]
AFTER = datetime.combine(FIXTURE_END + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=1)


@pytest.fixture(scope="module")
def rolled_lake(fixture_lake, tmp_path_factory):
    lake = tmp_path_factory.mktemp("rolled") / "lake"
    shutil.copytree(fixture_lake, lake)
    assert rebuild_rollups(lake, now=AFTER).days_built == len(DAYS)
    return lake


def _rows(engine: DuckDBEngine, table: str, days: list[str] | None, asked: list[str]) -> pd.DataFrame:
    """Every row of ``table`` on ``asked`` (the days the filter admits), read with ``days``
    (None: the whole table's view, its filters not used to choose days)."""
    marks = ", ".join(f":d{i}" for i in range(len(asked)))
    order = ", ".join(str(n + 1) for n in range(len(ROLLUP_TABLES[table].column_names) + 1))
    sql = f"SELECT * FROM {table} WHERE dt IN ({marks}) ORDER BY {order}"
    values = {f"d{i}": day for i, day in enumerate(asked)}
    engine._prune_by_filters = days is not None
    result = engine.run(sql, values, days=None if days is None else {table: days})
    return result.frame.reset_index(drop=True)


@pytest.mark.parametrize("table", list(ROLLUP_TABLES))
def test_days_read_by_path_are_the_rows_of_the_whole_table(rolled_lake, duckdb_extensions, table):
    engine = DuckDBEngine(rolled_lake, extension_directory=duckdb_extensions)
    whole = _rows(engine, table, None, DAYS[1:])
    assert len(whole) > 0 or table == "shipment_leads"  # the fixture ships on one day only
    by_path = _rows(engine, table, DAYS[1:], DAYS[1:])
    pd.testing.assert_frame_equal(by_path, whole)
    # A day without a folder (before the lake) is no error and no row.
    early = str(FIXTURE_END - timedelta(days=30))
    pd.testing.assert_frame_equal(_rows(engine, table, [early, *DAYS[1:]], DAYS[1:]), whole)


def test_a_day_whose_file_is_gone_reads_as_no_rows(rolled_lake, duckdb_extensions, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(rolled_lake, lake)
    engine = DuckDBEngine(lake, extension_directory=duckdb_extensions)
    kept = _rows(engine, "events_hourly", None, DAYS[:1])
    assert len(kept) > 0
    rollup_file(lake, ROLLUP_TABLES["events_hourly"], DAYS[1]).unlink()  # quarantined since
    assert not (lake / "events_hourly" / f"dt={DAYS[1]}" / FILE_NAME).exists()
    pd.testing.assert_frame_equal(_rows(engine, "events_hourly", DAYS[:2], DAYS[:2]), kept)


def test_past_the_limit_the_whole_table_s_view_reads_them(rolled_lake, duckdb_extensions, monkeypatch):
    engine = DuckDBEngine(rolled_lake, extension_directory=duckdb_extensions)
    assert engine._day_files("overview_hourly", DAYS) is not None
    monkeypatch.setattr(duckdb_engine, "ROLLUP_PATHS_UP_TO", len(DAYS) - 1)
    assert engine._day_files("overview_hourly", DAYS) is None
    whole = _rows(engine, "overview_hourly", None, DAYS)
    pd.testing.assert_frame_equal(_rows(engine, "overview_hourly", DAYS, DAYS), whole)
    # A raw table has no such limit: it reads its days' folders.
    assert engine._day_files("orders", DAYS) is not None


@pytest.mark.parametrize("table", ["events_hourly", "overview_hourly", "events", "orders"])
def test_only_the_days_given_are_read_under_the_table_s_name_or_alias(rolled_lake, duckdb_extensions, table):
    """``days`` is the caller's promise, so a day left out of it is not read even where
    the query's filter admits it: the rows come from the days' files alone, by path or by
    folder, under the table's name, its alias, and not where a CTE takes the name."""
    engine = DuckDBEngine(rolled_lake, extension_directory=duckdb_extensions)
    engine._prune_by_filters = False

    def count(sql: str, days: list[str] | None) -> int:
        got = engine.frame(sql, {}, days=None if days is None else {table: days})
        assert got.equals(engine.run(sql, {}, days=None if days is None else {table: days}).frame)
        return int(got.iloc[0, 0])

    per_day = {day: count(f"SELECT count(*) FROM {table} WHERE dt = '{day}'", None) for day in DAYS}
    assert all(n > 0 for n in per_day.values()) or table == "shipment_leads"
    assert count(f"SELECT count(*) FROM {table}", DAYS[1:]) == per_day[DAYS[1]] + per_day[DAYS[2]]
    early = str(FIXTURE_END - timedelta(days=30))  # before the lake: no folder, no error, no row
    assert count(f"SELECT count(*) FROM {table}", [early, DAYS[1]]) == per_day[DAYS[1]]
    assert (
        count(f"SELECT count(*) FROM verticals.{table} AS t WHERE t.dt >= '{DAYS[0]}'", DAYS[:1])
        == (per_day[DAYS[0]])
    )
    assert count(f"SELECT count(*) FROM {table}", []) == 0
    # A CTE named as the table (in another case: DuckDB's names are case-insensitive) is
    # the CTE's rows; the table inside it reads its given days.
    shadowed = f"WITH {table.upper()} AS (SELECT * FROM {table}) SELECT count(*) FROM {table}"
    assert count(shadowed, DAYS[2:]) == per_day[DAYS[2]]


@pytest.mark.parametrize("table", ["orders", "events"])
@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_a_placeholder_named_as_the_files_macro_s_parameter_keeps_its_value(
    rolled_lake, duckdb_extensions, table, case
):
    """The files macro's file lists take names no placeholder of the query has, in any case:
    DuckDB's parameter names are case-insensitive, so ``$FILES_ORDERS`` is ``$files_orders``."""
    engine = DuckDBEngine(rolled_lake, extension_directory=duckdb_extensions)
    engine._prune_by_filters = False
    whole = engine.frame(f"SELECT count(*) FROM {table} WHERE dt = :day", {"day": DAYS[1]})
    assert int(whole.iloc[0, 0]) > 0
    for kind in ("files", "long_files"):
        name = case(f"{kind}_{table}")
        sql = f"SELECT count(*) FROM {table} WHERE dt = :{name}"
        got = engine.frame(sql, {name: DAYS[1]}, days={table: DAYS[1:]})
        assert got.equals(whole), name


def test_a_table_named_in_any_case_is_the_table(rolled_lake, duckdb_extensions):
    """``FROM ORDERS`` and ``FROM "Orders"`` read ``orders``, as Athena reads them, whole or
    for given days."""
    engine = DuckDBEngine(rolled_lake, extension_directory=duckdb_extensions)
    since = {"first": DAYS[0]}
    expected = int(engine.frame("SELECT count(*) FROM orders WHERE dt >= :first", since).iloc[0, 0])
    assert expected > 0
    for written in ("ORDERS", '"Orders"', "Verticals.Orders AS O"):
        sql = f"SELECT count(*) FROM {written} WHERE dt >= :first"
        assert int(engine.frame(sql, since).iloc[0, 0]) == expected, written
        assert int(engine.frame(sql, since, days={"orders": DAYS}).iloc[0, 0]) == expected, written
