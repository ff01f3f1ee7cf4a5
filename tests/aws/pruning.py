"""Does Athena's partition projection prune a query? Its predicates on projected partition
columns, read from the SQL as sent.

Projection prunes on a partition column compared with values it can read before planning:
``col = v``, ``col IN (v, …)``, and for ``dt`` (a ``date`` projection over a string)
ranges (``BETWEEN``, ``<``, ``>=`` …), where each ``v`` is a literal, a ``?`` parameter or
an expression of those only (``date_format(date_add('day', 14, date(?)), …)``: Trino folds
it to a constant before planning)
(https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html). A partition
column inside a function — ``contains(ARRAY[...], source)``, ``substr(dt, 1, 7)`` — or
compared with another column is evaluated per row, after every partition was listed.
"""

from __future__ import annotations

from sqlglot import exp

from app.engines.sqlparams import READ, lake_tables, parse_query
from app.lake.tables import TABLES

RANGES = (exp.Between, exp.GT, exp.GTE, exp.LT, exp.LTE)


def partitions_by_name(select: exp.Select) -> dict[str, set[str]]:
    """Each name (table or alias) a lake table goes by in ``select`` -> its partition columns."""
    names: dict[str, set[str]] = {}
    for table in lake_tables(select):
        if table.find_ancestor(exp.Select) is not select or table.name not in TABLES:
            continue
        columns = set(TABLES[table.name].partitions)
        names[table.name] = columns
        if table.alias:
            names[table.alias] = columns
    return names


def _is_partition(column: exp.Column, names: dict[str, set[str]]) -> bool:
    if column.table:
        return column.name in names.get(column.table, set())
    return any(column.name in columns for columns in names.values())


def _is_value(node: exp.Expr) -> bool:
    """No column and no subquery: a constant once the parameters are bound."""
    return not any(node.find_all(exp.Column, exp.Query))


def prunable(column: exp.Column) -> bool:
    """The predicate right around ``column`` is one projection evaluates before planning."""
    parent = column.parent
    if isinstance(parent, exp.EQ):
        return _is_value(parent.expression if parent.this is column else parent.this)
    if isinstance(parent, exp.In):
        return parent.this is column and bool(parent.expressions) and all(map(_is_value, parent.expressions))
    if isinstance(parent, exp.Between):
        return (
            column.name == "dt"
            and parent.this is column
            and _is_value(parent.args["low"])
            and _is_value(parent.args["high"])
        )
    if isinstance(parent, RANGES):
        other = parent.expression if parent.this is column else parent.this
        return column.name == "dt" and _is_value(other)
    return False


def unprunable_predicates(sql: str) -> list[str]:
    """The predicates of ``sql`` on projected partition columns that projection cannot
    prune, as Athena SQL (empty: every one prunes)."""
    found: list[str] = []
    for select in parse_query(sql).find_all(exp.Select):
        names = partitions_by_name(select)
        where = select.args.get("where")
        if names and where is not None:
            found.extend(
                (column.parent or column).sql(dialect=READ)
                for column in where.find_all(exp.Column)
                if column.find_ancestor(exp.Select) is select
                and _is_partition(column, names)
                and not prunable(column)
            )
    return found
