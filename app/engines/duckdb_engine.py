"""The local query engine: DuckDB over the Parquet lake on disk.

Every lake table (app/lake/tables.py) is a view with the Glue table's name over the
table's Hive-partitioned files, so that saved Athena SQL runs unchanged once sqlglot has
transpiled it. The view is built as

    SELECT <declared columns> FROM (<typed empty row set> UNION ALL BY NAME read_parquet(...))

so that a table without files yet is empty with the declared column types. Files written
before a column existed read it as NULL when the view reconciles files by column name
(``union_by_name``); that reads every file's footer at every query, so a table only does
it when its files need it (:func:`needs_union_by_name`). ``read_parquet`` globs at every
query, so new files show up without rebuilding anything; writers publish by rename, and
the ``*.parquet`` glob never sees their ``.tmp`` names. A query whose ``dt`` filters bound a
table reads that table through its files macro over the admitted days' files only
(:func:`files_macro_sql`, :meth:`DuckDBEngine.run`): the whole table's glob lists every
partition folder first.

Safety: a query must be one SELECT over lake tables (checked with sqlglot), parameters
are bound by DuckDB (``$name``), and the database may only read files under the lake
(``enable_external_access=false`` with ``allowed_directories``). A query running longer than
``timeout_s`` (the ``VERTICALS_QUERY_TIMEOUT`` setting) is stopped by DuckDB itself
(``max_execution_time``), so a query that never ends (an endless recursive CTE) gives its
cursor back; the database stays usable.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import tempfile
import threading
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any, TypeAlias

import duckdb
import numpy as np
import pandas as pd
from sqlglot import exp

from app.engines.base import QueryError, QueryResult
from app.engines.day_filters import DayFilter, day_filters
from app.engines.sqlparams import (
    check_params,
    check_tables,
    expand_in_lists,
    lake_tables,
    parse_query,
    placeholders,
    to_duckdb,
)
from app.lake.check import check_lake, file_problem, parquet_problem
from app.lake.paths import LONG_MARKER, check_dt, exact_column, is_dt
from app.lake.rollups import FILE_NAME, ROLLUP_TABLES, clean_days
from app.lake.sql import DUCKDB_TYPES, PARTITION_TYPE, quote_identifier, quote_string
from app.lake.tables import TABLES, Table

# VERTICALS_QUERY_TIMEOUT's default (app/settings.py), for an engine made without settings.
DEFAULT_TIMEOUT_S = 120.0

# What a query may read: the lake's tables and the rollups (app/lake/rollups.py) beside them.
QUERYABLE: dict[str, Table] = {**TABLES, **ROLLUP_TABLES}


def table_columns(table: Table) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a table's columns, partition columns last (as Glue has them)."""
    return [(c.name, DUCKDB_TYPES[c.type]) for c in table.columns] + [
        (p, PARTITION_TYPE) for p in table.partitions
    ]


def files_sql(
    table: Table, lake: Path, union_by_name: bool = True, glob_path: str | list[str] | None = None
) -> str:
    if isinstance(glob_path, list):
        glob = "[" + ", ".join(quote_string(g) for g in glob_path) + "]"
    else:
        glob = quote_string(glob_path or f"{lake}/{table.name}/**/*.parquet")
    return _read_sql(table, glob, union_by_name)


def _read_sql(table: Table, files: str, union_by_name: bool) -> str:
    """``read_parquet`` of ``files``: an SQL expression (a quoted glob, a list, a macro's parameter)."""
    hive_types = ", ".join(f"{quote_string(p)}: {quote_string(PARTITION_TYPE)}" for p in table.partitions)
    return (
        f"SELECT * FROM read_parquet({files}, hive_partitioning = true, "
        f"hive_types = {{{hive_types}}}, union_by_name = {str(union_by_name).lower()}, "
        "allow_empty = true)"
    )


def _listing(folder: Path) -> set[str]:
    """The names of ``folder``'s subfolders (one directory read)."""
    try:
        with os.scandir(folder) as entries:
            return {entry.name for entry in entries if entry.is_dir()}
    except (FileNotFoundError, NotADirectoryError):
        return set()


