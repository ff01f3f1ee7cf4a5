import threading
import time
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from app.engines.base import QueryError
from app.engines.duckdb_engine import DuckDBEngine, describe_error, scan_totals, view_sql
from app.lake.tables import ORDERS, TABLES
from app.lake.writer import LakeWriter
from tests.fixtures_lake import FIXTURE_END, event

D0, D1, D2 = (str(FIXTURE_END - timedelta(days=k)) for k in (2, 1, 0))


def test_every_lake_table_is_a_view_with_its_glue_columns(engine):
    assert engine.tables() == list(TABLES)
    for table in TABLES.values():
        frame = engine.run(f"SELECT * FROM {table.name} WHERE dt = :day", {"day": D0}).frame
        assert list(frame.columns) == table.column_names + list(table.partitions)


def test_partition_columns_are_text_and_times_are_utc(engine):
    frame = engine.run("SELECT dt, time, hour(time) AS h FROM orders WHERE order_id = 'o1'").frame
    assert frame.loc[0, "dt"] == D0
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"
    assert frame.loc[0, "h"] == 8
    # Set on purpose, not inherited from the machine (whose default reads "Etc/UTC" here).
    assert engine.run("SELECT current_setting('TimeZone') AS tz").frame.loc[0, "tz"] == "UTC"


def test_named_parameters_are_bound_not_spliced(engine):
    hostile = "'; DROP VIEW orders; --"
    frame = engine.run("SELECT count(*) AS n FROM orders WHERE region = :r", {"r": hostile}).frame
    assert frame.loc[0, "n"] == 0
    assert engine.run("SELECT count(*) AS n FROM orders").frame.loc[0, "n"] == 5


def test_array_parameter_with_contains(engine):
    sql = "SELECT order_id FROM orders WHERE dt BETWEEN :s AND :e AND contains(:regions, region) ORDER BY 1"
    frame = engine.run(sql, {"s": D0, "e": D2, "regions": ["west", "central"]}).frame
    assert frame["order_id"].tolist() == ["o2", "o4"]


def test_partition_pruning_reads_only_the_days_asked_for(engine):
    one_day = engine.run("SELECT count(*) AS n FROM orders WHERE dt = :d", {"d": D1})
    all_days = engine.run("SELECT count(*) AS n FROM orders")
    assert (one_day.files_scanned, all_days.files_scanned) == (1, 3)
    assert 0 < one_day.bytes_scanned < all_days.bytes_scanned


def test_source_partition_prunes_the_raw_events(engine):
    result = engine.run(
        "SELECT count(*) AS n FROM events WHERE dt = :d AND source = 'verticals.crm'", {"d": D1}
    )
    assert result.files_scanned == 1 and result.frame.loc[0, "n"] == 1


def test_result_carries_engine_metadata(engine):
    result = engine.run(
        "SELECT json_extract_scalar(detail, '$.order_id') AS o FROM events "
        "WHERE dt = :d AND detail_type = 'OrderPlaced'",
        {"d": D2},
    )
    assert result.frame["o"].tolist() == ["o4"]
    assert result.engine == "duckdb" and "->>" in result.sql and result.elapsed_s > 0
    assert result.rows == 1


def test_table_without_files_is_empty_with_typed_columns(tmp_path, duckdb_extensions):
    engine = DuckDBEngine(tmp_path / "no-lake-yet", extension_directory=duckdb_extensions)
    frame = engine.run("SELECT * FROM shipments").frame
    assert frame.empty and list(frame.columns) == [*TABLES["shipments"].column_names, "dt"]
    typed = engine.run("SELECT sum(transit_hours) + 1.5 AS x, max(promised_date) AS d FROM shipments").frame
    assert typed["x"].isna().all()


