import contextlib
import os
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq

from app.lake.compact import PENDING_SUFFIX, compact, compact_folder
from app.lake.writer import LakeWriter
from tests.instant import TODAY


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


def test_a_closed_day_becomes_one_file_per_folder_and_an_open_day_waits_for_min_files(tmp_path):
    closed, today = (TODAY - timedelta(days=2)).isoformat(), TODAY.isoformat()
    writer = LakeWriter(tmp_path)
    for i in range(3):
        writer.write([event(i, closed), event(100 + i, today)])
    report = compact(tmp_path, min_files=8, min_age_s=0)
    for table, day in (("events", closed), ("orders", closed)):
        assert len(list((tmp_path / table / f"dt={day}").rglob("*.parquet"))) == 1
    assert len(list((tmp_path / "events" / f"dt={today}").rglob("*.parquet"))) == 3  # open: fewer than 8
    assert report.files_before == 6 and report.files_after == 2
    assert ids(tmp_path / "events") == sorted([f"e{i}" for i in (0, 1, 2, 100, 101, 102)])
    # A late event makes two files again: the next run merges them back into one.
    writer.write([event(7, closed)])
    compact(tmp_path, min_files=8, min_age_s=0)
    folder = tmp_path / "events" / f"dt={closed}" / "source=verticals.shop"
    assert [len(list(folder.glob("*.parquet"))), ids(folder)] == [1, ["e0", "e1", "e2", "e7"]]


def test_merging_again_keeps_the_file_name_short(tmp_path):
    closed = (TODAY - timedelta(days=2)).isoformat()
    writer = LakeWriter(tmp_path)
    folder = tmp_path / "events" / f"dt={closed}" / "source=verticals.shop"
    for i in range(30):  # a late event, then a compaction, thirty times
        writer.write([event(i, closed)])
        compact(tmp_path, min_files=8, min_age_s=0)
    (merged,) = folder.glob("*.parquet")
    assert len(merged.name) <= len("compacted-") + 64
    assert ids(folder) == sorted(f"e{i}" for i in range(30))


def test_the_merge_streams_into_row_groups_not_one_per_file(tmp_path, monkeypatch):
    monkeypatch.setattr("app.lake.compact.ROW_GROUP_ROWS", 10)
    writer = LakeWriter(tmp_path)
    for i in range(25):
        writer.write([event(i)])
    folder = tmp_path / "events" / "dt=2026-11-20" / "source=verticals.shop"
    merged = compact_folder(folder, sorted(folder.glob("*.parquet")))
    assert pq.ParquetFile(merged).metadata.num_row_groups == 3  # 10 + 10 + 5 rows
    assert ids(folder) == sorted(f"e{i}" for i in range(25))


def test_files_of_two_schema_versions_merge_with_nulls_and_a_type_clash_is_left_alone(tmp_path, caplog):
    """A column added since a file was written (a bus-metrics file from before latency
    histograms): the merged file has it, null in the old rows. Files that give one column two
    types are left as they are, and the run goes on with the other folders and the rollups."""
    import pyarrow as pa

    mixed, clash = tmp_path / "_bus_metrics" / "dt=2026-11-20", tmp_path / "_bus_metrics" / "dt=2026-11-21"
    for folder in (mixed, clash):
        folder.mkdir(parents=True)
    pq.write_table(pa.table({"metric": ["a"], "value": [1.0]}), mixed / "part-old.parquet")
    pq.write_table(pa.table({"metric": ["b"], "value": [2.0], "samples": [3.0]}), mixed / "part-new.parquet")
    pq.write_table(pa.table({"metric": ["c"], "value": [1.0]}), clash / "part-1.parquet")
    pq.write_table(pa.table({"metric": ["d"], "value": ["one"]}), clash / "part-2.parquet")
    report = compact(tmp_path, min_age_s=0, now=datetime(2026, 12, 21, tzinfo=UTC))  # both days closed
    (merged,) = mixed.glob("*.parquet")
    rows = pq.read_table(merged).sort_by("metric").to_pylist()
    assert rows == [
        {"metric": "a", "value": 1.0, "samples": None},
        {"metric": "b", "value": 2.0, "samples": 3.0},
    ]
    assert sorted(p.name for p in clash.iterdir()) == ["part-1.parquet", "part-2.parquet"]  # no leftovers
    assert report.partitions == 1 and "left as it is" in caplog.text