def _day_folders(folder: Path) -> list[str] | None:
    """The ``dt`` values of ``folder``'s ``dt=YYYY-MM-DD`` folders (one directory read), or
    None when it holds anything else (a file, a hidden or differently named folder): the
    whole table's glob would read that too, so only the whole table answers the query."""
    days = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                day = entry.name.removeprefix("dt=")
                if not (entry.name.startswith("dt=") and is_dt(day) and entry.is_dir()):
                    return None
                days.append(day)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return days


def _holds_data(folder: Path) -> bool:
    """Whether ``folder`` or a folder in it holds a Parquet file (not a hidden one)."""
    for _, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if any(f.endswith(".parquet") and not f.startswith(".") for f in files):
            return True
    return False


# A rollup table read for more days than this reads through its view's glob instead of
# one path a day: on the 30M-event bench lake the paths win up to ~200 days (100: 20 against
# 24 ms; 36: 12 against 17), the glob past that (365: 53 against 48).
ROLLUP_PATHS_UP_TO = 100


def _relation_sql(table: Table, union_by_name: bool, short: str, long: str) -> str:
    """``table``'s declared columns over files ``short`` and, for a table partitioned by
    ``source``, the long-source files ``long`` (SQL expressions: quoted globs, lists, or a
    macro's parameters).

    A ``source`` partition value comes from the folder name, which DuckDB's Hive
    partitioning decodes (``%2F`` -> ``/``, app/lake/paths.py). A source too long for a
    folder name is in folders ``source=~…`` (a literal ``~`` starts no other folder name)
    and in the files' ``source_value`` column: those files are read by a second scan of
    their own, so that a filter on ``source`` still prunes the other folders.
    """
    columns = table_columns(table)
    typed_empty = ", ".join(f"CAST(NULL AS {t}) AS {quote_identifier(n)}" for n, t in columns)
    names = ", ".join(quote_identifier(n) for n, _ in columns)
    relation = (
        f"SELECT {names} FROM (SELECT {typed_empty} WHERE false UNION ALL BY NAME "
        f"{_read_sql(table, short, union_by_name)})"
    )
    if "source" not in table.partitions:
        return relation
    exact = quote_identifier(exact_column("source"))
    long_names = ", ".join(f"{exact} AS source" if n == "source" else quote_identifier(n) for n, _ in columns)
    return (
        f"{relation} UNION ALL "
        f"SELECT {long_names} FROM (SELECT {typed_empty}, CAST(NULL AS VARCHAR) AS {exact} WHERE false "
        f"UNION ALL BY NAME {_read_sql(table, long, True)})"
    )


def _whole_globs(table: Table, lake: Path) -> tuple[str, str]:
    if table.name in ROLLUP_TABLES:  # one file a day, of one name: no folder of a day listed
        return f"{lake}/{table.name}/dt=*/{FILE_NAME}", ""
    if "source" not in table.partitions:
        return f"{lake}/{table.name}/**/*.parquet", ""
    return (
        f"{lake}/{table.name}/*/source=[!{LONG_MARKER}]*/*.parquet",
        f"{lake}/{table.name}/*/source={LONG_MARKER}*/*.parquet",
    )


def view_sql(table: Table, lake: Path, union_by_name: bool = True) -> str:
    """The view that shows ``table``'s files under the Glue table's name."""
    short, long = (quote_string(g) for g in _whole_globs(table, lake))
    return (
        f"CREATE OR REPLACE VIEW {quote_identifier(table.name)} AS "
        f"{_relation_sql(table, union_by_name, short, long)}"
    )


def files_macro(name: str) -> str:
    """The table macro that reads table ``name``'s view over given files only."""
    return f"{name}__files"


def files_macro_sql(table: Table, union_by_name: bool = True) -> str:
    """``<table>__files(files[, long_files])``: the table's view over the files and globs of
    the lists given (:func:`day_files`). A query reading a few days of a table reads them
    through it (:meth:`DuckDBEngine.run`): the whole table's glob lists every partition
    folder first. A macro, not a temporary view per query: DuckDB binds a view's files
    when it is made and again in the query (a view over 8 rollup files cost about 1 ms
    more than the macro's one binding, on the 30M-event bench lake)."""
    long = "long_files" if "source" in table.partitions else ""
    parameters = ", ".join(p for p in ("files", long) if p)
    return (
        f"CREATE OR REPLACE MACRO {quote_identifier(files_macro(table.name))}({parameters}) AS TABLE "
        f"{_relation_sql(table, union_by_name, 'files', long)}"
    )


