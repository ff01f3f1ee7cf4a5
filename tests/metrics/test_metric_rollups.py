"""The bus metrics' rollups (app/lake/metric_rollups.py) give the answers of the points.

A generated store: three months of points at every resolution (minutes for 15 days, 5
minutes to 63 days, hours after), two buses, several files a day, a day written before
histograms existed, latencies in quarters of a millisecond (sums of them are exact in any
order, so the comparison is exact). Every answer of :class:`LocalMetricsSource` with
rollups must equal the same call on a copy without them, the reference (the points read
one by one, as before rollups): random ranges, edges off the hour, every period.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.lake import metric_rollups
from app.lake.compact import compact
from app.lake.metric_rollups import METRICS_DIR, ROLLUP_DIR, SCHEMA, refresh_metric_rollups
from app.metrics import local
from app.metrics.local import LocalMetricsSource, MetricsRecorder

NOW = datetime(2026, 5, 20, 9, 37, tzinfo=UTC)  # the store's "now": a month under way
CLOSED_BEFORE = NOW.date().isoformat()
COUNTS = ["Invocations", "FailedInvocations", "MatchedEvents"]
LATENCIES = ["IngestionToInvocationStartLatency", "IngestionToInvocationSuccessLatency"]
RULES = ["orders", "crm", ""]
DAYS = 95
REPO = Path(__file__).resolve().parents[2]


def _record(lake: Path, rnd: random.Random, count: int, oldest_days: float = DAYS) -> None:
    for bus in ("verticals", "other"):
        recorder = MetricsRecorder(lake, bus, now=NOW)
        for _ in range(count):
            at = (NOW - timedelta(days=rnd.uniform(0, oldest_days))).timestamp()
            rule = rnd.choice(RULES)
            if rnd.random() < 0.6:
                recorder.add(rnd.choice(COUNTS), at, float(rnd.randint(0, 5)), rule=rule)
            else:
                samples = [rnd.randint(0, 40_000) / 4 for _ in range(rnd.randint(1, 4))]
                recorder.add_latencies(rnd.choice(LATENCIES), at, samples, rule=rule)
        recorder.flush()


def _old_schema_file(lake: Path, day: str) -> None:
    """Latency points of a file written before histograms (read back as null)."""
    start = datetime.fromisoformat(f"{day}T00:00:00+00:00")
    rows = pa.table(
        {
            "timestamp": pa.array(
                [start + timedelta(hours=h) for h in (3, 3, 17)], SCHEMA.field("timestamp").type
            ),
            "metric": [LATENCIES[0], COUNTS[0], LATENCIES[0]],
            "bus": ["verticals"] * 3,
            "rule": ["orders"] * 3,
            "value": [12.5, 4.0, 2.25],
            "samples": [2.0, 4.0, 1.0],
        }
    )
    pq.write_table(rows, lake / METRICS_DIR / f"dt={day}" / "part-old.parquet")


@pytest.fixture(scope="module")
def lakes(tmp_path_factory) -> tuple[Path, Path]:
    """(the store with rollups, the same points without)"""
    lake = tmp_path_factory.mktemp("metrics") / "lake"
    rnd = random.Random(5)
    for _ in range(3):  # several files a day
        _record(lake, rnd, 4000)
    _record(lake, rnd, 400, oldest_days=1.2)  # today and yesterday, busier
    _old_schema_file(lake, (NOW - timedelta(days=80)).date().isoformat())
    raw = tmp_path_factory.mktemp("metrics-raw") / "lake"
    shutil.copytree(lake, raw)
    report = refresh_metric_rollups(lake, CLOSED_BEFORE)
    assert report.days_built == DAYS  # every closed day (today is not)
    return lake, raw


def _ranges(rnd: random.Random, count: int) -> list[tuple[datetime, datetime]]:
    lengths = [
        timedelta(hours=3),
        timedelta(days=1),
        timedelta(days=2),
        timedelta(days=7),
        timedelta(days=30),
    ]
    lengths += [timedelta(days=DAYS), timedelta(days=DAYS + 5)]
    found = [
        (NOW - timedelta(days=DAYS + 3), NOW),
        (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)),
    ]
    for age in (3, 30, 80):  # closed days kept by the minute, by 5 minutes, by the hour
        end = NOW - timedelta(days=age, minutes=17)  # edges off the hour
        found += [
            (end - timedelta(days=2, minutes=31), end),
            (end - timedelta(hours=20), end - timedelta(hours=5)),
        ]
    for _ in range(count):
        end = NOW - timedelta(minutes=rnd.choice([0, rnd.randrange(0, DAYS * 1440)]))
        end = (
            end.replace(second=0) if rnd.random() < 0.5 else end.replace(minute=rnd.choice([0, 30]), second=0)
        )
        found.append((end - rnd.choice(lengths), end))
    return found


def assert_same_answers(
    lake: Path, raw: Path, seed: int, count: int = 8, buses: tuple[str | None, ...] = ("verticals", None)
) -> None:
    ours, reference = LocalMetricsSource(lake), LocalMetricsSource(raw)
    for start, end in _ranges(random.Random(seed), count):
        periods = [
            p
            for p in (60, 300, 600, 3600, 7200, 86_400, 2 * 86_400)
            if (end - start).total_seconds() / p <= 800
        ]
        for period in [*periods, None]:  # at most 800 periods a range, as the pages ask
            for bus in buses:
                where = f"{start} - {end}, period {period}, bus {bus}"
                if period is not None:
                    got = ours.get(COUNTS + LATENCIES, start, end, period, bus=bus)
                    want = reference.get(COUNTS + LATENCIES, start, end, period, bus=bus)
                    pd.testing.assert_frame_equal(got, want, check_exact=True, obj=where)
                got = ours.latency_percentiles(LATENCIES, start, end, bus=bus, period_s=period)
                want = reference.latency_percentiles(LATENCIES, start, end, bus=bus, period_s=period)
                pd.testing.assert_frame_equal(got, want, check_exact=True, obj=where)


def test_rollups_answer_as_the_points(lakes):
    lake, raw = lakes
    assert_same_answers(lake, raw, seed=1)


def test_long_ranges_read_rollups_not_points(lakes):
    """What makes it fast: a 90-day daily read opens month and day rollups, and points only
    for today and the partial hours at the edges."""
    lake, _ = lakes
    end, start = NOW, NOW - timedelta(days=90)
    pieces = local._pieces(lake, start, end, 86_400)
    read = [p for files, _ in pieces for p in files]
    assert {p.parent.name for p in read if p.parts[-3] == ROLLUP_DIR} >= {"month=2026-03", "month=2026-04"}
    points = [p for p in read if p.parts[-3] == METRICS_DIR]
    assert {p.parent.name for p in points} == {f"dt={start.date()}", f"dt={NOW.date()}"}
    hourly = local._pieces(lake, start, end, 3600)
    assert not any(p.parent.name.startswith("month=") for files, _ in hourly for p in files)


def test_a_late_point_file_is_read_raw_until_rolled_up_again(lakes, tmp_path):
    lake, raw = (tmp_path / "lake", tmp_path / "raw")
    shutil.copytree(lakes[0], lake)
    shutil.copytree(lakes[1], raw)
    late = NOW - timedelta(days=40, hours=3)
    for target in (lake, raw):  # the same late points in both
        recorder = MetricsRecorder(target, "verticals", now=NOW)
        recorder.add(COUNTS[0], late.timestamp(), 7.0, rule="orders")
        recorder.add_latencies(LATENCIES[0], late.timestamp(), [1.5, 2000.25], rule="orders")
        recorder.flush()
    assert_same_answers(lake, raw, seed=2, count=2, buses=("verticals",))
    day = late.date().isoformat()
    stale = metric_rollups.listing(lake, day)
    assert refresh_metric_rollups(lake, CLOSED_BEFORE).days_built == 1
    assert metric_rollups.listing(lake, day).isdisjoint(stale)  # the old build is gone
    assert_same_answers(lake, raw, seed=3, count=2, buses=("verticals",))


CHILD = """
import os, signal, sys
from pathlib import Path
from app.lake import metric_rollups
from app.lake.compact import compact
lake, kill_at, before_rename = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
writes = 0
real_replace = os.replace

