"""A bad file costs only the queries that read its table: they fail with one sentence
naming the file, other tables and the engine's start keep working, and once the file is
quarantined the same engine reads the table again."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.engines.base import QueryError
from app.engines.duckdb_engine import DuckDBEngine
from app.lake.check import check_lake, quarantine
from app.lake.writer import LakeWriter
from tests.lake.test_writer import envelope


def write_lake(lake):
    LakeWriter(lake).write(
        [
            envelope(time="2026-11-20T10:00:00Z", order_id="o1", amount=1.0, quantity=1),
            envelope(time="2026-11-21T10:00:00Z", order_id="o2", amount=2.0, quantity=1),
            envelope("PaymentFailed", "verticals.payments", order_id="o1", method="card", reason="x"),
        ]
    )


def truncated(path, good):
    path.write_bytes(good.read_bytes()[:100])


def text(path, good):
    path.write_text("order_id,amount\no9,9.0\n")


def empty(path, good):
    path.write_bytes(b"")


def foreign(path, good):
    pq.write_table(pa.table({"a": [1], "b": ["x"]}), path)


BAD = [truncated, text, empty, foreign]


def check_tables_work(engine):
    assert engine.run("SELECT count(*) AS n FROM payments").frame.loc[0, "n"] == 1
    assert engine.run("SELECT count(*) AS n FROM events").frame.loc[0, "n"] == 3


def assert_names_the_file(error, name):
    message = str(error.value)
    assert f"orders/{name}" in message
    assert (
        not re.search(r"\. [A-Z]", message) and "\n" not in message and message.endswith(".")
    )  # one sentence


@pytest.mark.parametrize("make_bad", BAD)
@pytest.mark.parametrize("first", [True, False], ids=["first-file", "later-file"])
def test_a_bad_file_costs_only_its_tables_queries(tmp_path, duckdb_extensions, make_bad, first):
    write_lake(tmp_path)
    good = next((tmp_path / "orders" / "dt=2026-11-20").glob("*.parquet"))
    # The first file of the table's glob is read at the engine's start; a later one only by queries.
    name = "dt=2026-11-20/0-bad.parquet" if first else "dt=2026-11-21/z-bad.parquet"
    make_bad(tmp_path / "orders" / name, good)

    engine = DuckDBEngine(tmp_path, extension_directory=duckdb_extensions)  # starts
    check_tables_work(engine)
    with pytest.raises(QueryError) as error:
        engine.run("SELECT order_id FROM orders")
    assert_names_the_file(error, name)
    check_tables_work(engine)

    (problem,) = check_lake(tmp_path)
    assert problem.path == f"orders/{name}"
    quarantine(tmp_path, [problem])
    assert sorted(engine.run("SELECT order_id FROM orders").frame["order_id"]) == ["o1", "o2"]
    engine.close()


def test_stray_files_cost_nothing(tmp_path, duckdb_extensions):
    write_lake(tmp_path)
    day = tmp_path / "orders" / "dt=2026-11-20"
    (day / "notes.txt").write_text("hello")
    (day / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tmp_path / "events" / ".DS_Store").write_bytes(b"\0")
    engine = DuckDBEngine(tmp_path, extension_directory=duckdb_extensions)
    assert engine.run("SELECT count(*) AS n FROM orders").frame.loc[0, "n"] == 2
    check_tables_work(engine)
    assert {p.path for p in check_lake(tmp_path)} == {
        "events/.DS_Store",
        "orders/dt=2026-11-20/.DS_Store",
        "orders/dt=2026-11-20/notes.txt",
    }
    engine.close()


def test_a_bad_raw_events_file_names_itself(tmp_path, duckdb_extensions):
    write_lake(tmp_path)
    folder = tmp_path / "events" / "dt=2026-11-20" / "source=verticals.shop"
    (folder / "zz.parquet").write_text("not parquet")
    engine = DuckDBEngine(tmp_path, extension_directory=duckdb_extensions)
    with pytest.raises(QueryError, match=r"events/dt=2026-11-20/source=verticals\.shop/zz\.parquet"):
        engine.run("SELECT count(*) FROM events")
    assert engine.run("SELECT count(*) AS n FROM orders").frame.loc[0, "n"] == 2
    engine.close()