def day_files(table: Table, lake: Path, folders: Collection[str]) -> tuple[list[str], ...]:
    """The arguments of ``table``'s files macro that read its ``dt=`` ``folders``: a rollup
    table's one file a day by its path (app/lake/rollups.py, no folder globbed; a day
    whose file is gone since, by ``lake quarantine``, reads as no rows), a raw table's data
    files of each folder (short and long sources apart)."""
    base = f"{lake}/{table.name}"
    if table.name in ROLLUP_TABLES:
        return ([f"{base}/{f}/{FILE_NAME}" for f in folders],)
    if "source" not in table.partitions:
        return ([f"{base}/{f}/*.parquet" for f in folders],)
    return (
        [f"{base}/{f}/source=[!{LONG_MARKER}]*/*.parquet" for f in folders],
        [f"{base}/{f}/source={LONG_MARKER}*/*.parquet" for f in folders],
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
    runs on its own cursor (a DuckDB connection to the same in-memory database).

    ``union_by_name``: None (the default) decides per table, see :func:`needs_union_by_name`;
    True or False forces it for every table. ``timeout_s``: seconds a query may run
    (None: no limit).
    """

    name = "duckdb"
    wide_top_n = True

    def __init__(
        self,
        lake: Path,
        *,
        extension_directory: str | Path | None = None,
        union_by_name: bool | None = None,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
    ):
        self.lake = Path(lake).expanduser().resolve()
        self._lock = threading.Lock()
        self._db = _connect(extension_directory)
        self.timeout_s = timeout_s
        # GLOBAL: every cursor inherits it. In milliseconds; 0 is no limit.
        limit_ms = 0 if timeout_s is None else max(1, round(timeout_s * 1000))
        self._db.execute(f"SET GLOBAL max_execution_time = {limit_ms}")
        self._union_by_name_setting = union_by_name
        # Off: a query without ``days`` reads every table whole (the tests' reference).
        self._prune_by_filters = True
        self.union_by_name: dict[str, bool] = {}
        # Tables whose view could not be made (a bad file): the sentence naming it. Only
        # the queries on such a table fail; each one tries again (the file may be gone).
        self.unavailable: dict[str, str] = {}
        for table in TABLES.values():
            self._try_view(table)
        for table in ROLLUP_TABLES.values():  # written whole by one writer: no DESCRIBE needed
            self._db.execute(view_sql(table, self.lake, union_by_name=False))
            self._db.execute(files_macro_sql(table, union_by_name=False))
            self.union_by_name[table.name] = False
        _confine_to(self._db, self.lake)

    def tables(self) -> list[str]:
        return list(TABLES)

    def rollup_days(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        tables: Collection[str] | None = None,
    ) -> frozenset[str]:
        """UTC days (``YYYY-MM-DD``) whose rollups are up to date with the raw tables; only
        those of ``[start, end)`` when given; only ``tables``' rollups when given."""
        if start is None or end is None:
            return clean_days(self.lake, tables=tables)
        first = start.astimezone(UTC).date().isoformat()
        last = (end.astimezone(UTC) - timedelta(microseconds=1)).date().isoformat()
        return clean_days(self.lake, first, last, tables)

    def last_day(self, table: str, since: str) -> str | None:
        """``SELECT max(dt) FROM <table> WHERE dt >= since`` from the folder names: the last
        ``dt`` folder holding a data file (a writer's hidden work files do not count). A
        query reads every file of the period for it (0.1 s for two years at 30M events)."""
        folder = self.lake / TABLES[table].name
        for name in sorted(_listing(folder), reverse=True):
            day = name.removeprefix("dt=")
            if name.startswith("dt=") and is_dt(day) and day >= since and _holds_data(folder / name):
                return day
        return None

    def run(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        days: Mapping[str, Collection[str]] | None = None,
    ) -> QueryResult:
        """``days``: table name -> the ``dt`` partitions the query can need of it (the
        caller's promise: its filters admit no other); only their folders are read.

        Without ``days``, the query's own filters choose them: each table every reference
        of which has a day filter (app/engines/day_filters.py) reads only the days those
        filters admit, evaluated by DuckDB over the table's folder names with the query's
        values (:meth:`_filtered_days`); every other table is read whole.
        """
        sql, values, names, days = self._planned(sql, params, days)
        frame, elapsed, profile = self._executed(sql, values, names, days, profiled=True)
        assert isinstance(frame, pd.DataFrame)
        files, scanned = scan_totals(profile)
        return QueryResult(
            frame=frame,
            elapsed_s=elapsed,
            bytes_scanned=scanned,
            files_scanned=files,
            engine=self.name,
            sql=_prepared(sql)[1],
        )

    def frame(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        days: Mapping[str, Collection[str]] | None = None,
    ) -> pd.DataFrame:
        """:meth:`run`'s rows alone, for callers that show no measures: DuckDB does not
        profile the query (the profile and its JSON cost about 0.5 ms a query)."""
        sql, values, names, days = self._planned(sql, params, days)
        frame = self._executed(sql, values, names, days, profiled=False)[0]
        assert isinstance(frame, pd.DataFrame)
        return frame

    def columns(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        days: Mapping[str, Collection[str]] | None = None,
    ) -> dict[str, np.ndarray]:
        """:meth:`frame`'s rows as a NumPy array a column (:func:`filled`: the frame's
        values, not its dtypes), for a caller that computes on arrays: no DataFrame is
        built. The Overview's 217 rows come in 0.3 ms so, against 1.2 ms for the frame and
        0.4 ms more at its first read."""
        sql, values, names, days = self._planned(sql, params, days)
        columns = self._executed(sql, values, names, days, profiled=False, arrays=True)[0]
        assert isinstance(columns, dict)
        return columns

    def _planned(
        self, sql: str, params: Mapping[str, Any] | None, days: Mapping[str, Collection[str]] | None
    ) -> tuple[str, dict[str, Any], set[str], Mapping[str, Collection[str]] | None]:
        """The checked query (lists expanded), its values, its lake tables and the days to read."""
        sql, values = expand_in_lists(sql, params or {})
        names = set(_prepared(sql)[2])
        check_params(_placeholders(sql), values)
        self._views_for(names)
        if days is None and self._prune_by_filters:
            days = self._filtered_days(sql, values)
        return sql, values, names, days

    def _executed(
        self,
        sql: str,
        values: dict[str, Any],
        names: set[str],
        days: Mapping[str, Collection[str]] | None,
        *,
        profiled: bool,
        arrays: bool = False,
    ) -> tuple[Fetched, float, dict]:
        """:meth:`_execute`, reading the tables' files by name when one lacks a column."""
        try:
            return self._execute(sql, values, names, days, profiled=profiled, arrays=arrays)
        except _SchemaMismatch as mismatch:
            self._refuse_foreign(mismatch, names)
            self._read_by_name(names)
            return self._execute(sql, values, names, days, profiled=profiled, arrays=arrays)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _filtered_days(self, sql: str, values: Mapping[str, Any]) -> dict[str, list[str]] | None:
        """Table -> the days its day filters admit, among its ``dt=`` folders (one listing
        each): one DuckDB query runs every filter over the folder names, so that strings,
        casts and functions compare exactly as in the query. A table is left out (read
        whole) when its folder holds anything but day folders, when a filter admits a
        NULL ``dt`` (an outer join's missing row would then pass it), or when the filters
        fail to run."""
        filters = _day_filters(sql)
        branches: list[str] = []
        bound: dict[str, Any] = {}
        days: dict[str, list[str]] = {}
        for name, table_filters in sorted(filters.items()):
            present = _day_folders(self.lake / name)
            if present is None or name in self.unavailable:
                continue
            days[name] = []
            key = _free_name(f"dt_{len(branches)}", values)
            bound[key] = [None, *present]
            bound.update({p: values[p] for f in table_filters for p in f.params})
            admitted = " OR ".join(f"({f.sql})" for f in table_filters)
            branches.append(
                f"SELECT {quote_string(name)} AS t, dt FROM (SELECT unnest(CAST(${key} AS VARCHAR[])) AS dt) "
                f"WHERE {admitted}"
            )
        if not branches:
            return None
        with self._lock:
            cursor = self._db.cursor()
        try:
            rows = cursor.execute(" UNION ALL ".join(branches), bound).fetchall()
        except duckdb.Error:
            return None
        finally:
            cursor.close()
        for name, day in rows:
            days[name].append(day)
        return {name: chosen for name, chosen in days.items() if None not in chosen}

    def _create_view(self, table: Table, union_by_name: bool | None) -> bool:
        if union_by_name is None:
            union_by_name = needs_union_by_name(self._db, table, self.lake)
        self._db.execute(view_sql(table, self.lake, union_by_name))
        self._db.execute(files_macro_sql(table, union_by_name))
        return union_by_name

    def _try_view(self, table: Table) -> None:
        """Make the table's view; a bad file makes the table unavailable, not the engine."""
        try:
            self.union_by_name[table.name] = self._create_view(table, self._union_by_name_setting)
            self.unavailable.pop(table.name, None)
        except (duckdb.Error, QueryError) as exc:
            self.unavailable[table.name] = self._bad_file_sentence(exc, {table.name}) or (
                f"The lake table {table.name} can't be read: {describe_error(exc)}"
                if isinstance(exc, duckdb.Error)
                else str(exc)
            )
            # A view that fails when used, so that no other table's query can reach the
            # files through a stale definition.
            self._db.execute(f"CREATE OR REPLACE VIEW {quote_identifier(table.name)} AS SELECT 1 WHERE false")

    def _views_for(self, names: set[str]) -> None:
        broken = sorted(names & set(self.unavailable))
        if not broken:
            return
        with self._lock:
            for name in broken:
                self._try_view(QUERYABLE[name])
        for name in broken:
            if name in self.unavailable:
                raise QueryError(self.unavailable[name])

    def _bad_file_sentence(self, exc: BaseException, names: set[str]) -> str | None:
        """One sentence naming the lake file behind ``exc``, when a file is behind it."""
        return bad_file_sentence(str(exc), self.lake, names)

    def _refuse_foreign(self, mismatch: _SchemaMismatch, names: set[str]) -> None:
        """A file of another schema is not a reason to read the table by column name."""
        for path in _quoted_paths(str(mismatch)):
            table = _table_of(path, self.lake)
            if table is not None and table in names:
                reason = parquet_problem(QUERYABLE[table], path)
                if reason:
                    raise QueryError(_file_sentence(path, self.lake, reason))

    def _read_by_name(self, names: set[str]) -> None:
        """A file lacks a column the first file has: reconcile these tables' files by name
        from now on (slower: every file's footer is read at each query)."""
        with self._lock:
            for name in sorted(names):
                if not self.union_by_name[name]:
                    self._db.execute(view_sql(QUERYABLE[name], self.lake, True))
                    self._db.execute(files_macro_sql(QUERYABLE[name], True))
                    self.union_by_name[name] = True

    def _day_files(self, name: str, days: Collection[str]) -> tuple[list[str], ...] | None:
        """The files macro's arguments that read table ``name`` on ``days`` only, or None
        where the whole table's view costs less: a rollup table of more than
        ROLLUP_PATHS_UP_TO days (DuckDB binds a list of paths at ~20 us a path, a glob lists
        the table's folders at once). Nothing is listed or looked up: a day without its
        folder or file reads as no rows (``allow_empty``), as it does in the whole table."""
        if name in ROLLUP_TABLES and len(days) > ROLLUP_PATHS_UP_TO:
            return None
        return day_files(QUERYABLE[name], self.lake, [f"dt={check_dt(day)}" for day in sorted(days)])

    def _execute(
        self,
        sql: str,
        values: dict[str, Any],
        names: set[str],
        days: Mapping[str, Collection[str]] | None = None,
        *,
        profiled: bool = True,
        arrays: bool = False,
    ) -> tuple[Fetched, float, dict]:
        """Run the (checked, expanded) Athena ``sql``; each table of ``days`` reads only
        those days' files (through its files macro). ``profiled``: DuckDB's profile of the
        query is returned (files and bytes read), else an empty one. ``arrays``: the rows
        as :func:`filled` arrays, else a DataFrame."""
        files: dict[str, tuple[list[str], ...]] = {}
        for name, chosen in (days or {}).items():
            if name in names and name not in self.unavailable:
                arguments = self._day_files(name, chosen)
                if arguments is not None:
                    files[name] = arguments
        duck_sql = _prepared(sql)[1]
        if files:
            duck_sql, parameters = _by_files(sql, frozenset(files))
            values = {**values}
            for name, keys in parameters.items():
                values.update(zip(keys, files[name], strict=True))
        with self._lock:
            cursor = self._db.cursor()
        try:
            if profiled:  # a per-connection setting (DuckDB refuses SET GLOBAL for it)
                cursor.execute("SET enable_profiling = 'no_output'")
            started = perf_counter()
            try:
                frame = _fetch_again_if_replaced(cursor, duck_sql, values, arrays)
            except _TimedOut as exc:
                raise QueryError(timeout_sentence(self.timeout_s or 0)) from exc
            except _Vanished as exc:
                raise QueryError(REPLACED_FILE_SENTENCE) from exc
            except QueryError as exc:
                sentence = self._bad_file_sentence(exc.__cause__ or exc, names)
                if sentence:
                    raise QueryError(sentence) from exc
                raise
            elapsed = perf_counter() - started
            profile = json.loads(cursor.get_profiling_information(format="json")) if profiled else {}
            types = [str(d[1]) for d in cursor.description or ()]
        finally:
            cursor.close()
        return (frame if isinstance(frame, dict) else with_whole_counts(frame, types)), elapsed, profile


class _SchemaMismatch(Exception):
    pass


class _TimedOut(Exception):
    pass


class _Vanished(QueryError):
    """A file DuckDB listed was gone when it opened it: compaction (app/lake/compact.py)
    replaced it in between, or ``lake quarantine`` moved it."""


# Attempts at a query whose files vanish under it. A compaction of a folder replaces its
# files within milliseconds and each attempt lists them again; a folder rewritten without
# pause (a stress test) failed 5% of queries, so three attempts all fail about 1 in 10^4.
REPLACED_FILE_ATTEMPTS = 3
REPLACED_FILE_SENTENCE = (
    "The lake's files changed while the query read them (a compaction merged them); run it again."
)


def timeout_sentence(timeout_s: float) -> str:
    return (
        f"The query ran longer than {timeout_s:g} s and was stopped; VERTICALS_QUERY_TIMEOUT sets the limit."
    )


_QUOTED = re.compile(r"""['"](/[^'"]+?\.parquet)['"]""")
# Errors that come from reading files rather than from the query's text.
_FILE_ERRORS = (
    "Invalid Input Error",
    "IO Error",
    "Conversion Error",
    "Could not convert",
    "parquet",
    "Parquet",
)


def _quoted_paths(message: str) -> list[Path]:
    return [Path(m) for m in _QUOTED.findall(message)]


def _table_of(path: Path, lake: Path) -> str | None:
    try:
        first = path.relative_to(lake).parts[0]
    except (ValueError, IndexError):
        return None
    return first if first in QUERYABLE else None


def _file_sentence(path: Path, lake: Path, reason: str) -> str:
    try:
        shown = path.relative_to(lake).as_posix()
    except ValueError:
        shown = str(path)
    return (
        f"The lake file {shown} is {reason}; "
        "`python -m app lake check` lists such files and `lake quarantine` moves them aside."
    )


def bad_file_sentence(message: str, lake: Path, names: set[str]) -> str | None:
    """One sentence naming the bad lake file behind a DuckDB error, or None when the error
    is not about a file. DuckDB names the file in most read errors; otherwise the tables'
    files are checked (footers only) to find it."""
    if not any(marker in message for marker in _FILE_ERRORS):
        return None
    for path in _quoted_paths(message):
        table = _table_of(path, lake)
        if table is not None:
            reason = file_problem(QUERYABLE[table], path)
            return _file_sentence(path, lake, reason or "unreadable (" + message.splitlines()[0] + ")")
    problems = check_lake(lake, sorted(n for n in names if n in TABLES))
    if problems:
        return _file_sentence(lake / problems[0].path, lake, problems[0].reason)
    return None


def needs_union_by_name(db: duckdb.DuckDBPyConnection, table: Table, lake: Path) -> bool:
    """Whether the table's files must be reconciled by column name.

    Without ``union_by_name`` DuckDB takes the columns from the first file: a later file
    lacking one of them is an error (the engine then switches, see ``_read_by_name``), but
    a column the first file lacks would read as NULL everywhere, silently. So: by name
    when the first file lacks a declared column. Reading every footer at every query costs
    ~3x the time on a lake of a few thousand files (bench/bench_queries.py).
    """
    described = {row[0] for row in db.execute(f"DESCRIBE {files_sql(table, lake, False)}").fetchall()}
    if described == {"empty"}:  # no files yet (allow_empty's placeholder column)
        return False
    if set(table.column_names) <= described:
        return False
    # The first file lacks a column: an older file, or one that isn't the table's at all?
    glob = quote_string(f"{lake}/{table.name}/**/*.parquet")
    first = db.execute(f"SELECT filename FROM read_parquet({glob}, filename = true) LIMIT 1").fetchone()
    reason = parquet_problem(table, Path(first[0])) if first else None
    if first and reason:
        raise QueryError(_file_sentence(Path(first[0]), lake, reason))
    return True


def _connect(extension_directory: str | Path | None) -> duckdb.DuckDBPyConnection:
    extensions = str(extension_directory or Path(tempfile.gettempdir()) / "verticals-duckdb-ext")
    db = duckdb.connect(":memory:", config={"extension_directory": extensions})
    # ICU is built in but not loaded when connect() applies its config; set it afterwards.
    # GLOBAL so that every cursor inherits it: timestamps group by UTC days and hours.
    db.execute("SET GLOBAL TimeZone = 'UTC'")
    # A table name DuckDB can't resolve must not read a pandas frame of the caller's.
    db.execute("SET GLOBAL python_enable_replacements = false")
    return db


def _confine_to(db: duckdb.DuckDBPyConnection, lake: Path) -> None:
    """From here on the database reads files under the lake only."""
    db.execute(f"SET allowed_directories = [{quote_string(str(lake) + '/')}]")
    db.execute("SET enable_external_access = false")


@functools.lru_cache(maxsize=256)
def _prepared(sql: str) -> tuple[exp.Query, str, frozenset[str]]:
    """The checked tree, its DuckDB text and the lake tables it reads, once per SQL text.

    Parsing and transpiling with sqlglot took 0.3-0.7 s for the Overview's query, as long as
    running it; pages run the same texts again with other values. The tree is only read.
    """
    tree = parse_query(sql)
    check_tables(tree, QUERYABLE)
    names = frozenset(t.name for t in lake_tables(tree))
    return tree, to_duckdb(_without_qualifiers(tree)), names


@functools.lru_cache(maxsize=256)
def _placeholders(sql: str) -> tuple[str, ...]:
    """The query's placeholder names, once per SQL text (a walk of the tree took ~0.5 ms
    for the Overview's)."""
    return tuple(placeholders(_prepared(sql)[0]))


@functools.lru_cache(maxsize=256)
def _by_files(sql: str, tables: frozenset[str]) -> tuple[str, dict[str, tuple[str, ...]]]:
    """:func:`_prepared`'s DuckDB text with every reference to one of ``tables`` reading its
    files macro (:func:`files_macro_sql`) under the table's name (or its own alias), and
    the macro's parameter names for each table so read (not one whose every reference names
    a CTE): names none of the query's placeholders has, in any case."""
    tree = _without_qualifiers(_prepared(sql)[0])  # a copy
    taken = set(_placeholders(sql))
    parameters: dict[str, tuple[str, ...]] = {}
    for name in sorted(tables):
        kinds = ("files", "long_files") if "source" in QUERYABLE[name].partitions else ("files",)
        parameters[name] = tuple(_free_name(f"{kind}_{name}", taken) for kind in kinds)
        taken.update(parameters[name])
    read: set[str] = set()
    for table in lake_tables(tree):
        name = table.name  # a CTE's name is no lake table (parse_query folds both to lower case)
        if name not in tables:
            continue
        table.set("alias", table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name)))
        arguments = [exp.Placeholder(this=p) for p in parameters[name]]
        table.set("this", exp.Anonymous(this=files_macro(name), expressions=arguments))
        read.add(name)
    return to_duckdb(tree), {name: names for name, names in parameters.items() if name in read}


