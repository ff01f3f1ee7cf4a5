"""A rollup maintenance SIGKILLed in the middle leaves nothing a page counts twice.

A small seeded lake (7 closed days) with work to do: its oldest closed day not rolled up
yet, replayed duplicates in another, a late order in a third (dirty from its day on), two
days clean. ``refresh_rollups`` or ``rebuild_rollups`` runs in a child process
(tests/lake/rollup_crash_child.py) that SIGKILLs itself at a point counted in files, not
in time: before the first file, midway through a table, between the tables, between a
file's hidden ``.tmp`` write and its rename, after the last file. Then:

* every dirty marker is still there (claimed or not), so a day the run had not finished is
  read raw; only the day without a marker can have become clean, and only whole;
* the rollup tables as pages read them (DuckDBEngine's views) hold the ``rollup.parquet``
  files' rows only, not a left-over ``.tmp``'s;
* the pages answer as the raw tables do (the comparison of tests/services/test_rollup_equality.py);
* a normal refresh finishes the work: no markers, no ``.tmp`` left, every closed day clean,
  the same rollup files as an uninterrupted refresh (whose pages agree with raw).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from app.demo.seed import seed_lake
from app.engines.duckdb_engine import DuckDBEngine
from app.lake import rollups
from app.lake.writer import LakeWriter
from app.services.timerange import custom_range
from tests.instant import TODAY
from tests.services.test_rollup_equality import ZONES, _late_order, _raw_rows, assert_pages_agree

pytestmark = pytest.mark.dated  # the lake ends on TODAY

REPO = Path(__file__).resolve().parents[2]
CHILD = "tests.lake.rollup_crash_child"
LAKE = {"days": 8, "events_per_day": 400, "seed": 11}


@dataclass(frozen=True)
class Prepared:
    lake: Path  # read-only: each test works on a copy
    closed: frozenset[str]
    new_day: str  # closed, not rolled up yet (no marker)
    files_per_table: dict[str, int]  # maintenance -> days it builds
    reference_lake: Path  # the lake after an uninterrupted refresh
    reference: dict[tuple[str, str], pd.DataFrame]  # (table, day) -> its rollup files


def rollup_frames(lake: Path, days: frozenset[str]) -> dict[tuple[str, str], pd.DataFrame]:
    return {
        (table.name, day): pd.read_parquet(rollups.rollup_file(lake, table, day))
        for table in rollups.ROLLUP_TABLES.values()
        for day in sorted(days)
    }


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Prepared:
    lake = tmp_path_factory.mktemp("crash-lake") / "lake"
    seed_lake(lake, end=TODAY, **LAKE)  # rolls up every closed day
    closed = sorted(rollups.clean_days(lake))
    assert len(closed) == LAKE["days"] - 1
    for table in rollups.ROLLUP_TABLES.values():  # a day closed since the last refresh
        rollups.rollup_file(lake, table, closed[0]).unlink()
    writer = LakeWriter(lake)
    replayed = [r for r in _raw_rows(lake, closed[1], 200) if r["detail-type"] != rollups.LEAD_DETAIL_TYPE]
    writer.write(replayed[:60], replay_name="replay-1")  # dt=closed[1]
    writer.write(_late_order(date.fromisoformat(closed[4]), 1))  # from=closed[4], shipped closed[6]
    assert rollups.clean_days(lake) == {closed[2], closed[3]}

    copy = tmp_path_factory.mktemp("crash-reference") / "lake"
    shutil.copytree(lake, copy)
    rollups.refresh_rollups(copy)
    return Prepared(
        lake=lake,
        closed=frozenset(closed),
        new_day=closed[0],
        files_per_table={"refresh_rollups": len(closed) - 2, "rebuild_rollups": len(closed)},
        reference_lake=copy,
        reference=rollup_frames(copy, frozenset(closed)),
    )


def markers(lake: Path) -> set[str]:
    """The dirty markers, ``dt=…``/``from=…``, claimed (``.dt=….<token>``) or not."""
    folder = lake / rollups.STATE / "dirty"
    return {p.name.lstrip(".").split(".", 1)[0] for p in folder.iterdir()} if folder.is_dir() else set()


def work_files(lake: Path) -> list[Path]:
    return [p for t in rollups.ROLLUP_TABLES for p in (lake / t).glob("*/.*.tmp")]


def assert_views_read_only_rollup_files(lake: Path) -> None:
    engine = DuckDBEngine(lake)
    try:
        for table in rollups.ROLLUP_TABLES:
            files = sorted((lake / table).glob(f"dt=*/{rollups.FILE_NAME}"))
            rows = engine.run(f"SELECT count(*) AS n FROM {table}").frame["n"].iloc[0]
            assert rows == sum(pq.read_metadata(f).num_rows for f in files), table
    finally:
        engine.close()


def pages_agree(lake: Path, zone: str) -> None:
    """The Overview and Event rates over the whole lake, with rollups and raw only."""
    first = TODAY - timedelta(days=LAKE["days"] - 1)
    assert_pages_agree(lake, [(custom_range(first, TODAY, zone), zone)])


def run_killed(lake: Path, maintenance: str, hook: str, n: int) -> None:
    child = subprocess.run(
        [sys.executable, "-m", CHILD, str(lake), maintenance, hook, str(n)],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, (child.returncode, child.stderr[-2000:])


# (maintenance, hook, table, day): killed before the file of the table-th rollup table
# (in ROLLUP_TABLES' order, each written for every day) and the day-th day to build.
KILLS = [
    pytest.param("refresh_rollups", "write", 0, 2, id="refresh-claimed-midway-first-table"),
    pytest.param("refresh_rollups", "write", 1, 0, id="refresh-between-tables"),  # the new day: 1 file
    pytest.param("refresh_rollups", "replace", 1, 1, id="refresh-tmp-written-not-renamed"),
    pytest.param("refresh_rollups", "built", 0, 0, id="refresh-all-written-markers-kept"),
    pytest.param("rebuild_rollups", "write", 1, 3, id="rebuild-midway-second-table"),
    pytest.param("rebuild_rollups", "replace", 0, 5, id="rebuild-tmp-written-not-renamed"),
]


@pytest.mark.parametrize(("maintenance", "hook", "table", "day"), KILLS)
def test_a_killed_rollup_run_leaves_nothing_counted_twice(prepared, tmp_path, maintenance, hook, table, day):
    lake = tmp_path / "lake"
    shutil.copytree(prepared.lake, lake)
    clean_before, marked_before = rollups.clean_days(lake), markers(lake)
    zone = ZONES[(table + day) % len(ZONES)]  # the equality test's zones, in turn

    run_killed(lake, maintenance, hook, table * prepared.files_per_table[maintenance] + day)

    assert markers(lake) == marked_before  # claimed, not dropped: those days read raw
    assert clean_before <= rollups.clean_days(lake) <= clean_before | {prepared.new_day}
    assert len(work_files(lake)) == (hook == "replace")
    assert all(pq.read_metadata(f).num_rows for f in work_files(lake))  # would show if read
    assert_views_read_only_rollup_files(lake)
    pages_agree(lake, zone)

    rollups.refresh_rollups(lake)  # the next run finishes the work
    assert markers(lake) == set()
    assert work_files(lake) == []
    assert rollups.clean_days(lake) == prepared.closed
    # The same raw files, rollup files and (no) markers as the reference lake: the same
    # answers, which test_an_uninterrupted_refresh_agrees_with_raw compares with raw.
    for key, frame in rollup_frames(lake, prepared.closed).items():
        pd.testing.assert_frame_equal(frame, prepared.reference[key], obj=str(key))


def test_an_uninterrupted_refresh_agrees_with_raw(prepared):
    assert rollups.clean_days(prepared.reference_lake) == prepared.closed
    for zone in ZONES:
        pages_agree(prepared.reference_lake, zone)


def test_the_sweep_deletes_only_rollup_work_files(prepared, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(prepared.lake, lake)
    folder = rollups.rollup_file(lake, rollups.EVENTS_HOURLY, sorted(prepared.closed)[2]).parent
    dead = folder / f".{rollups.FILE_NAME}.0123456789ab.tmp"
    kept = [folder / "notes.tmp", folder / f".{rollups.FILE_NAME}.tmp"]
    raw = next((lake / "events").glob("dt=*/source=*")) / ".part-0.parquet.tmp"  # a writer's, live
    for path in (dead, *kept, raw):
        path.write_bytes(b"x")
    rollups.refresh_rollups(lake)
    assert not dead.exists()
    assert all(p.exists() for p in (*kept, raw))
