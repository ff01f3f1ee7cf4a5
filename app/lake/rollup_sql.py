"""The rollups on Athena: each rollup table's ``INSERT INTO`` for a set of closed days,
generated from the very SELECT the local builder runs (:data:`app.lake.rollups.ROLLUP_SQL`),
so that both compute the same rows.

The local SELECTs are DuckDB SQL over views of the raw tables named like them (already
narrowed to the days being built) and ``<table>_lookback`` (those days and the
``LEAD_LOOKBACK_DAYS`` before them: the lead time looks up the orders a day's shipments
ship). For Athena (Trino) each one is:

- parsed as DuckDB by sqlglot; ``GROUP BY ALL`` (DuckDB only) becomes the ordinals of the
  SELECT's non-aggregate columns;
- every raw table ``t`` becomes ``(SELECT * FROM t WHERE dt IN (<days>))``, so that Athena
  reads only those partitions; ``t_lookback`` becomes ``(SELECT * FROM t WHERE dt BETWEEN
  <first day - 21> AND <last day>)``;
- written as Trino, wrapped in ``INSERT INTO <rollup> (<columns>, dt) SELECT CAST(<column>
  AS <its Glue type>), …, dt FROM (…)``: the Glue table's types whatever the SELECT's
  (``hour`` is a TIMESTAMPTZ in DuckDB, a plain ``timestamp`` in Glue, both UTC).

The days are spliced as string literals, each checked to be ``YYYY-MM-DD`` first (no quote
can reach the text); Athena binds ``?`` in WHERE clauses only, and these sit in subqueries
of an INSERT.

Where the rollups live on S3: ``rollups/<table>/dt=YYYY-MM-DD/``, apart from the raw
tables' prefixes that Firehose writes and compaction rewrites. Athena writes at most 100
partitions per INSERT, hence :data:`MAX_DAYS_PER_INSERT`.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlglot
from sqlglot import exp

from app.lake.paths import check_dt
from app.lake.rollups import LOOKBACK, ROLLUP_SQL, ROLLUP_TABLES, lookback_days
from app.lake.tables import TABLES, Table

ROLLUPS_PREFIX = "rollups"
MAX_DAYS_PER_INSERT = 100  # Athena: INSERT INTO writes at most 100 partitions per query

# Glue column type -> the Trino type a value is cast to before it is inserted.
TRINO_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "array<string>": "ARRAY(VARCHAR)",
}


def rollup_prefix(table: Table) -> str | None:
    """``rollups/<table>/`` for a rollup table, None for a lake table."""
    return f"{ROLLUPS_PREFIX}/{table.name}/" if table.name in ROLLUP_TABLES else None


def _expand_group_by_all(tree: exp.Expr) -> None:
    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        if group is None or not group.args.get("all"):
            continue
        ordinals = [
            exp.Literal.number(i + 1)
            for i, column in enumerate(select.expressions)
            if not column.find(exp.AggFunc)
        ]
        select.set("group", exp.Group(expressions=ordinals))


def _raw_tables(tree: exp.Expr, days: list[str]) -> None:
    """Raw table names become their days' rows; ``t_lookback`` those of the lookback."""
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    listed = [exp.Literal.string(d) for d in days]
    first, last = (exp.Literal.string(d) for d in lookback_days(days))
    for table in list(tree.find_all(exp.Table)):
        name = table.name
        if name in ctes and not table.db:
            continue
        alias = table.alias or name
        if name.endswith(LOOKBACK) and name[: -len(LOOKBACK)] in TABLES:
            rows = exp.select("*").from_(name[: -len(LOOKBACK)]).where(exp.column("dt").between(first, last))
            table.replace(rows.subquery(alias))
        elif name in TABLES:
            rows = exp.select("*").from_(name).where(exp.column("dt").isin(*listed))
            table.replace(rows.subquery(alias))
        else:
            raise ValueError(f"a rollup's SQL reads {name!r}, which is not a lake table")


def select_sql(table: Table, days: Iterable[str]) -> str:
    """Trino SQL of ``table``'s rows for ``days`` (its columns, then ``dt``), typed as in Glue."""
    chosen = sorted({check_dt(d) for d in days})
    if not chosen:
        raise ValueError("no day to roll up")
    if table.name not in ROLLUP_SQL:
        raise ValueError(f"the rollup table {table.name} has no SQL in app.lake.rollups.ROLLUP_SQL")
    tree = sqlglot.parse_one(ROLLUP_SQL[table.name], read="duckdb")
    _expand_group_by_all(tree)
    _raw_tables(tree, chosen)
    body = tree.sql(dialect="trino")
    columns = ", ".join(f'CAST("{c.name}" AS {TRINO_TYPES[c.type]}) AS "{c.name}"' for c in table.columns)
    return f"SELECT {columns}, dt FROM ({body}) AS rows"


def insert_sql(table: Table, days: Iterable[str]) -> str:
    """``INSERT INTO <rollup> (…, dt) SELECT …``: the rows of ``days`` (at most
    :data:`MAX_DAYS_PER_INSERT`), for Athena."""
    chosen = sorted(set(days))
    if len(chosen) > MAX_DAYS_PER_INSERT:
        raise ValueError(f"at most {MAX_DAYS_PER_INSERT} days per INSERT (Athena's partition limit)")
    names = ", ".join(f'"{c.name}"' for c in table.columns)
    return f'INSERT INTO "{table.name}" ({names}, dt) {select_sql(table, chosen)}'
