import contextlib
import os

import pyarrow.parquet as pq

from app.lake.compact import PENDING_SUFFIX, compact, compact_folder
from app.lake.writer import LakeWriter


def event(i, day="2026-11-20"):
    return {
        "version": "0",
        "id": f"e{i}",
        "detail-type": "OrderPlaced",
        "source": "verticals.shop",
        "account": "1",
        "time": f"{day}T10:00:{i % 60:02d}Z",
        "region": "r",
        "resources": [],
        "detail": {"order_id": f"o{i}", "amount": float(i)},
    }


def ids(folder):
    return sorted(
        i
        for f in folder.rglob("*.parquet")
        for i in pq.read_table(f, columns=["id"]).column("id").to_pylist()
    )


def test_many_small_files_become_one_per_partition_with_every_event_once(tmp_path):
    writer = LakeWriter(tmp_path)
    for i in range(12):
        writer.write([event(i)])
    writer.write([event(99, "2026-11-21")])
    report = compact(tmp_path, min_files=8, min_age_s=0)
    raw = tmp_path / "events" / "dt=2026-11-20" / "source=verticals.shop"
    assert len(list(raw.glob("*.parquet"))) == 1
    assert ids(tmp_path / "events") == sorted([f"e{i}" for i in range(12)] + ["e99"])
    assert len(list((tmp_path / "orders" / "dt=2026-11-20").glob("*.parquet"))) == 1
    assert report.partitions == 2 and report.files_before == 24  # raw events + orders
    assert len(list((tmp_path / "events" / "dt=2026-11-21").rglob("*.parquet"))) == 1  # too few: untouched


def test_recent_files_are_left_for_a_later_run(tmp_path):
    writer = LakeWriter(tmp_path)
    for i in range(10):
        writer.write([event(i)])
    assert compact(tmp_path, min_files=8, min_age_s=3600).partitions == 0


def test_a_compaction_interrupted_after_its_manifest_is_finished_without_duplicates(tmp_path, monkeypatch):
    writer = LakeWriter(tmp_path)
    for i in range(9):
        writer.write([event(i)])
    folder = tmp_path / "events" / "dt=2026-11-20" / "source=verticals.shop"
    files = sorted(folder.glob("*.parquet"))
    calls = []

    def die_after_first_unlink(self, missing_ok=False):
        calls.append(self)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies mid-way
        os.unlink(self)

    monkeypatch.setattr("pathlib.Path.unlink", die_after_first_unlink)
    with contextlib.suppress(KeyboardInterrupt):
        compact_folder(folder, files)
    monkeypatch.undo()
    assert list(folder.glob(f".*{PENDING_SUFFIX}"))
    compact(tmp_path, min_files=100, min_age_s=0)  # finishes the interrupted one
    assert ids(folder) == [f"e{i}" for i in range(9)]
    assert not list(folder.glob(".*"))


def test_the_cli_compacts_the_local_lake(tmp_path, capsys):
    from app.cli.main import main

    writer = LakeWriter(tmp_path)
    for i in range(9):
        writer.write([event(i)])
    for path in tmp_path.rglob("*.parquet"):
        os.utime(path, (0, 0))  # old enough for compaction's one-minute minimum age
    assert main(["lake", "compact", "--backend", "local", "--lake", str(tmp_path)]) == 0
    assert "2 partition(s) compacted: 18 files → 2" in capsys.readouterr().out
    assert ids(tmp_path / "events") == sorted(f"e{i}" for i in range(9))