def replace(src, dst):
    global writes
    writes += 1
    if writes == kill_at and before_rename:
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
    if writes == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

metric_rollups.os.replace = replace
metric_rollups.refresh_metric_rollups(lake, sys.argv[4], rebuild=True)
"""


@pytest.mark.parametrize("kill_at", [1, 2, 2 * DAYS + 2])  # a day's hour file, its day file, a month's
@pytest.mark.parametrize("before_rename", [True, False], ids=["before-rename", "after-rename"])
def test_a_killed_rebuild_leaves_answers_right_and_the_next_run_finishes(
    lakes, tmp_path, kill_at, before_rename
):
    """SIGKILLed at a point counted in files (a day's hour file, its day file, a month's
    file), before or after the rename: the pages' answers are still the points', and the
    next refresh leaves exactly the files an uninterrupted one does."""
    lake = tmp_path / "lake"
    shutil.copytree(lakes[0], lake)
    recorder = MetricsRecorder(lake, "verticals", now=NOW)  # a changed day: its rollups are stale
    recorder.add(COUNTS[1], (NOW - timedelta(days=20)).timestamp(), 3.0, rule="crm")
    recorder.flush()
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(lake), str(kill_at), "1" if before_rename else "0", CLOSED_BEFORE],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    raw = tmp_path / "raw"
    shutil.copytree(lake / METRICS_DIR, raw / METRICS_DIR)
    assert_same_answers(lake, raw, seed=kill_at, count=1, buses=("verticals",))
    refresh_metric_rollups(lake, CLOSED_BEFORE)
    assert not list((lake / ROLLUP_DIR).glob("*/.*.tmp"))
    fresh = tmp_path / "fresh"
    shutil.copytree(raw, fresh)
    refresh_metric_rollups(fresh, CLOSED_BEFORE)
    names = {p.relative_to(lake / ROLLUP_DIR) for p in (lake / ROLLUP_DIR).glob("*/*")}
    assert names == {p.relative_to(fresh / ROLLUP_DIR) for p in (fresh / ROLLUP_DIR).glob("*/*")}
    assert_same_answers(lake, raw, seed=kill_at + 1, count=1, buses=("verticals",))


def test_compaction_merges_points_not_rollups_and_rolls_up_again(lakes, tmp_path):
    """`bus serve`'s periodic step: a closed day's point files become one (new names), the
    rollup folders are left alone, and the refresh after it rebuilds what the merge made stale."""
    lake, raw = tmp_path / "lake", tmp_path / "raw"
    shutil.copytree(lakes[0], lake)
    shutil.copytree(lakes[1], raw)
    (lake / "events").mkdir()  # a lake (refresh_rollups skips a folder without its events)
    day = (NOW - timedelta(days=30)).date().isoformat()
    assert len(metric_rollups.day_files(lake / METRICS_DIR, day)) > 1
    counts = {
        f.name[3:]: len(metric_rollups.day_files(f.parent, f.name[3:]))
        for f in (lake / METRICS_DIR).iterdir()
    }
    merged = sum(n >= (2 if d < CLOSED_BEFORE else 8) for d, n in counts.items())  # closed days: 2 files
    report = compact(lake, min_age_s=0, now=NOW)
    assert len(metric_rollups.day_files(lake / METRICS_DIR, day)) == 1
    assert report.partitions == merged  # the point folders, not the rollups'
    for folder in (lake / ROLLUP_DIR).iterdir():
        key = folder.name.split("=", 1)[1]
        files = (
            metric_rollups.day_files(lake / METRICS_DIR, key)
            if len(key) == 10
            else metric_rollups.month_files(lake / METRICS_DIR, key)
        )
        spans = metric_rollups.SPANS if len(key) == 10 else ["month"]
        assert metric_rollups.listing(lake, key) == {metric_rollups.rollup_name(s, files) for s in spans}
    assert_same_answers(lake, raw, seed=4, count=2, buses=("verticals",))


def test_folders_that_are_not_days_are_ignored_and_a_broken_store_does_not_stop_the_lakes_rollups(
    lakes, tmp_path, caplog
):
    """A copy of a day's folder under another name, a month-like folder and a stray file
    are not points of any day: the refresh leaves them, builds no rollup for them, and
    answers stay right. A point file that cannot be read stops only the metric rollups: the
    lake's own rollups are refreshed and their dirty markers settled all the same."""
    from app.lake import rollups
    from app.lake.rollups import refresh_rollups

    lake, raw = tmp_path / "lake", tmp_path / "raw"
    shutil.copytree(lakes[0], lake)
    shutil.copytree(lakes[1], raw)
    day = (NOW - timedelta(days=30)).date().isoformat()
    points = lake / METRICS_DIR
    shutil.copytree(points / f"dt={day}", points / f"dt={day}.bak")
    shutil.copytree(points / f"dt={day}", points / f"dt={day[:7]}")
    (points / "dt=stray").write_text("not a folder")
    (lake / ROLLUP_DIR / "month=2026-01-01.bak").mkdir()  # left by an older build
    refresh_metric_rollups(lake, CLOSED_BEFORE)
    made = {p.name for p in (lake / ROLLUP_DIR).iterdir()}
    assert not {n for n in made if ".bak" in n or n == f"dt={day[:7]}"}
    assert_same_answers(lake, raw, seed=9, count=2, buses=("verticals",))

    (lake / "events").mkdir()  # a lake: refresh_rollups skips a folder without its events
    (points / f"dt={day}" / "part-broken.parquet").write_bytes(b"PAR1 not parquet")
    rollups.mark_dirty(lake, [day])
    report = refresh_rollups(lake, NOW)
    assert report.metric_days_built == 0 and "bus-metric rollups" in caplog.text
    assert rollups._markers(lake) == []  # the dirty day's marker is settled


def test_a_file_gone_between_plan_and_read_is_planned_again(lakes, monkeypatch, tmp_path):
    """A compaction or a refresh can remove a file the reader has just planned to read."""
    source = LocalMetricsSource(lakes[0])
    start, end = NOW - timedelta(days=40), NOW - timedelta(days=2)
    expected = source.get(COUNTS, start, end, 3600, bus="verticals")
    real, calls = local._pieces, []

    def first_plan_names_a_gone_file(*args):
        calls.append(args)
        planned = real(*args)
        if len(calls) == 1:
            files, spans = planned[0]
            return [([tmp_path / "gone.parquet", *files], spans), *planned[1:]]
        return planned

    monkeypatch.setattr(local, "_pieces", first_plan_names_a_gone_file)
    pd.testing.assert_frame_equal(source.get(COUNTS, start, end, 3600, bus="verticals"), expected)
    assert len(calls) == 2
