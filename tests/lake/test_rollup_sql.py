"""The rollups' Athena SQL (app/lake/rollup_sql.py): generated from the local builder's own
SELECTs for every table ROLLUP_TABLES declares, valid Trino, reading only the days built,
and giving the same rows as the local builder (run back through DuckDB on the seeded lake)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from app.lake import rollups
from app.lake.rollup_sql import MAX_DAYS_PER_INSERT, insert_sql, select_sql
from app.lake.rollups import LOOKBACK, ROLLUP_SQL, ROLLUP_TABLES
from app.lake.tables import TABLES, Column, Table
from tests.instant import TODAY

DAYS = ["2026-11-02", "2026-11-03"]


@pytest.mark.parametrize("table", list(ROLLUP_TABLES.values()), ids=lambda t: t.name)
def test_every_rollup_table_has_an_insert_that_parses_as_trino(table: Table):
    assert table.name in ROLLUP_SQL
    tree = sqlglot.parse_one(insert_sql(table, DAYS), read="trino")
    assert isinstance(tree, exp.Insert)
    target = tree.this
    assert target.this.name == table.name
    assert [c.name for c in target.expressions] == [*table.column_names, "dt"]
    select = tree.expression
    assert [e.alias_or_name for e in select.expressions] == [*table.column_names, "dt"]


@pytest.mark.parametrize("table", list(ROLLUP_TABLES.values()), ids=lambda t: t.name)
def test_raw_tables_are_read_for_the_days_built_only_and_the_lead_time_lookback(table: Table):
    """The days built; the lead time's orders: those days and the 21 before (never all)."""
    tree = sqlglot.parse_one(insert_sql(table, DAYS), read="trino")
    read = [t for t in tree.expression.find_all(exp.Table) if t.name in TABLES]
    assert read
    for node in read:
        where = node.find_ancestor(exp.Select).args["where"].sql(dialect="trino")
        if node.find_ancestor(exp.Subquery).alias.endswith(LOOKBACK):
            assert node.name == "orders"
            assert where == "WHERE dt BETWEEN '2026-10-12' AND '2026-11-03'"
        else:
            assert where == "WHERE dt IN ('2026-11-02', '2026-11-03')"


def test_days_are_checked_and_batches_bounded():
    table = next(iter(ROLLUP_TABLES.values()))
    with pytest.raises(ValueError):
        select_sql(table, ["2026-11-02' OR 1=1 --"])
    with pytest.raises(ValueError):
        select_sql(table, [])
    many = [(TODAY - timedelta(days=n)).isoformat() for n in range(MAX_DAYS_PER_INSERT + 1)]
    with pytest.raises(ValueError, match="at most 100"):
        insert_sql(table, many)


def test_any_declared_rollup_table_gets_its_insert(monkeypatch):
    """A table another change declares (with its SELECT) is generated the same way."""
    extra = Table(
        "tickets_daily",
        "test",
        (Column("day", "date"), Column("cause", "string"), Column("tickets", "bigint")),
    )
    monkeypatch.setitem(ROLLUP_TABLES, extra.name, extra)
    monkeypatch.setitem(
        ROLLUP_SQL,
        extra.name,
        "SELECT dt, CAST(time AS DATE) AS day, cause, count(*) AS tickets FROM tickets GROUP BY ALL",
    )
    sql = insert_sql(extra, DAYS)
    assert sql.startswith('INSERT INTO "tickets_daily" ("day", "cause", "tickets", dt) SELECT')
    assert "GROUP BY 1, 2, 3" in sql and "FROM tickets WHERE dt IN ('2026-11-02', '2026-11-03')" in sql
    sqlglot.parse_one(sql, read="trino")
    monkeypatch.setitem(ROLLUP_SQL, extra.name, "SELECT dt, 1 AS day FROM somewhere_else")
    with pytest.raises(ValueError, match="not a lake table"):
        insert_sql(extra, DAYS)


def _local_rows(lake: Path, table: Table, days: list[str]) -> pd.DataFrame:
    frames = []
    for day in days:
        rows = pq.read_table(rollups.rollup_file(lake, table, day)).to_pandas()
        frames.append(rows.assign(dt=day))
    return pd.concat(frames, ignore_index=True)


def _normalized(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    frame = frame[[*table.column_names, "dt"]].copy()
    for column in table.columns:
        if column.type == "timestamp":
            frame[column.name] = pd.to_datetime(frame[column.name], utc=True).astype("datetime64[ns, UTC]")
        elif column.type == "date":
            frame[column.name] = pd.to_datetime(frame[column.name]).dt.date
        elif column.type in ("double", "bigint"):
            frame[column.name] = frame[column.name].astype(float).round(9)
    keys = [c.name for c in table.columns if c.type not in ("double", "bigint")] + ["dt"]
    keys += [c.name for c in table.columns if c.type in ("double", "bigint")]  # rows equal in the keys
    return frame.sort_values(keys, na_position="first").reset_index(drop=True)


@pytest.mark.parametrize("table", list(ROLLUP_TABLES.values()), ids=lambda t: t.name)
def test_the_athena_select_gives_the_local_builders_rows(seeded_lake: Path, table: Table):
    """The Trino text, transpiled back to DuckDB and run over the seeded lake's raw files,
    gives exactly the rows the local builder wrote for those days."""
    days = sorted(rollups.rolled_up_days(seeded_lake))[-3:-1]
    assert len(days) == 2
    db = duckdb.connect(":memory:")
    db.execute("SET TimeZone = 'UTC'")
    for raw in TABLES.values():
        rollups._table_view(db, raw, seeded_lake, None)  # every day: the SQL must narrow it
    duck = sqlglot.transpile(select_sql(table, days), read="trino", write="duckdb")[0]
    got = db.sql(duck).df()
    want = _local_rows(seeded_lake, table, days)
    assert len(got) == len(want) > 0
    pd.testing.assert_frame_equal(_normalized(got, table), _normalized(want, table), check_dtype=False)


# ROLLUP_VERSION -> the digest of the rollups' definition at that version.
PINNED = {2: "bf29cecfb96d7fc7", 3: "e0b6af653f25f328"}


def test_a_changed_rollup_definition_comes_with_a_new_version():
    """Changing a rollup's SELECT or columns without bumping ROLLUP_VERSION would let old
    rollups be read as new ones: bump it and pin the new digest here."""
    assert rollups.definition_digest() == PINNED[rollups.ROLLUP_VERSION]


def test_rollups_of_another_version_are_not_read_and_are_rebuilt(seeded_lake: Path, tmp_path: Path):
    lake = tmp_path / "lake"
    shutil.copytree(seeded_lake, lake)
    days = rollups.rolled_up_days(lake)
    assert days and rollups.is_current(lake)
    (lake / rollups.STATE / rollups.VERSION_FILE).write_text("1\n")  # an older release's lake
    assert rollups.clean_days(lake) == frozenset() and rollups.rolled_up_days(lake) == set()
    report = rollups.refresh_rollups(lake)
    assert report.days_built == len(days)
    assert rollups.is_current(lake) and rollups.rolled_up_days(lake) == days
