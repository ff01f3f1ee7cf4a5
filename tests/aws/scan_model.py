"""What an Athena query scans, computed from its SQL: the tables it reads, the partitions
(``dt``, ``source``) its partition predicates admit, the columns it needs; bytes from
per-column compressed sizes measured on a Parquet sample, scaled to a yearly volume.

The model (docs/benchmarks.md, "Athena: bytes a page view scans"):

- Athena reads, of each table a query names, the column chunks of the columns the query
  uses (partition columns cost nothing: they are in the path) in every partition its
  partition predicates admit. Only conjuncts of a table's own WHERE that name partition
  columns alone prune (Athena may prune more: Parquet row-group statistics on ``time``,
  dynamic filtering; the model does not count on them, so it is an upper bound).
- Raw tables: bytes per day of each column (and each ``source`` partition of ``events``)
  measured on the sample's closed days, times ``events_per_day_at_scale /
  sample_events_per_day`` (linear: compressed bytes grow at most linearly with rows).
- Rollup tables: bytes per row of each column measured on the sample, times the rows a day
  has at scale: linear in events, but never more than the key space allows, which is
  ``KEY_MARGIN`` times the most distinct non-measure keys (string, date, boolean columns)
  any sample day has, times 24 when the table has an ``hour`` column. (An hourly rollup of
  a day has at most 24 rows per key, whatever the volume.)
- The open day counts as a whole day at scale; a partition touched for a partial hour
  costs the whole partition.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.pushdown_projections import pushdown_projections
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from app.departments import SOURCES
from app.engines.sqlparams import READ
from app.lake.rollups import ROLLUP_TABLES, rollup_file
from app.lake.tables import TABLES, Table

KNOWN: dict[str, Table] = {**TABLES, **ROLLUP_TABLES}
MB = 2**20
MIN_BILLED = 10 * MB
KEY_MARGIN = 2
KEY_TYPES = ("string", "date", "boolean")


@dataclass
class Sizes:
    """Bytes per day at scale: (table, column, source or "") -> bytes."""

    per_day: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def of(self, table: str, column: str, sources: set[str] | None) -> float:
        if "source" in KNOWN[table].partitions:
            return sum(self.per_day.get((table, column, s), 0.0) for s in (sources or SOURCES))
        return self.per_day.get((table, column, ""), 0.0)


def _column_bytes(path: Path) -> dict[str, int]:
    meta = pq.ParquetFile(path).metadata
    sizes: dict[str, int] = defaultdict(int)
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            sizes[chunk.path_in_schema.split(".")[0]] += chunk.total_compressed_size
    return sizes


def measure(lake: Path, days: list[str], events_per_day_at_scale: float) -> tuple[Sizes, dict[str, Any]]:
    """Per-column bytes per day at scale, from the sample lake's ``days`` (closed ones)."""
    sizes = Sizes()
    events = sum(
        pq.ParquetFile(f).metadata.num_rows
        for d in days
        for f in (lake / "events").glob(f"dt={d}/*/*.parquet")
    )
    sample_per_day = events / len(days)
    scale = events_per_day_at_scale / sample_per_day
    facts: dict[str, Any] = {"sample_events_per_day": sample_per_day, "scale": scale, "rollup_rows": {}}
    for table in TABLES.values():
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for day in days:
            for path in (lake / table.name).glob(f"dt={day}/**/*.parquet"):
                source = path.parent.name.split("=", 1)[1] if "source" in table.partitions else ""
                for column, size in _column_bytes(path).items():
                    totals[(column, source)] += size
        for (column, source), size in totals.items():
            sizes.per_day[(table.name, column, source)] = size / len(days) * scale
    for table in ROLLUP_TABLES.values():
        rows, keys_max, totals = 0, 0, defaultdict(int)
        keys = [c.name for c in table.columns if c.type in KEY_TYPES]
        for day in days:
            path = rollup_file(lake, table, day)
            data = pq.read_table(path)
            rows += data.num_rows
            distinct = data.select(keys).to_pandas().drop_duplicates()
            keys_max = max(keys_max, len(distinct))
            for column, size in _column_bytes(path).items():
                totals[column] += size
        hours = 24 if "hour" in table.column_names else 1
        rows_per_day = rows / len(days)
        at_scale = min(rows_per_day * scale, KEY_MARGIN * keys_max * hours)
        facts["rollup_rows"][table.name] = (rows_per_day, at_scale)
        for column, size in totals.items():
            sizes.per_day[(table.name, column, "")] = size / rows * at_scale if rows else 0.0
    return sizes, facts