def test_files_written_after_start_are_seen(tmp_path, duckdb_extensions):
    engine = DuckDBEngine(tmp_path, extension_directory=duckdb_extensions)
    assert engine.run("SELECT count(*) AS n FROM refunds").frame.loc[0, "n"] == 0
    LakeWriter(tmp_path).write(
        [event("RefundIssued", FIXTURE_END, 1, refund_id="r9", order_id="o9", amount=5.0, reason="other")]
    )
    (tmp_path / "refunds" / f"dt={FIXTURE_END}" / ".part-x.parquet.tmp").write_bytes(b"half a file")
    assert engine.run("SELECT count(*) AS n FROM refunds").frame.loc[0, "n"] == 1


def test_files_missing_a_newer_column_read_it_as_null(tmp_path, duckdb_extensions):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "refunds" / "dt=2026-01-01"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"refund_id": ["old"], "amount": [1.0]}), folder / "old.parquet")
    LakeWriter(tmp_path).write(
        [event("RefundIssued", FIXTURE_END, 1, refund_id="new", order_id="o", amount=2.0, reason="other")]
    )
    engine = DuckDBEngine(tmp_path, extension_directory=duckdb_extensions)
    frame = engine.run("SELECT refund_id, reason FROM refunds ORDER BY refund_id").frame
    assert frame["refund_id"].tolist() == ["new", "old"]
    assert frame["reason"].tolist()[0] == "other" and pd.isna(frame["reason"].tolist()[1])


def test_database_qualified_names_read_the_local_views(engine):
    assert engine.run("SELECT count(*) AS n FROM verticals.orders").frame.loc[0, "n"] == 5


@pytest.mark.parametrize(
    "sql, params, message",
    [
        pytest.param("SELECT nope FROM orders", {}, r'unknown column: .*"nope"', id="unknown-column"),
        pytest.param("SELECT * FROM nope", {}, "unknown table 'nope'", id="unknown-table"),
        pytest.param(
            "SELECT * FROM orders WHERE dt = :day", {}, "missing value for parameter :day", id="missing-param"
        ),
        pytest.param("SELECT 1 AS x", {"day": "x"}, "unknown parameter :day", id="unknown-param"),
        pytest.param(
            "SELECT * FROM orders WHERE quantity = :q", {"q": "many"}, "type error", id="bad-value-type"
        ),
        pytest.param("SELECT lower(quantity) FROM orders", {}, "type error", id="bad-function-type"),
        pytest.param("SELECT no_such_fn(1)", {}, "unknown function", id="unknown-function"),
        pytest.param("DELETE FROM orders", {}, "only SELECT", id="delete"),
        pytest.param("SELECT 1; DROP VIEW orders", {}, "one SELECT", id="stacked"),
        pytest.param("SELECT * FROM read_text('/etc/hostname')", {}, "table functions", id="file-read"),
    ],
)
def test_errors_are_one_clear_sentence(engine, sql, params, message):
    with pytest.raises(QueryError, match=message) as caught:
        engine.run(sql, params)
    assert "\n" not in str(caught.value) and "LINE 1" not in str(caught.value)


def test_the_database_itself_cannot_read_outside_the_lake(engine, tmp_path):
    """A second wall behind the SQL checks: DuckDB may only open files under the lake."""
    import duckdb

    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    cursor = engine._db.cursor()
    with pytest.raises(duckdb.PermissionException):
        cursor.execute(f"SELECT * FROM read_csv('{secret}')")
    assert cursor.execute("SELECT count(*) FROM orders").fetchone() == (5,)


def test_a_cte_in_a_subquery_carries_no_lake_file_past_the_check(engine, fixture_lake):
    part = next((fixture_lake / "orders").rglob("*.parquet"))
    with pytest.raises(QueryError, match="file paths are not allowed"):
        engine.run(f'SELECT * FROM (WITH "{part}" AS (SELECT 1) SELECT 1) q, "{part}"')
    with pytest.raises(QueryError, match="unknown table 'secret'"):
        engine.run("SELECT * FROM (WITH secret AS (SELECT 1) SELECT 1) q, secret")