@functools.lru_cache(maxsize=256)
def _day_filters(sql: str) -> dict[str, tuple[DayFilter, ...]]:
    """The day filters of each bounded table of a query, once per SQL text (the tree is
    :func:`_prepared`'s). Only read."""
    partitions = {name: table.partitions for name, table in QUERYABLE.items()}
    return day_filters(_prepared(sql)[0], partitions)


def _free_name(name: str, taken: Collection[str]) -> str:
    """``name``, or it with underscores before it, that no parameter of ``taken`` has in any
    case: DuckDB's parameter names are case-insensitive (``$FILES_ORDERS`` is ``$files_orders``)."""
    folded = {t.lower() for t in taken}
    while name.lower() in folded:
        name = "_" + name
    return name


def _without_qualifiers(tree: exp.Expr) -> exp.Expr:
    """``verticals.orders`` (as written for Athena) reads the local ``orders`` view."""
    tree = tree.copy()
    for table in lake_tables(tree):
        table.set("db", None)
        table.set("catalog", None)
    return tree


def _fetch_again_if_replaced(
    cursor: duckdb.DuckDBPyConnection, sql: str, values: dict[str, Any], arrays: bool = False
) -> Fetched:
    """:func:`_fetch`, run again (its globs listed again) while a file it listed vanished
    before it was opened, up to REPLACED_FILE_ATTEMPTS times in all."""
    for _ in range(REPLACED_FILE_ATTEMPTS - 1):
        with contextlib.suppress(_Vanished):
            return _fetch(cursor, sql, values, arrays)
    return _fetch(cursor, sql, values, arrays)