def _conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


@dataclass(frozen=True)
class Read:
    table: str
    days: frozenset[str]
    sources: frozenset[str] | None
    columns: frozenset[str]


def _partitions(
    table: exp.Table, params: Mapping[str, Any], candidates: list[str]
) -> tuple[frozenset[str], frozenset[str] | None]:
    declared = KNOWN[table.name]
    select = table.find_ancestor(exp.Select)
    alias = table.alias_or_name
    where = select.args.get("where") if select is not None else None
    kept = []
    for term in _conjuncts(where.this if where is not None else None):
        columns = list(term.find_all(exp.Column))
        if columns and all(c.name in declared.partitions and c.table in ("", alias) for c in columns):
            kept.append(term.transform(lambda n: exp.column(n.name) if isinstance(n, exp.Column) else n))
    predicate = " AND ".join(k.sql(dialect=READ) for k in kept) or "true"
    sql = f"SELECT DISTINCT dt, source FROM parts WHERE {predicate}"
    duck = sqlglot.transpile(sql, read=READ, write="duckdb")[0]
    db = duckdb.connect(":memory:")
    sources = SOURCES if "source" in declared.partitions else ("",)
    db.execute("CREATE TABLE parts (dt VARCHAR, source VARCHAR)")
    db.executemany("INSERT INTO parts VALUES (?, ?)", [(d, s) for d in candidates for s in sources])
    used = {p.name for p in exp.maybe_parse(duck, dialect="duckdb").find_all(exp.Placeholder)}
    used |= {v.name for v in exp.maybe_parse(duck, dialect="duckdb").find_all(exp.Parameter)}
    rows = db.execute(duck, {k: v for k, v in params.items() if k in used} or None).fetchall()
    db.close()
    days = frozenset(r[0] for r in rows)
    got = frozenset(r[1] for r in rows) if "source" in declared.partitions else None
    return days, got


def reads(sql: str, params: Mapping[str, Any], candidates: list[str]) -> list[Read]:
    """Every table a query reads, with its partitions and (non-partition) columns."""
    schema = {
        t.name: {c.name: c.type for c in t.columns} | dict.fromkeys(t.partitions, "string")
        for t in KNOWN.values()
    }
    tree = qualify(
        sqlglot.parse_one(sql, read=READ), schema=schema, dialect=READ, validate_qualify_columns=False
    )
    tree = pushdown_projections(tree)  # a subquery's ``*``: only the columns used (as Trino does)
    columns: dict[int, set[str]] = defaultdict(set)
    tables: dict[int, exp.Table] = {}
    for scope in traverse_scope(tree):
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table) and source.name in KNOWN:
                tables[id(source)] = source
                columns[id(source)].add(column.name)
        for source in scope.sources.values():
            if isinstance(source, exp.Table) and source.name in KNOWN:
                tables[id(source)] = source
    found = []
    for key, table in tables.items():
        days, sources = _partitions(table, params, candidates)
        declared = KNOWN[table.name]
        found.append(Read(table.name, days, sources, frozenset(columns[key] - set(declared.partitions))))
    return found


def scanned_bytes(read_list: list[Read], sizes: Sizes) -> float:
    return sum(len(r.days) * sum(sizes.of(r.table, c, r.sources) for c in r.columns) for r in read_list)
