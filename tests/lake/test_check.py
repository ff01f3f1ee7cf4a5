"""check_lake finds the files readers can't use; quarantine moves them aside, never
deletes, and moves nothing more when run again; validate_lake tells a lake from a folder."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.lake.check import (
    NotALake,
    Problem,
    check_lake,
    is_lake,
    quarantine,
    run_check,
    run_quarantine,
    validate_lake,
)
from app.lake.writer import LakeWriter
from tests.lake.test_writer import envelope


@pytest.fixture
def lake(tmp_path):
    LakeWriter(tmp_path).write(
        [
            envelope(order_id="o1", amount=1.0, quantity=1),
            envelope("PaymentFailed", "verticals.payments", order_id="o1", method="card", reason="x"),
            envelope(source="aws.partner/example.com/123", order_id="o2", amount=2.0, quantity=1),
        ]
    )
    return tmp_path


def plant_bad_files(lake):
    day = lake / "orders" / "dt=2026-11-20"
    good = next(day.glob("*.parquet")).read_bytes()
    (day / "truncated.parquet").write_bytes(good[: len(good) // 2])
    (day / "text.parquet").write_text("this is not parquet\n")
    (day / "notes.txt").write_text("remember to compact\n")
    (day / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    pq.write_table(pa.table({"a": [1], "b": ["x"]}), day / "foreign.parquet")
    pq.write_table(pa.table({"event_id": [1]}), day / "wrong-type.parquet")
    pq.write_table(pa.table({"event_id": ["x"]}), lake / "orders" / "loose.parquet")
    (lake / "orders" / "dt=garbage").mkdir()
    pq.write_table(pa.table({"event_id": ["x"]}), lake / "orders" / "dt=garbage" / "x.parquet")
    (day / ".part-20261120T000000-abc.parquet.tmp").write_bytes(b"half")  # a write under way
    return {
        "orders/dt=2026-11-20/.DS_Store",
        "orders/dt=2026-11-20/foreign.parquet",
        "orders/dt=2026-11-20/notes.txt",
        "orders/dt=2026-11-20/text.parquet",
        "orders/dt=2026-11-20/truncated.parquet",
        "orders/dt=2026-11-20/wrong-type.parquet",
        "orders/dt=garbage/x.parquet",
        "orders/loose.parquet",
    }


def test_a_clean_lake_has_no_problems(lake):
    assert check_lake(lake) == []


def test_check_finds_every_bad_file_and_only_those(lake):
    expected = plant_bad_files(lake)
    problems = check_lake(lake)
    assert {p.path for p in problems} == expected
    assert {p.table for p in problems} == {"orders"}
    by_path = {p.path: p.reason for p in problems}
    assert "not a readable Parquet file" in by_path["orders/dt=2026-11-20/truncated.parquet"]
    assert "another schema" in by_path["orders/dt=2026-11-20/foreign.parquet"]
    assert "event_id is int64" in by_path["orders/dt=2026-11-20/wrong-type.parquet"]
    assert "stray" in by_path["orders/dt=2026-11-20/notes.txt"]
    assert "outside a partition folder" in by_path["orders/loose.parquet"]
    assert all(p.sentence().count(". ") == 0 for p in problems)


def test_quarantine_moves_aside_never_deletes_and_is_idempotent(lake):
    expected = plant_bad_files(lake)
    contents = {path: (lake / path).read_bytes() for path in expected}
    problems = check_lake(lake)
    moved = quarantine(lake, problems)
    assert {p.relative_to(lake).as_posix() for p in moved} == {f"_quarantine/{p}" for p in expected}
    assert {path: (lake / "_quarantine" / path).read_bytes() for path in expected} == contents
    assert check_lake(lake) == []
    assert quarantine(lake, problems) == []  # again: nothing more to move
    assert (lake / "orders" / "dt=2026-11-20" / ".part-20261120T000000-abc.parquet.tmp").exists()


def test_quarantine_keeps_both_when_a_name_comes_back(lake):
    stray = lake / "orders" / "dt=2026-11-20" / "notes.txt"
    stray.write_text("one")
    quarantine(lake, check_lake(lake))
    stray.write_text("two")
    quarantine(lake, check_lake(lake))
    kept = lake / "_quarantine" / "orders" / "dt=2026-11-20"
    assert (kept / "notes.txt").read_text() == "one" and (kept / "notes.txt.1").read_text() == "two"


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "_quarantine/orders/x.parquet"])
def test_quarantine_moves_nothing_outside_the_lake_or_from_the_quarantine(tmp_path, path):
    lake = tmp_path / "lake"
    (lake / "_quarantine" / "orders").mkdir(parents=True)
    (tmp_path / "outside.txt").write_text("mine")
    (lake / "_quarantine" / "orders" / "x.parquet").write_text("kept")
    assert quarantine(lake, [Problem(path, "orders", "x")]) == []
    assert (tmp_path / "outside.txt").exists() and (lake / "_quarantine" / "orders" / "x.parquet").exists()


def test_a_link_out_of_the_lake_is_a_problem(lake, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    pq.write_table(pa.table({"event_id": ["x"]}), outside / "x.parquet")
    (lake / "orders" / "dt=2026-11-21").symlink_to(outside)
    (problem,) = check_lake(lake)
    assert problem.path == "orders/dt=2026-11-21" and "link" in problem.reason
    (moved,) = quarantine(lake, [problem])
    assert moved.is_symlink() and (outside / "x.parquet").exists()


def test_validate_lake(lake, tmp_path_factory):
    assert validate_lake(lake) == lake.resolve() and is_lake(lake)
    empty = tmp_path_factory.mktemp("new-lake")
    assert is_lake(empty)  # a new lake: the bus fills it
    with pytest.raises(NotALake, match=r"^/etc is not a lake: it has none of the lake's table folders"):
        validate_lake("/etc")
    with pytest.raises(NotALake, match="does not exist"):
        validate_lake(empty / "nope")
    assert validate_lake(empty / "nope", may_be_missing=True) == (empty / "nope").resolve()
    with pytest.raises(NotALake, match="is a file"):
        validate_lake(next(lake.rglob("*.parquet")))


def test_run_check_and_run_quarantine(lake):
    assert run_check(lake) == (f"The lake at {lake.resolve()} has no problem files.", 0)
    (lake / "orders" / "dt=2026-11-20" / "notes.txt").write_text("x")
    report, status = run_check(lake)
    assert status == 1 and report.splitlines()[0].startswith("orders/dt=2026-11-20/notes.txt (orders): ")
    report, status = run_quarantine(lake)
    assert status == 0 and report.splitlines()[0] == "moved _quarantine/orders/dt=2026-11-20/notes.txt"
    assert run_quarantine(lake)[0].endswith("nothing moved.")
    with pytest.raises(NotALake):
        run_check("/etc")
