"""The local query engine: DuckDB over the Parquet lake on disk.

Every lake table (app/lake/tables.py) is a view with the Glue table's name over the
table's Hive-partitioned files, so that saved Athena SQL runs unchanged once sqlglot has
transpiled it. The view is built as

    SELECT <declared columns> FROM (<typed empty row set> UNION ALL BY NAME read_parquet(...))

so that a table without files yet is empty with the declared column types, and files
written before a column existed read it as NULL. ``read_parquet`` globs at every query,
so new files show up without rebuilding anything; writers publish by rename, and the
``*.parquet`` glob never sees their ``.tmp`` names.

Safety: a query must be one SELECT over lake tables (checked with sqlglot), parameters
are bound by DuckDB (``$name``), and the database may only read files under the lake
(``enable_external_access=false`` with ``allowed_directories``).
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from time import perf_counter
from typing import Any

import duckdb
import pandas as pd
from sqlglot import exp

from app.engines.base import QueryError, QueryResult
from app.engines.sqlparams import check_params, check_tables, lake_tables, parse_query, to_duckdb
from app.lake.tables import TABLES, Table

DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "array<string>": "VARCHAR[]",
}
PARTITION_TYPE = "VARCHAR"  # dt and source compare as text in Athena and here alike


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def table_columns(table: Table) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a table's columns, partition columns last (as Glue has them)."""
    return [(c.name, DUCKDB_TYPES[c.type]) for c in table.columns] + [
        (p, PARTITION_TYPE) for p in table.partitions
    ]


def files_sql(table: Table, lake: Path, union_by_name: bool = True) -> str:
    glob = quote_string(f"{lake}/{table.name}/**/*.parquet")
    hive_types = ", ".join(f"{quote_string(p)}: {quote_string(PARTITION_TYPE)}" for p in table.partitions)
    return (
        f"SELECT * FROM read_parquet({glob}, hive_partitioning = true, "
        f"hive_types = {{{hive_types}}}, union_by_name = {str(union_by_name).lower()}, "
        "allow_empty = true)"
    )


def view_sql(table: Table, lake: Path, union_by_name: bool = True) -> str:
    """The view that shows ``table``'s files under the Glue table's name."""
    columns = table_columns(table)
    typed_empty = ", ".join(f"CAST(NULL AS {t}) AS {quote_identifier(n)}" for n, t in columns)
    names = ", ".join(quote_identifier(n) for n, _ in columns)
    return (
        f"CREATE OR REPLACE VIEW {quote_identifier(table.name)} AS SELECT {names} FROM "
        f"(SELECT {typed_empty} WHERE false UNION ALL BY NAME "
        f"{files_sql(table, lake, union_by_name)})"
    )


def scan_totals(profile: Mapping[str, Any]) -> tuple[int, int]:
    """(files read, bytes read) from DuckDB's JSON profile.

    DuckDB 2.0 reports ``Total Files Read`` in each READ_PARQUET operator's ``extra_info``
    and the bytes the query read from disk in ``io.total_bytes_read`` (file metadata
    included).
    """
    files = sum(_files_read(op) for op in profile.get("operator", ()))
    return files, int(profile.get("io", {}).get("total_bytes_read", 0))


def _files_read(operator: Mapping[str, Any]) -> int:
    own = int(operator.get("extra_info", {}).get("Total Files Read", 0) or 0)
    return own + sum(_files_read(child) for child in operator.get("children", ()))


# DuckDB error text -> what to tell the user first. Checked in order; first match wins.
_ERROR_KINDS = (
    ("Referenced column", "unknown column"),
    ("not found in FROM clause", "unknown column"),
    ("does not have a column", "unknown column"),
    ("No function matches", "type error"),
    ("Could not convert", "type error"),
    ("Conversion Error", "type error"),
    ("Cannot mix values", "type error"),
    ("Function with name", "unknown function"),
    ("Permission Error", "not allowed"),
)