def test_a_table_name_never_reads_a_python_variable(engine):
    import duckdb

    secret = pd.DataFrame({"a": [1]})  # DuckDB's Python replacement scan would find it by name
    cursor = engine._db.cursor()
    with pytest.raises(duckdb.CatalogException):
        cursor.execute("SELECT * FROM secret")
    assert len(secret) == 1


def test_a_query_that_never_ends_is_stopped_and_the_engine_goes_on(fixture_lake, duckdb_extensions):
    engine = DuckDBEngine(fixture_lake, extension_directory=duckdb_extensions, timeout_s=0.5)
    endless = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t"
    started = time.monotonic()
    try:
        with pytest.raises(QueryError) as caught:
            engine.run(endless)
        assert str(caught.value) == (
            "The query ran longer than 0.5 s and was stopped; VERTICALS_QUERY_TIMEOUT sets the limit."
        )
        assert time.monotonic() - started < 60  # stopped, not run to the end (it has none)
        assert engine.run("SELECT count(*) AS n FROM orders").frame.loc[0, "n"] == 5
    finally:
        engine.close()


def test_concurrent_queries_from_threads(engine):
    results, errors = [], []

    def work(day):
        try:
            results.append(
                engine.run("SELECT count(*) AS n FROM events WHERE dt = :d", {"d": day}).frame.loc[0, "n"]
            )
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(day,)) for day in (D0, D1, D2) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 12


def test_view_sql_quotes_the_lake_path(tmp_path):
    sql = view_sql(ORDERS, tmp_path / "it's here")
    assert "it''s here/orders/**/*.parquet" in sql


@pytest.mark.parametrize(
    "profile, expected",
    [
        pytest.param({}, (0, 0), id="empty"),
        pytest.param(
            {
                "io": {"total_bytes_read": 10},
                "operator": [
                    {
                        "extra_info": {},
                        "children": [
                            {"name": "READ_PARQUET", "extra_info": {"Total Files Read": "2"}, "children": []},
                            {"name": "READ_PARQUET", "extra_info": {"Total Files Read": "3"}, "children": []},
                        ],
                    }
                ],
            },
            (5, 10),
            id="self-join-counts-both-scans",
        ),
    ],
)
def test_scan_totals(profile, expected):
    assert scan_totals(profile) == expected


def test_describe_error_drops_the_sql_excerpt():
    import duckdb

    error = duckdb.BinderException(
        'Binder Error: Referenced column "x" not found in FROM clause!\nCandidate bindings: "a"\n'
        "\nLINE 1: SELECT x\n       ^"
    )
    assert describe_error(error) == (
        'unknown column: Binder Error: Referenced column "x" not found in FROM clause! '
        'Candidate bindings: "a"'
    )


def test_counts_and_integer_sums_come_back_as_integers(engine):
    frame = engine.run(
        "SELECT count_if(region = 'east') AS east, sum(quantity) AS units, "
        "sum(amount) AS amount, sum(CASE WHEN false THEN 1 END) AS none FROM orders"
    ).frame
    assert frame.loc[0, "east"] == 3 and str(frame["east"].dtype) == "Int64"
    assert frame.loc[0, "units"] == 10 and str(frame["units"].dtype) == "Int64"
    assert str(frame["amount"].dtype) == "float64" and pd.isna(frame.loc[0, "none"])


