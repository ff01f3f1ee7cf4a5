"""Every saved query binds for Athena: placeholders in WHERE only, values as ExecutionParameters
literals Athena accepts, and of a type that fits what each is compared with."""

from __future__ import annotations

from datetime import date

import pytest

from app.catalog import bind, load_catalog, resolve_params
from app.engines.athena import check_placeholders, execution_parameters
from app.engines.sqlparams import check_params, parse_query, to_positional
from tests.aws.athena_types import inline, type_mismatches

CATALOG = load_catalog()
TODAY = date(2026, 3, 16)


def test_the_catalog_is_not_empty():
    assert len(CATALOG) >= 15


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_saved_query_binds_for_athena(name):
    query = CATALOG[name]
    sql, params = bind(query, resolve_params(query, {}, TODAY))
    tree = parse_query(sql)
    check_params(tree, params)
    check_placeholders(tree)
    positional, names = to_positional(sql)
    literals = execution_parameters(names, params)
    assert positional.count("?") == len(literals) == len(names)
    assert all(1 <= len(literal) <= 1024 for literal in literals)
    assert type_mismatches(inline(positional, literals)) == []


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        pytest.param(
            "SELECT 1 FROM orders WHERE dt BETWEEN '2026-01-01' AND '2026-01-07'", None, id="dt-with-text"
        ),
        pytest.param(
            "SELECT 1 FROM orders WHERE dt >= DATE '2026-01-01'", "text with time", id="dt-with-date"
        ),
        pytest.param(
            "SELECT 1 FROM orders WHERE time >= '2026-01-01'", "text with time", id="timestamp-with-text"
        ),
        pytest.param(
            "SELECT 1 FROM orders WHERE time >= TIMESTAMP '2026-01-01 00:00:00'", None, id="timestamp-with-ts"
        ),
        pytest.param("SELECT 1 FROM orders WHERE quantity > '3'", "number with text", id="number-with-text"),
        pytest.param("SELECT 1 FROM orders WHERE contains(ARRAY['east'], region)", None, id="contains-text"),
        pytest.param(
            "SELECT 1 FROM orders WHERE contains(ARRAY[1, 2], region)",
            "number with text",
            id="contains-numbers-in-text",
        ),
        pytest.param(
            "SELECT 1 FROM shipments WHERE promised_date < date('2026-01-01')", None, id="date-function"
        ),
    ],
)
def test_type_mismatches_finds_what_trino_refuses(sql, problem):
    found = type_mismatches(sql)
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0]


def test_inline_needs_one_value_per_placeholder():
    assert inline("a = ? AND b = ?", ["1", "'x'"]) == "a = 1 AND b = 'x'"
    with pytest.raises(ValueError):
        inline("a = ?", [])
