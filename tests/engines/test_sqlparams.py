from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlglot import exp

from app.engines.base import QueryError
from app.engines.sqlparams import (
    check_params,
    check_tables,
    format_literal,
    lake_tables,
    parse_query,
    placeholders,
    to_duckdb,
    to_positional,
)


@pytest.mark.parametrize(
    "sql, expected",
    [
        pytest.param("SELECT * FROM orders WHERE dt = :day", ["day"], id="one"),
        pytest.param("SELECT :a, :b, :a", ["a", "b"], id="distinct-in-order"),
        pytest.param(
            "SELECT ':not_me' AS x, :me -- :nor_me", ["me"], id="strings-and-comments-are-not-params"
        ),
        pytest.param("SELECT * FROM t WHERE contains(:regions, region)", ["regions"], id="array-param"),
        pytest.param("SELECT 1", [], id="none"),
    ],
)
def test_placeholders(sql, expected):
    assert placeholders(parse_query(sql)) == expected


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("DROP TABLE orders", id="ddl"),
        pytest.param("INSERT INTO orders SELECT * FROM orders", id="insert"),
        pytest.param("WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a", id="cte-insert"),
        pytest.param("SELECT * INTO copy FROM orders", id="select-into"),
        pytest.param("SELECT 1; SELECT 2", id="two-statements"),
        pytest.param("SELECT 1; DROP TABLE orders", id="stacked"),
        pytest.param("-- nothing", id="empty"),
        pytest.param("SET TimeZone = 'x'", id="set"),
        pytest.param("CREATE TABLE x AS SELECT 1", id="ctas"),
        pytest.param("UNLOAD (SELECT 1) TO 's3://b/' WITH (format = 'PARQUET')", id="unload"),
        pytest.param("SELECT * FROM orders WHERE", id="syntax-error"),
    ],
)
def test_parse_query_rejects_anything_but_one_select(sql):
    with pytest.raises(QueryError):
        parse_query(sql)


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT 1", id="select"),
        pytest.param("WITH a AS (SELECT 1 AS x) SELECT x FROM a", id="with"),
        pytest.param("SELECT 1 UNION ALL SELECT 2", id="union"),
    ],
)
def test_parse_query_accepts_queries(sql):
    parse_query(sql)


@pytest.mark.parametrize(
    "sql, message",
    [
        pytest.param("SELECT * FROM nope", "unknown table 'nope'", id="unknown"),
        pytest.param(
            "SELECT * FROM read_csv('/etc/passwd')", "table functions are not allowed", id="table-function"
        ),
        pytest.param("SELECT * FROM information_schema.tables", "unknown table 'tables'", id="catalog"),
        # Hostile input (issue 10): a CTE counts only inside the scope that defines it, and
        # a quoted file path or a table function is refused wherever it is.
        pytest.param(
            "SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM 'orders/dt=2026-01-01/part.parquet')",
            "file paths are not allowed",
            id="path-beside-a-cte-in-a-subquery",
        ),
        pytest.param(
            "SELECT * FROM (WITH orders AS (SELECT 1) SELECT 1) q, 'somefile.parquet'",
            "file paths are not allowed",
            id="path-after-a-subquery-cte",
        ),
        pytest.param(
            'SELECT * FROM (WITH "/lake/o/a.parquet" AS (SELECT 1) SELECT 1) q, "/lake/o/a.parquet"',
            "file paths are not allowed",
            id="path-named-like-a-cte-in-a-subquery",
        ),
        pytest.param(
            'WITH "a.parquet" AS (SELECT 1) SELECT * FROM "a.parquet"',
            "file paths are not allowed",
            id="path-even-as-a-cte-name",
        ),
        pytest.param(
            "SELECT * FROM (WITH secret AS (SELECT 1) SELECT 1) q, secret",
            "unknown table 'secret'",
            id="subquery-cte-out-of-scope",
        ),
        pytest.param(
            "WITH a AS (WITH secret AS (SELECT 1) SELECT 1) SELECT * FROM a, secret",
            "unknown table 'secret'",
            id="nested-cte-out-of-scope",
        ),
        pytest.param(
            "SELECT (SELECT count(*) FROM (WITH s AS (SELECT 1) SELECT 1)) FROM s",
            "unknown table 's'",
            id="scalar-subquery-cte-out-of-scope",
        ),
        pytest.param(
            "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a",
            "unknown table 'b'",
            id="cte-before-its-definition",
        ),
        pytest.param(
            "WITH a AS (SELECT * FROM a) SELECT * FROM a", "unknown table 'a'", id="self-not-recursive"
        ),
        pytest.param(
            "SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM read_parquet('/lake/orders/*.parquet'))",
            "table functions are not allowed",
            id="table-function-beside-a-cte",
        ),
        pytest.param(
            "WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT 1",
            "table functions are not allowed",
            id="table-function-in-an-unused-cte",
        ),
        pytest.param('SELECT * FROM "orders*"', "file paths are not allowed", id="glob"),
    ],
)
def test_check_tables_rejects(sql, message):
    with pytest.raises(QueryError, match=message):
        check_tables(parse_query(sql), {"orders"})


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("WITH x AS (SELECT * FROM orders) SELECT * FROM x", id="cte"),
        pytest.param("WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b", id="earlier-sibling"),
        pytest.param(
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t",
            id="recursive",
        ),
        pytest.param("WITH a AS (SELECT 1) SELECT * FROM (SELECT * FROM a)", id="outer-cte-in-subquery"),
        pytest.param("WITH a AS (SELECT 1) SELECT * FROM a UNION ALL SELECT * FROM a", id="union"),
        pytest.param("SELECT * FROM (WITH a AS (SELECT 1) SELECT * FROM a) q, orders", id="subquery-cte"),
        pytest.param("SELECT * FROM verticals.orders", id="qualified-lake-table"),
        pytest.param('SELECT O.amount FROM Verticals."ORDERS" AS O', id="table-name-in-any-case"),
        pytest.param("WITH X AS (SELECT 1) SELECT * FROM x, Orders", id="cte-name-in-any-case"),
    ],
)
def test_check_tables_allows_ctes_in_scope_and_lake_tables(sql):
    check_tables(parse_query(sql), {"orders"})