def _old_refunds_file(folder):
    """A refunds file from before the reason and order_id columns existed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    pq.write_table(
        pa.table({"event_id": ["old"], "refund_id": ["old"], "amount": [1.0]}), folder / "old.parquet"
    )


def test_tables_read_by_name_only_when_their_first_file_lacks_a_column(tmp_path, duckdb_extensions):
    _old_refunds_file(tmp_path / "refunds" / "dt=2026-01-01")
    LakeWriter(tmp_path).write([event("OrderPlaced", FIXTURE_END, 1, order_id="o")])
    engine = DuckDBEngine(tmp_path, extension_directory=duckdb_extensions)
    assert engine.union_by_name["refunds"] is True
    assert engine.union_by_name["orders"] is False and engine.union_by_name["tickets"] is False


@pytest.mark.parametrize("rows", ["frame", "columns"])
def test_a_later_file_lacking_a_column_switches_the_table_to_by_name(tmp_path, duckdb_extensions, rows):
    LakeWriter(tmp_path).write(
        [
            event(
                "RefundIssued",
                FIXTURE_END - timedelta(days=1),
                1,
                refund_id="new",
                order_id="o",
                amount=2.0,
                reason="other",
            )
        ]
    )
    engine = DuckDBEngine(tmp_path, extension_directory=duckdb_extensions)
    assert engine.union_by_name["refunds"] is False
    _old_refunds_file(tmp_path / "refunds" / f"dt={FIXTURE_END}")
    got = getattr(engine, rows)("SELECT refund_id, reason FROM refunds ORDER BY refund_id")
    assert list(got["refund_id"]) == ["new", "old"] and pd.isna(got["reason"]).tolist() == [False, True]
    assert engine.union_by_name["refunds"] is True


def test_the_last_day_from_folder_names_is_the_last_day_a_query_finds(
    fixture_lake, duckdb_extensions, tmp_path
):
    import shutil

    from app.services.analytics_data import LAST_DAY_SQL

    lake = tmp_path / "lake"
    shutil.copytree(fixture_lake, lake)
    later = (FIXTURE_END + timedelta(days=3)).isoformat()
    for name in (f"dt={later}", "dt=9999-99-99", "dt=not-a-day"):  # no data file, or no day at all
        (lake / "orders" / name).mkdir()
    (lake / "orders" / f"dt={later}" / ".part-0.parquet.tmp").write_bytes(b"a writer's work file")
    engine = DuckDBEngine(lake, extension_directory=duckdb_extensions)
    for since in (D0, D2, later):
        queried = engine.run(LAST_DAY_SQL, {"since": since}).frame["last_day"].iloc[0]
        assert engine.last_day("orders", since) == (None if pd.isna(queried) else queried), since
    assert engine.last_day("orders", D0) == D2 and engine.last_day("orders", later) is None


def test_columns_are_the_frames_rows_as_arrays_nulls_included(engine):
    """``columns`` (the pages' statements on arrays: no DataFrame) gives the values ``frame``
    gives, not its dtypes: each column an array, nulls as NaN (numbers; integers with a null
    become floats), NaT and None."""
    sql = (
        "SELECT order_id, time, CAST(time AS DATE) AS day, cancel_reason, quantity, amount,"
        " CASE WHEN detail_type = 'OrderPlaced' THEN quantity END AS placed_quantity,"
        " CASE WHEN detail_type = 'OrderPlaced' THEN CAST(time AS DATE) END AS placed_day,"
        " CASE WHEN detail_type = 'OrderPlaced' THEN amount END AS placed_amount"
        " FROM orders ORDER BY order_id, time"
    )
    frame, columns = engine.frame(sql), engine.columns(sql)
    assert list(columns) == list(frame.columns)
    assert all(type(column) is np.ndarray for column in columns.values())  # no masked array left
    assert frame["cancel_reason"].isna().any() and frame["placed_day"].isna().any()  # nulls to fill
    for name in ("order_id", "cancel_reason"):
        assert columns[name].tolist() == [None if pd.isna(v) else v for v in frame[name]], name
    assert (columns["time"] == frame["time"].dt.tz_convert(None).to_numpy()).all()
    for name in ("day", "placed_day"):
        np.testing.assert_array_equal(columns[name], frame[name].to_numpy(dtype="datetime64[us]"), name)
    for name in ("quantity", "amount", "placed_quantity", "placed_amount"):
        np.testing.assert_array_equal(columns[name], frame[name].to_numpy(dtype=float, na_value=np.nan), name)
