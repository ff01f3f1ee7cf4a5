"""A static check that bound values fit where they land, as Athena (Trino) would see them.

Trino does not cast text to a date or a timestamp implicitly: ``dt >= DATE '2026-01-01'``
(dt is a string partition) or ``time >= '2026-01-01'`` fail at analysis. DuckDB is more
forgiving in places, so a saved query that runs locally could still fail in Athena. This
inlines the ExecutionParameters literals, types the query with sqlglot against the lake
schema, and reports every comparison whose two sides are of different kinds.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from app.lake.tables import TABLES

SCHEMA = {
    t.name: {**{c.name: c.type for c in t.columns}, **dict.fromkeys(t.partitions, "string")}
    for t in TABLES.values()
}
COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


def kind(datatype: exp.DataType | None) -> str | None:
    """The kind of value a type holds; None when sqlglot could not tell."""
    if datatype is None:
        return None
    if datatype.this in exp.DataType.TEXT_TYPES:
        return "text"
    if datatype.this in exp.DataType.NUMERIC_TYPES:
        return "number"
    if datatype.this in exp.DataType.TEMPORAL_TYPES:  # Trino compares date with timestamp
        return "time"
    if datatype.this == exp.DataType.Type.BOOLEAN:
        return "boolean"
    return None


def inline(positional_sql: str, literals: list[str]) -> str:
    pieces = positional_sql.split("?")
    if len(pieces) != len(literals) + 1:
        raise ValueError(f"{len(pieces) - 1} placeholders for {len(literals)} values")
    return "".join(piece + literal for piece, literal in zip(pieces[:-1], literals, strict=True)) + pieces[-1]


def _sides(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.Between):
        return [node.this, node.args["low"], node.args["high"]]
    if isinstance(node, exp.In):
        return [node.this, *node.expressions]
    if isinstance(node, exp.ArrayContains):  # contains(array, value): the element type
        element = node.this.type.expressions[0] if node.this.type and node.this.type.expressions else None
        return [exp.cast(exp.null(), element) if element else node.this, node.expression]
    return [node.left, node.right]


def type_mismatches(sql: str) -> list[str]:
    """Comparisons in ``sql`` (literals inlined) whose sides are of different kinds."""
    tree = sqlglot.parse_one(sql, read="athena")
    tree = qualify(tree, schema=SCHEMA, dialect="athena", validate_qualify_columns=False)
    tree = annotate_types(tree, schema=SCHEMA, dialect="athena")
    problems = []
    for node in tree.find_all(*COMPARISONS, exp.Between, exp.In, exp.ArrayContains):
        kinds = {kind(side.type) for side in _sides(node)} - {None}
        if len(kinds) > 1:
            problems.append(f"{node.sql(dialect='athena')} compares {' with '.join(sorted(kinds))}")
    return problems