def test_names_are_folded_as_athena_folds_them_columns_kept():
    """Athena (Trino) folds table, CTE and alias names to lower case, quoted or not; the
    column names stay as written (they name the result's columns)."""
    tree = parse_query('WITH X AS (SELECT O.Amount FROM Verticals."ORDERS" AS O) SELECT x.Amount FROM X')
    assert tree.sql(dialect="athena") == (
        'WITH x AS (SELECT o.Amount FROM verticals."orders" AS o) SELECT x.Amount FROM x'
    )


def test_lake_tables_leave_out_only_the_ctes_in_scope():
    tree = parse_query("SELECT * FROM (WITH orders AS (SELECT 1) SELECT * FROM orders) q, orders")
    assert [t.sql() for t in lake_tables(tree)] == ["orders"]
    assert len(list(tree.find_all(exp.Table))) == 2


@pytest.mark.parametrize(
    "params, message",
    [
        pytest.param({"a": 1}, "missing value for parameter :b", id="missing"),
        pytest.param(
            {"a": 1, "b": 2, "c": 3}, r"unknown parameter :c \(the query takes :a, :b\)", id="unknown"
        ),
    ],
)
def test_check_params(params, message):
    with pytest.raises(QueryError, match=message):
        check_params(parse_query("SELECT :a + :b"), params)


def test_to_duckdb_binds_named_parameters():
    sql = to_duckdb(parse_query("SELECT * FROM t WHERE dt BETWEEN :p_start AND :p_end AND contains(:r, x)"))
    assert sql == "SELECT * FROM t WHERE dt BETWEEN $p_start AND $p_end AND ARRAY_CONTAINS($r, x)"


@pytest.mark.parametrize(
    "sql, expected_sql, names",
    [
        pytest.param(
            "SELECT * FROM t WHERE a = :x AND b = :y",
            "SELECT * FROM t WHERE a = ? AND b = ?",
            ["x", "y"],
            id="simple",
        ),
        pytest.param(
            "SELECT * FROM t WHERE a = :x OR a = :x",
            "SELECT * FROM t WHERE a = ? OR a = ?",
            ["x", "x"],
            id="repeated-name-binds-twice",
        ),
        # sqlglot's walk visits LIMIT before WHERE and the body before its CTEs: textual order wins.
        pytest.param(
            "WITH c AS (SELECT * FROM t WHERE a = :first) SELECT * FROM c WHERE b = :second LIMIT :third",
            "WITH c AS (SELECT * FROM t WHERE a = ?) SELECT * FROM c WHERE b = ? LIMIT ?",
            ["first", "second", "third"],
            id="textual-order",
        ),
        pytest.param("SELECT ':x' AS s, :x AS v", "SELECT ':x' AS s, ? AS v", ["x"], id="string-untouched"),
    ],
)
def test_to_positional(sql, expected_sql, names):
    assert to_positional(sql) == (expected_sql, names)


@pytest.mark.parametrize(
    "value, literal",
    [
        pytest.param(None, "NULL", id="null"),
        pytest.param(True, "TRUE", id="bool"),
        pytest.param(42, "42", id="int"),
        pytest.param(-1.5, "-1.5", id="float"),
        pytest.param(1e-07, "DOUBLE '1e-07'", id="float-exponent"),
        pytest.param(Decimal("12.50"), "12.50", id="decimal"),
        pytest.param("east", "'east'", id="text"),
        pytest.param("O'Brien", "'O''Brien'", id="quote-doubled"),
        pytest.param("'; DROP TABLE orders; --", "'''; DROP TABLE orders; --'", id="hostile"),
        pytest.param("back\\slash\\'", "'back\\slash\\'''", id="backslash-is-literal-in-trino"),
        pytest.param("naïve ☃", "'naïve ☃'", id="unicode"),
        pytest.param(date(2026, 3, 1), "DATE '2026-03-01'", id="date"),
        pytest.param(
            datetime(2026, 3, 1, 12, 30, tzinfo=UTC), "TIMESTAMP '2026-03-01 12:30:00.000'", id="timestamp"
        ),
        pytest.param(["east", "o'west"], "ARRAY['east', 'o''west']", id="array"),
        pytest.param([], "ARRAY[]", id="empty-array"),
    ],
)
def test_format_literal(value, literal):
    assert format_literal(value) == literal


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="inf"),
        pytest.param("a\x00b", id="nul"),
        pytest.param({"a": 1}, id="dict"),
    ],
)
def test_format_literal_rejects(value):
    with pytest.raises(QueryError):
        format_literal(value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("'; DROP TABLE orders; --", id="stacked-statement"),
        pytest.param("x' OR '1'='1", id="tautology"),
        pytest.param("''''", id="only-quotes"),
    ],
)
def test_hostile_text_stays_one_string_literal(value):
    from sqlglot import exp, parse_one

    tree = parse_one(f"SELECT {format_literal(value)}", read="trino")
    literal = tree.expressions[0]
    assert isinstance(literal, exp.Literal) and literal.is_string and literal.this == value