def describe_error(exc: duckdb.Error) -> str:
    """One actionable sentence from a DuckDB error (its message without the SQL excerpt)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    kept = [ln for ln in lines if not ln.startswith("LINE ") and set(ln) != {"^"}][:2]
    if len(kept) == 2 and kept[1].endswith(":"):  # a heading for a list we left out
        kept.pop()
    message = " ".join(kept) or type(exc).__name__
    kind = next((label for needle, label in _ERROR_KINDS if needle in message), "query failed")
    return f"{kind}: {message}"


class DuckDBEngine:
    """Runs Athena SQL over the local lake. Safe to share between threads: each query
    runs on its own cursor (a DuckDB connection to the same in-memory database)."""

    name = "duckdb"

    def __init__(
        self, lake: Path, *, extension_directory: str | Path | None = None,
        union_by_name: bool = True,
    ):
        self.lake = Path(lake).expanduser().resolve()
        self._lock = threading.Lock()
        self._db = _open_database(self.lake, extension_directory, union_by_name)

    def tables(self) -> list[str]:
        return list(TABLES)

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        values = dict(params or {})
        tree = parse_query(sql)
        check_tables(tree, TABLES)
        check_params(tree, values)
        duck_sql = to_duckdb(_without_qualifiers(tree))
        cursor = self._cursor()
        try:
            started = perf_counter()
            frame = _execute(cursor, duck_sql, values)
            elapsed = perf_counter() - started
            profile = json.loads(cursor.get_profiling_information(format="json"))
        finally:
            cursor.close()
        files, scanned = scan_totals(profile)
        return QueryResult(frame=frame, elapsed_s=elapsed, bytes_scanned=scanned,
                           files_scanned=files, engine=self.name, sql=duck_sql)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            cursor = self._db.cursor()
        # Profiling is a per-connection setting (DuckDB refuses SET GLOBAL for it).
        cursor.execute("SET enable_profiling = 'no_output'")
        return cursor


def _open_database(lake: Path, extension_directory: str | Path | None, union_by_name: bool):
    extensions = str(extension_directory or Path(tempfile.gettempdir()) / "verticals-duckdb-ext")
    db = duckdb.connect(":memory:", config={"extension_directory": extensions})
    # ICU is built in but not loaded when connect() applies its config; set it afterwards.
    # GLOBAL so that every cursor inherits it: timestamps group by UTC days and hours.
    db.execute("SET GLOBAL TimeZone = 'UTC'")
    for table in TABLES.values():
        db.execute(view_sql(table, lake, union_by_name))
    db.execute(f"SET allowed_directories = [{quote_string(str(lake) + '/')}]")
    db.execute("SET enable_external_access = false")
    return db


def _without_qualifiers(tree: exp.Expression) -> exp.Expression:
    """``verticals.orders`` (as written for Athena) reads the local ``orders`` view."""
    tree = tree.copy()
    for table in lake_tables(tree):
        table.set("db", None)
        table.set("catalog", None)
    return tree


def _execute(cursor: duckdb.DuckDBPyConnection, sql: str, values: dict[str, Any]) -> pd.DataFrame:
    try:
        frame = cursor.execute(sql, values or None).df()
    except duckdb.Error as exc:
        raise QueryError(describe_error(exc)) from exc
    return with_whole_counts(frame, [str(d[1]) for d in cursor.description or ()])


def with_whole_counts(frame: pd.DataFrame, duckdb_types: list[str]) -> pd.DataFrame:
    """DuckDB's ``count_if`` and ``sum`` of integers are HUGEINT, which pandas receives as
    float; Athena returns bigint. Give those columns back as (nullable) integers."""
    for name, kind in zip(list(frame.columns), duckdb_types):
        if kind in ("HUGEINT", "UHUGEINT") and frame[name].dropna().map(float.is_integer).all():
            frame[name] = frame[name].astype("Int64")
    return frame
