"""Which ``dt`` days a query can read of each lake table, from its own filters.

A table reference's *day filter* is the conjunction of the top-level ``AND`` conjuncts of
the ``WHERE`` of the SELECT whose ``FROM``/``JOIN`` list holds the reference itself, that
read no column but that table's ``dt`` (unqualified only when the table is the SELECT's one
source, else qualified by its alias or name) and are made of comparisons, literals,
parameters and a few deterministic date and string functions (:data:`_ALLOWED`), with no
subquery. A row of that reference on a day its filter rejects reaches no output of the
SELECT: the ``WHERE`` runs after every join of the SELECT, and a row the pruned read would
NULL-extend instead is rejected as well, provided the filter rejects a NULL ``dt`` (the
engine checks that when it evaluates the filter). Predicates in ``ON`` clauses, under
``OR`` with other columns, or in an outer query over a derived table are not a day filter.

A table is bounded only when every one of its references has a day filter; its days are
then those some reference's filter admits. :func:`day_filters` gives, per bounded table,
the filter of each reference as DuckDB SQL over a column ``dt`` (the engine runs it over the
table's folder names, so that comparisons, casts and functions behave exactly as in the
query) and the parameters it reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlglot import exp

from app.engines.sqlparams import lake_tables, to_duckdb

# Nodes a day filter may be made of: no column but ``dt``, no subquery, nothing whose value
# can change between the engine's evaluation and the query's (now(), random()...).
_ALLOWED: tuple[type[exp.Expr], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Placeholder,
    exp.Null,
    exp.Boolean,
    exp.Paren,
    exp.Var,
    exp.DataType,
    exp.DataTypeParam,
    exp.Cast,
    exp.TryCast,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Between,
    exp.In,
    exp.Is,
    exp.Not,
    exp.And,
    exp.Or,
    exp.Like,
    exp.Add,
    exp.Sub,
    exp.Neg,
    exp.DPipe,
    exp.Concat,
    exp.Interval,
    exp.Date,
    exp.DateAdd,
    exp.DateSub,
    exp.TimeToStr,
    exp.StrToTime,
    exp.StrToDate,
    exp.TsOrDsToDate,
    exp.TimestampTrunc,
    exp.DateTrunc,
    exp.Substring,
    exp.Lower,
    exp.Upper,
    exp.Trim,
    exp.Coalesce,
)

# Join kinds whose output rows each come from one row of each side (or a NULL-extended
# side): no ASOF, POSITIONAL, NATURAL, SEMI or ANTI join.
_PLAIN_KINDS = ("", "INNER", "OUTER", "CROSS")
_PLAIN_SIDES = ("", "LEFT", "RIGHT", "FULL")
# A table reference with anything beyond these (PIVOT, sample, time travel...) is unbounded.
_PLAIN_TABLE_ARGS = frozenset({"this", "db", "catalog", "alias"})


@dataclass(frozen=True)
class DayFilter:
    """One table reference's day filter: DuckDB SQL over a column ``dt`` and the
    parameters it reads."""

    sql: str
    params: tuple[str, ...]


def day_filters(
    tree: exp.Expr, partitioned: Mapping[str, tuple[str, ...]]
) -> dict[str, tuple[DayFilter, ...]]:
    """Each lake table every reference of which has a day filter -> those filters (distinct).

    ``partitioned``: table name -> its partition columns (a table without ``dt`` is never
    bounded).
    """
    found: dict[str, list[DayFilter] | None] = {}
    for table in lake_tables(tree):
        kept = found.setdefault(table.name, [])
        if kept is None:
            continue
        condition = _reference_filter(table) if "dt" in partitioned.get(table.name, ()) else None
        if condition is None:
            found[table.name] = None
            continue
        params = tuple(dict.fromkeys(p.name for p in condition.find_all(exp.Placeholder)))
        day_filter = DayFilter(to_duckdb(condition), params)
        if day_filter not in kept:
            kept.append(day_filter)
    return {name: tuple(kept) for name, kept in found.items() if kept}


def _reference_filter(table: exp.Table) -> exp.Expr | None:
    """The reference's day filter over a bare column ``dt``, or None when it has none."""
    if {k for k, v in table.args.items() if v} - _PLAIN_TABLE_ARGS:
        return None
    alias = table.args.get("alias")
    if alias is not None and alias.columns:  # FROM orders AS o(a, b, ...) renames columns
        return None
    holder = table.parent
    select = holder.parent if holder is not None else None
    if not isinstance(holder, (exp.From, exp.Join)) or not isinstance(select, exp.Select):
        return None
    if holder.arg_key not in ("from_", "joins") or select.args.get("laterals"):
        return None
    joins = select.args.get("joins") or []
    if not all(_plain_join(join) for join in joins):
        return None
    where = select.args.get("where")
    if where is None:
        return None
    sources = [select.args["from_"].this, *(join.this for join in joins)]
    name = table.alias_or_name.lower()
    if sum(1 for s in sources if s.alias_or_name.lower() == name) != 1:
        return None
    alone = len(sources) == 1
    kept = [c for c in _conjuncts(where.this) if _on_own_dt(c, name, alone)]
    if not kept:
        return None
    condition = exp.and_(*(c.copy() for c in kept))
    for column in list(condition.find_all(exp.Column)):
        column.replace(exp.column("dt"))
    return condition


def _plain_join(join: exp.Join) -> bool:
    using = [u.name.lower() for u in join.args.get("using") or []]
    return (
        (join.args.get("kind") or "").upper() in _PLAIN_KINDS
        and (join.args.get("side") or "").upper() in _PLAIN_SIDES
        and not join.args.get("method")
        and not join.args.get("match_condition")
        and "dt" not in using
    )


def _conjuncts(node: exp.Expr) -> Iterator[exp.Expr]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        yield from _conjuncts(node.this)
        yield from _conjuncts(node.expression)
    else:
        yield node


def _on_own_dt(conjunct: exp.Expr, name: str, alone: bool) -> bool:
    """Whether the conjunct reads nothing but the table's ``dt`` (and values)."""
    for node in conjunct.walk():
        if not isinstance(node, _ALLOWED):
            return False
        if isinstance(node, exp.Column) and not _own_dt(node, name, alone):
            return False
    return True


def _own_dt(column: exp.Column, name: str, alone: bool) -> bool:
    if column.name.lower() != "dt" or column.args.get("db") or column.args.get("catalog"):
        return False
    if not column.table:
        return alone
    return column.table.lower() == name
