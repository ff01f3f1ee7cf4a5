"""Lake paths from event values: a source is stored exactly as sent and never leaves the
lake; an event whose date can't make a partition is refused before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.engines.duckdb_engine import DuckDBEngine
from app.lake.paths import LakePathError, encode_value, folder_name, inside, is_long
from app.lake.tables import EVENTS, ORDERS
from app.lake.writer import LakeWriter, partition_dir, write_parquet_atomic
from tests.lake.test_writer import envelope

SOURCES = [
    "verticals.shop",
    "verticals.shop/x",
    "aws.partner/example.com/123",
    "a/../../b",
    "/../../../tmp/escaped",
    "..",
    ".",
    "../..",
    "%2F",
    "%2F..%2F..",
    "café ☕ 東京",
    "Verticals.Shop",  # differs from verticals.shop in case only
    "a\\..\\..\\b",
    "new\nline\ttab",
    "x=y/dt=2026-01-01",
    "~starts-with-tilde",
    "'; DROP TABLE events; --",
    "s" * 256,
    "/" * 256,
    "é" * 256,
    "verticals.shop/" + "x" * 241,
]


def files_under(path: Path) -> set[str]:
    return {os.path.join(d, f) for d, dirs, files in os.walk(path) for f in files + dirs}


@pytest.fixture
def lake_in_box(tmp_path):
    """A lake one level down in tmp_path, so that anything written beside it shows up."""
    lake = tmp_path / "box" / "lake"
    lake.mkdir(parents=True)
    (tmp_path / "box" / "bus").mkdir()
    return tmp_path, lake


def test_sources_query_back_exactly_and_nothing_lands_outside_the_lake(lake_in_box, duckdb_extensions):
    top, lake = lake_in_box
    before = files_under(top)
    events = [
        {**envelope(source=s, order_id=f"o{i}", amount=1.0, quantity=1), "id": f"e{i}"}
        for i, s in enumerate(SOURCES)
    ]
    written = LakeWriter(lake).write(events)
    outside = {p for p in files_under(top) - before if not p.startswith(str(lake) + os.sep)}
    assert outside == set()
    assert all(inside(lake, p) for p in written)
    engine = DuckDBEngine(lake, extension_directory=duckdb_extensions)
    rows = engine.run("SELECT id, source FROM events").frame
    assert dict(zip(rows["id"], rows["source"], strict=True)) == {f"e{i}": s for i, s in enumerate(SOURCES)}
    engine.close()


@pytest.mark.parametrize("source", ["verticals.shop", "aws.partner/example.com/123", "/" * 256, "é" * 256])
def test_a_filter_on_source_reads_only_that_sources_files(tmp_path, duckdb_extensions, source):
    events = [
        {**envelope(source=s, order_id="o", amount=1.0, quantity=1), "id": f"e{i}"}
        for i, s in enumerate(SOURCES)
    ]
    LakeWriter(tmp_path).write(events)
    engine = DuckDBEngine(tmp_path, extension_directory=duckdb_extensions)
    result = engine.run("SELECT source FROM events WHERE source = :s", {"s": source})
    assert result.frame["source"].tolist() == [source]
    # Its own folder, and the folders of sources too long for a name (their value is in
    # the files): never the other sources' folders.
    long_sources = sum(1 for s in SOURCES if is_long(s))
    assert result.files_scanned == (0 if is_long(source) else 1) + long_sources
    engine.close()


def test_a_source_is_never_stored_as_another():
    names = {folder_name("source", s) for s in SOURCES}
    assert len(names) == len(SOURCES)  # case-insensitive file systems too:
    assert len({n.lower() for n in names}) == len(SOURCES)
    assert all("/" not in n and len(n.encode()) <= 200 and n.isascii() for n in names)


def test_encoding_keeps_plain_sources_readable():
    assert encode_value("verticals.shop") == "verticals.shop"
    assert encode_value("aws.partner/example.com/123") == "aws.partner%2Fexample.com%2F123"
    assert encode_value("%") == "%25"


@pytest.mark.parametrize(
    "keys",
    [
        {"dt": "../../etc", "source": "x"},
        {"dt": "2026-13-01", "source": "x"},
        {"dt": "2026-1-01", "source": "x"},
        {"dt": "2026-01-01", "source": ""},
        {"dt": "2026-01-01", "source": None},
        {"dt": "2026-01-01", "source": "\ud800"},  # a lone surrogate: not text
    ],
)
def test_partition_dir_refuses_values_that_make_no_partition(tmp_path, keys):
    with pytest.raises(LakePathError):
        partition_dir(tmp_path, EVENTS, **keys)


def test_write_parquet_atomic_refuses_a_folder_outside_its_root(tmp_path):
    import pyarrow as pa

    lake = tmp_path / "lake"
    table = pa.table({"x": [1]})
    for folder in (lake / ".." / "outside", tmp_path / "elsewhere", lake):
        with pytest.raises(LakePathError, match="not inside the lake"):
            write_parquet_atomic(table, folder, root=lake)
    with pytest.raises(LakePathError, match="plain name"):
        write_parquet_atomic(table, lake / "orders", prefix="../../x", root=lake)
    (lake / "orders").mkdir(parents=True)
    (tmp_path / "target").mkdir()
    (lake / "orders" / "dt=2026-01-01").symlink_to(tmp_path / "target")
    with pytest.raises(LakePathError, match="not inside the lake"):
        write_parquet_atomic(table, lake / "orders" / "dt=2026-01-01", root=lake)
    assert list((tmp_path / "target").iterdir()) == [] and not (tmp_path / "outside").exists()


@pytest.mark.parametrize(
    "time",
    ["1-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "../../../x/00:00:00Z", None, 20261120, "2026-11-20"],
)
def test_an_event_without_a_valid_utc_day_is_refused_and_nothing_of_its_batch_is_written(tmp_path, time):
    good = envelope(order_id="o1", amount=1.0, quantity=1)
    bad = {**envelope(order_id="o2"), "id": "bad", "time": time}
    with pytest.raises(LakePathError, match="'bad'"):
        LakeWriter(tmp_path).write([good, bad])
    assert list(tmp_path.rglob("*")) == []


def test_years_below_1000_make_four_digit_partitions(tmp_path, duckdb_extensions):
    LakeWriter(tmp_path).write([envelope(time="0999-05-01T00:00:00Z", order_id="o", amount=1.0, quantity=1)])
    assert (tmp_path / "orders" / "dt=0999-05-01").is_dir()
    engine = DuckDBEngine(tmp_path, extension_directory=duckdb_extensions)
    assert engine.run("SELECT dt FROM orders").frame["dt"].tolist() == ["0999-05-01"]
    engine.close()


def test_entity_tables_stay_inside_too(tmp_path):
    assert partition_dir(tmp_path, ORDERS, dt="2026-01-01") == tmp_path / "orders" / "dt=2026-01-01"
