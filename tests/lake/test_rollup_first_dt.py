"""The raw tables' first day (app/lake/rollups.py ``_first_dt``), kept per folder while the
folder's mtime stays the same, and whether the rollups are current (``is_current``), kept
while the version file stays the same: a page's answer never lags the files behind it."""

from __future__ import annotations

import os
from datetime import date

from app.lake import rollups

OLD = 1_700_000_000  # an mtime long settled (2023)


def test_the_first_day_follows_the_folder_whatever_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(rollups, "_FIRST_DT", {})
    folder = tmp_path / "orders"
    assert rollups._first_dt(str(folder)) is None  # no folder
    for day in ("2026-03-02", "2026-03-03"):
        (folder / f"dt={day}").mkdir(parents=True)
    os.utime(folder, (OLD, OLD))
    assert rollups._first_dt(str(folder)) == "2026-03-02"
    assert str(folder) in rollups._FIRST_DT  # settled: kept
    (folder / "dt=2026-02-27").mkdir()  # a backfilled day: the folder's mtime moves
    assert rollups._first_dt(str(folder)) == "2026-02-27"
    (folder / "dt=2026-02-27").rmdir()  # quarantined again
    assert rollups._first_dt(str(folder)) == "2026-03-02"


def test_a_kept_answer_is_used_only_for_the_same_mtime(tmp_path, monkeypatch):
    monkeypatch.setattr(rollups, "_FIRST_DT", {})
    folder = tmp_path / "orders"
    (folder / "dt=2026-03-02").mkdir(parents=True)
    os.utime(folder, (OLD, OLD))
    assert rollups._first_dt(str(folder)) == "2026-03-02"
    rollups._FIRST_DT[str(folder)] = (OLD * 10**9, "1999-01-01")  # what a stale entry would say
    assert rollups._first_dt(str(folder)) == "1999-01-01"  # same mtime: kept (no listing)
    os.utime(folder, (OLD + 1, OLD + 1))
    assert rollups._first_dt(str(folder)) == "2026-03-02"  # another mtime: listed again


def test_a_folder_changed_just_now_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(rollups, "_FIRST_DT", {})
    folder = tmp_path / "orders"
    (folder / "dt=2026-03-02").mkdir(parents=True)
    monkeypatch.setattr(rollups.time, "time_ns", lambda: os.stat(folder).st_mtime_ns + 10**9)
    assert rollups._first_dt(str(folder)) == "2026-03-02"
    assert rollups._FIRST_DT == {}


def test_days_before_the_lake_are_those_before_every_raw_table_s_first(tmp_path, monkeypatch):
    monkeypatch.setattr(rollups, "_FIRST_DT", {})
    (tmp_path / "orders" / "dt=2026-03-04").mkdir(parents=True)
    (tmp_path / "events" / "dt=2026-03-03").mkdir(parents=True)
    before = rollups._days_before_raw(tmp_path, date(2026, 3, 1), date(2026, 3, 5))
    assert before == {"2026-03-01", "2026-03-02"}
    assert rollups._days_before_raw(tmp_path / "none", date(2026, 3, 1), date(2026, 3, 5)) == set()


def _version(lake, text: str, mtime: int | None = OLD) -> None:
    """The lake's version file replaced (a new inode, as ``_stamp`` does), its mtime set."""
    folder = lake / rollups.STATE
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ".version.tmp"
    tmp.write_text(text)
    os.replace(tmp, folder / rollups.VERSION_FILE)
    if mtime is not None:
        os.utime(folder / rollups.VERSION_FILE, (mtime, mtime))


def test_is_current_follows_the_version_file_whatever_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(rollups, "_CURRENT", {})
    assert not rollups.is_current(tmp_path)  # no file
    _version(tmp_path, f"{rollups.ROLLUP_VERSION}\n")
    assert rollups.is_current(tmp_path)
    assert len(rollups._CURRENT) == 1  # settled: kept
    _version(tmp_path, f"{rollups.ROLLUP_VERSION - 1}\n")  # same mtime, a new file
    assert not rollups.is_current(tmp_path)
    (tmp_path / rollups.STATE / rollups.VERSION_FILE).unlink()
    assert not rollups.is_current(tmp_path)


def test_a_version_file_written_just_now_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(rollups, "_CURRENT", {})
    _version(tmp_path, f"{rollups.ROLLUP_VERSION}\n", mtime=None)
    path = tmp_path / rollups.STATE / rollups.VERSION_FILE
    monkeypatch.setattr(rollups.time, "time_ns", lambda: os.stat(path).st_mtime_ns + 10**9)
    assert rollups.is_current(tmp_path)
    assert rollups._CURRENT == {}