def _fetch(
    cursor: duckdb.DuckDBPyConnection, sql: str, values: dict[str, Any], arrays: bool = False
) -> Fetched:
    """The statement's rows: a DataFrame, or (``arrays``) a :func:`filled` array a column."""
    try:
        result = cursor.execute(sql, values or None)
        if arrays:
            return {name: filled(column) for name, column in result.fetchnumpy().items()}
        return result.df()
    except duckdb.InterruptException as exc:
        if "maximum execution time" in str(exc):
            raise _TimedOut(str(exc)) from exc
        raise QueryError(describe_error(exc)) from exc
    except duckdb.IOException as exc:
        if "Cannot open file" in str(exc) and "No such file or directory" in str(exc):
            raise _Vanished(describe_error(exc)) from exc
        raise QueryError(describe_error(exc)) from exc
    except duckdb.Error as exc:
        if "schema mismatch in glob" in str(exc):
            raise _SchemaMismatch(str(exc)) from exc
        raise QueryError(describe_error(exc)) from exc


# What a statement's rows come as: a DataFrame, or a NumPy array a column.
Fetched: TypeAlias = pd.DataFrame | dict[str, np.ndarray]


def filled(column: np.ndarray) -> np.ndarray:
    """A column of DuckDB's ``fetchnumpy`` with its nulls (a masked array's) filled: NaN in
    numbers (an integer column with a null becomes floats), NaT in dates and instants, None
    in text, booleans and the rest. These are the values a DataFrame's column gives for the
    types the pages read (DATE, TIMESTAMPTZ, VARCHAR, INTEGER, BIGINT, DOUBLE), not its
    dtypes: the frame has nullable integers (Int64), text as ``str`` with NaN, and a sum of
    integers as Int64 (:func:`with_whole_counts`), where this gives floats or objects."""
    if not isinstance(column, np.ma.MaskedArray):
        return column
    kind = column.dtype.kind
    if kind in "iuf":
        return np.ma.filled(column.astype(float), np.nan)
    if kind in "mM":
        return column.filled(np.datetime64("NaT"))
    values = column.data.astype(object)  # filled(None) would fill with the array's own fill value
    values[np.ma.getmaskarray(column)] = None
    return values


def with_whole_counts(frame: pd.DataFrame, duckdb_types: list[str]) -> pd.DataFrame:
    """DuckDB's ``count_if`` and ``sum`` of integers are HUGEINT, which pandas receives as
    float; Athena returns bigint. Give those columns back as (nullable) integers."""
    for name, kind in zip(list(frame.columns), duckdb_types, strict=True):
        if kind in ("HUGEINT", "UHUGEINT") and frame[name].dropna().map(float.is_integer).all():
            frame[name] = frame[name].astype("Int64")
    return frame
