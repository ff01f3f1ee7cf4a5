"""Athena SQL with ``:name`` placeholders: parse, check read-only, find placeholders,
translate for an engine, and — for Athena — write values as Trino literals.

Saved and ad-hoc queries are written once in Athena (Trino) SQL. Both engines take the
same text:

- DuckDB binds named parameters natively: :func:`to_duckdb` turns ``:name`` into
  ``$name`` while sqlglot transpiles the rest.
- Athena's ``ExecutionParameters`` are positional ``?`` values, "applied sequentially to the
  parameters in the query in the order in which the parameters occur"
  (https://docs.aws.amazon.com/athena/latest/APIReference/API_StartQueryExecution.html):
  :func:`to_positional` rewrites the text and returns the names in textual order, and
  :func:`format_literal` writes each value as the SQL literal Athena substitutes.

Placeholders are found with sqlglot's parser, never a regex: a ``':x'`` inside a string
literal or a comment is not a parameter.

A list value written as ``col IN (:name)`` becomes one placeholder per value
(:func:`expand_in_lists`, in both engines): Athena's partition projection prunes on
``IN`` with literal or parameter values, never on ``contains(ARRAY[...], col)``.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.athena import Athena
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from app.engines.base import QueryError

READ = "athena"

# Statement kinds a read-only query may contain anywhere in its tree.
_WRITES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Set,
    exp.Use,
    exp.Copy,
    exp.TruncateTable,
    exp.Into,
    exp.Pragma,
    exp.Describe,
    exp.Show,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Grant,
)


def parse_query(sql: str) -> exp.Query:
    """Parse Athena SQL that must be exactly one read-only query (SELECT, WITH, UNION…)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=READ) if s is not None]
    except (ParseError, TokenError) as exc:
        raise QueryError(f"the SQL does not parse as Athena SQL: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise QueryError(f"expected one SELECT query, got {len(statements)} statements")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise QueryError(f"only SELECT queries are allowed, not {_statement_kind(tree)}")
    for node in tree.walk():
        if isinstance(node, _WRITES):
            raise QueryError(f"only SELECT queries are allowed; found {_statement_kind(node)}")
    return _names_folded(tree)


def _names_folded(tree: exp.Query) -> exp.Query:
    """The query with its table, CTE and alias names (and the qualifiers that name them) in
    lower case: Athena's names are case-insensitive, quoted or not (Trino folds them), so
    ``FROM "Orders" AS O`` reads ``orders`` and a CTE ``X`` is ``x``. Column names are kept:
    they name the result's columns."""
    for node in list(tree.walk()):
        if isinstance(node, exp.Table):
            names = [node.args.get(key) for key in ("this", "db", "catalog")]
        elif isinstance(node, exp.TableAlias):
            names = [node.args.get("this")]
        elif isinstance(node, exp.Column):
            names = [node.args.get(key) for key in ("table", "db", "catalog")]
        else:
            continue
        for name in names:
            if isinstance(name, exp.Identifier) and name.this != name.this.lower():
                name.set("this", name.this.lower())
    return tree


def placeholders(tree: exp.Expr) -> list[str]:
    """Distinct placeholder names, first occurrence first (depth-first walk)."""
    names: list[str] = []
    for node in tree.find_all(exp.Placeholder, bfs=False):
        if not node.this:
            raise QueryError("use named :name placeholders, not ?")
        if node.name not in names:
            names.append(node.name)
    return names


def check_params(tree: exp.Expr | Sequence[str], params: Mapping[str, Any]) -> None:
    """Every placeholder has a value and every value has a placeholder. ``tree``: the
    query, or its :func:`placeholders` when the caller has them."""
    wanted = placeholders(tree) if isinstance(tree, exp.Expr) else list(tree)
    missing = [n for n in wanted if n not in params]
    if missing:
        raise QueryError(f"missing value for parameter {', '.join(':' + n for n in missing)}")
    unknown = sorted(set(params) - set(wanted))
    if unknown:
        known = ", ".join(":" + n for n in wanted) or "none"
        raise QueryError(f"unknown parameter {', '.join(':' + n for n in unknown)} (the query takes {known})")


def lake_tables(tree: exp.Expr) -> list[exp.Table]:
    """The table references a query reads from the lake: every one that does not name a
    CTE in its scope (see :func:`ctes_in_scope`)."""
    return [t for t in tree.find_all(exp.Table) if not _names_a_cte(t)]


def ctes_in_scope(node: exp.Expr) -> set[str]:
    """The CTE names ``node`` can refer to, as SQL scopes them: the CTEs of every query
    around it; inside a CTE's body, only the CTEs before it in its ``WITH`` (and itself
    when the ``WITH`` is ``RECURSIVE``). A CTE inside a subquery is not seen outside it,
    so a name that is a CTE somewhere may still be a table (or, to DuckDB, a file) here.
    """
    names: set[str] = set()
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            ctes = parent.expressions
            index = next((i for i, cte in enumerate(ctes) if cte is child), None)
            if index is not None:
                seen = ctes[: index + 1] if parent.args.get("recursive") else ctes[:index]
                names.update(cte.alias_or_name for cte in seen)
        elif isinstance(parent, exp.Query):
            with_ = parent.args.get("with_")
            if with_ is not None and with_ is not child:
                names.update(cte.alias_or_name for cte in with_.expressions)
        child, parent = parent, parent.parent
    return names


def _names_a_cte(table: exp.Table) -> bool:
    return (
        isinstance(table.this, exp.Identifier)
        and not table.args.get("db")
        and not table.args.get("catalog")
        and table.name in ctes_in_scope(table)
    )


# A table name with one of these is a file path or a glob to DuckDB, never a lake table.
_PATH_CHARACTERS = frozenset("/\\.:*?[]{}~")


def check_tables(tree: exp.Expr, known: Collection[str]) -> None:
    """Queries read lake tables only: no table functions, no file paths, no engine
    catalogs, and a CTE's name only where that CTE is in scope."""
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise QueryError(f"table functions are not allowed: {table.this.sql(dialect=READ)}")
        if _PATH_CHARACTERS & set(table.name):
            raise QueryError(f"file paths are not allowed in FROM, only lake tables: {table.name!r}")
    for table in lake_tables(tree):
        if table.name not in known:
            raise QueryError(f"unknown table {table.name!r}; the lake has {', '.join(sorted(known))}")


MAX_IN_VALUES = 100  # values one ``IN (:name)`` list takes; Athena documents no limit of its own


def expand_in_lists(sql: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``col IN (:name)`` with a list value as ``col IN (:name__0, :name__1, …)`` and the
    values bound one by one; SQL without a list value is returned as it is."""
    lists = {name: len(value) for name, value in params.items() if _is_list(value)}
    if not lists:
        return sql, dict(params)
    text, expanded, still_used = _expanded(sql, tuple(sorted(lists.items())), frozenset(params))
    bound = dict(params)
    for name in expanded:
        bound.update(zip(_keys(name, lists[name]), params[name], strict=True))
    if not expanded:
        return sql, bound
    return text, {k: v for k, v in bound.items() if k not in lists or k in still_used}


@functools.lru_cache(maxsize=256)
def _expanded(
    sql: str, lengths: tuple[tuple[str, int], ...], names: frozenset[str]
) -> tuple[str, tuple[str, ...], frozenset[str]]:
    """:func:`expand_in_lists` of a query whose list parameters have ``lengths`` and whose
    parameters are ``names``, once per such shape (parsing a saved query each run took 5 ms
    of its 70): the SQL, the list parameters expanded, the placeholders it still has. Only
    strings are kept, nothing a caller could change."""
    tree = parse_query(sql)
    sizes = dict(lengths)
    expanded: list[str] = []
    for node in tree.find_all(exp.In):
        only = node.expressions[0] if len(node.expressions) == 1 else None
        if isinstance(only, exp.Placeholder) and only.name in sizes:
            keys = _list_keys(only.name, sizes[only.name], names)
            node.set("expressions", [exp.Placeholder(this=key) for key in keys])
            expanded.append(only.name)
    if not expanded:
        return sql, (), frozenset()
    still_used = frozenset(n.name for n in tree.find_all(exp.Placeholder))
    return tree.sql(dialect=READ), tuple(dict.fromkeys(expanded)), still_used


def _list_keys(name: str, count: int, names: Collection[str]) -> list[str]:
    """The names a list parameter's ``count`` values are bound by (``names``: every
    parameter's), or why it cannot be expanded."""
    if not count:
        raise QueryError(f"parameter :{name} is an empty list; choose at least one value")
    if count > MAX_IN_VALUES:
        raise QueryError(f"parameter :{name} has {count} values; an IN list takes at most {MAX_IN_VALUES}")
    keys = _keys(name, count)
    taken = sorted(set(keys) & set(names))
    if taken:
        raise QueryError(f"parameter :{taken[0]} clashes with the values of :{name}")
    return keys


def _keys(name: str, count: int) -> list[str]:
    return [f"{name}__{i}" for i in range(count)]


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def to_duckdb(tree: exp.Expr) -> str:
    """The query in DuckDB's dialect; ``:name`` becomes ``$name``."""
    return tree.sql(dialect="duckdb")


def to_positional(sql: str) -> tuple[str, list[str]]:
    """Athena SQL with every ``:name`` replaced by ``?``, and the names in textual order.

    sqlglot's tree walk and its generator both visit a CTE after the main query and
    ``LIMIT`` before ``WHERE``, so the order comes from the tokens of the generated text,
    whose offsets are exact.
    """
    tree = parse_query(sql)
    names = {n.name for n in tree.find_all(exp.Placeholder)}
    text = tree.sql(dialect=READ)
    pieces, order, last = [], [], 0
    tokens = Athena().tokenize(text)
    for colon, word in itertools.pairwise(tokens):
        if colon.token_type == TokenType.COLON and word.text in names and word.start == colon.end + 1:
            pieces.append(text[last : colon.start] + "?")
            order.append(word.text)
            last = word.end + 1
    expected = sum(1 for _ in tree.find_all(exp.Placeholder))
    if len(order) != expected:
        raise QueryError(f"found {len(order)} of {expected} placeholders in the generated SQL")
    return "".join(pieces) + text[last:], order


def format_literal(value: Any) -> str:
    """A value as an Athena (Trino) SQL literal: the one place values become SQL text.

    Trino string literals escape a quote by doubling it and know no backslash escapes
    (https://trino.io/docs/current/language/types.html#varchar).
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):
        return _number_literal(value)
    if isinstance(value, datetime):
        moment = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return f"TIMESTAMP '{moment.isoformat(sep=' ', timespec='milliseconds')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return _string_literal(value)
    if isinstance(value, Sequence):
        return "ARRAY[" + ", ".join(format_literal(v) for v in value) + "]"
    raise QueryError(f"cannot write a {type(value).__name__} as an SQL literal")


def _number_literal(value: float | Decimal) -> str:
    if not math.isfinite(value):
        raise QueryError(f"{value} is not a finite number")
    if isinstance(value, Decimal):
        return format(value, "f")
    return f"DOUBLE '{value!r}'" if "e" in repr(value) else repr(value)


def _string_literal(value: str) -> str:
    if "\x00" in value:
        raise QueryError("text values cannot contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


def _statement_kind(node: exp.Expr) -> str:
    return node.key.upper()


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
