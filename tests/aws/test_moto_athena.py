"""The test helper that answers moto's Athena from DuckDB: literals go where the ``?`` are,
types and text are Athena's, and the result file is Athena's CSV."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.aws.moto_athena import athena_csv, athena_text, athena_type, query_results, with_literals


@pytest.mark.parametrize(
    ("sql", "parameters", "expected"),
    [
        pytest.param(
            "SELECT a FROM t WHERE dt BETWEEN ? AND ?",
            ["'2026-01-01'", "'2026-01-31'"],
            "SELECT a FROM t WHERE dt BETWEEN '2026-01-01' AND '2026-01-31'",
            id="in-order",
        ),
        pytest.param(
            "SELECT '?' AS q FROM t WHERE x = ?",
            ["TIMESTAMP '2026-01-01 00:00:00.000'"],
            "SELECT '?' AS q FROM t WHERE x = TIMESTAMP '2026-01-01 00:00:00.000'",
            id="not-inside-a-string",
        ),
        pytest.param("SELECT 1 FROM t", [], "SELECT 1 FROM t", id="none"),
    ],
)
def test_with_literals(sql, parameters, expected):
    assert with_literals(sql, parameters) == expected


def test_more_parameters_than_placeholders_is_an_error():
    with pytest.raises(ValueError, match="1 ExecutionParameters without a"):
        with_literals("SELECT 1 FROM t WHERE a = ?", ["1", "2"])


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        pytest.param(pd.Series([1, 2]), "bigint", id="int"),
        pytest.param(pd.Series([1, None], dtype="Int64"), "bigint", id="nullable-int"),
        pytest.param(pd.Series([1.5]), "double", id="float"),
        pytest.param(pd.Series([True]), "boolean", id="bool"),
        pytest.param(
            pd.Series(pd.to_datetime(["2026-01-02 10:00"], utc=True)), "timestamp", id="utc-timestamp"
        ),
        pytest.param(pd.Series(pd.to_datetime(["2026-01-02", None])), "date", id="duckdb-date"),
        pytest.param(pd.Series(pd.to_datetime(["2026-01-02 10:30"])), "timestamp", id="naive-timestamp"),
        pytest.param(pd.Series(["a"]), "varchar", id="text"),
    ],
)
def test_athena_type(values, kind):
    assert athena_type(values) == kind


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        pytest.param(
            pd.Timestamp("2026-01-02 10:00:00.123456", tz="Europe/Berlin"),
            "timestamp",
            "2026-01-02 09:00:00.123",
            id="timestamp-in-utc-milliseconds",
        ),
        pytest.param(pd.Timestamp("2026-01-02"), "date", "2026-01-02", id="date"),
        pytest.param(False, "boolean", "false", id="bool"),
        pytest.param(float("nan"), "double", None, id="nan-is-null"),
        pytest.param(pd.NA, "bigint", None, id="na-is-null"),
        pytest.param(None, "varchar", None, id="none-is-null"),
    ],
)
def test_athena_text(value, kind, text):
    assert athena_text(value, kind) == text


def test_results_have_a_header_row_and_the_csv_quotes_like_athena():
    rows, columns = query_results(pd.DataFrame({"n": [1, None], "s": ['say "hi"', None]}))
    assert [c["Type"] for c in columns] == ["double", "varchar"]
    assert rows[0] == {"Data": [{"VarCharValue": "n"}, {"VarCharValue": "s"}]}
    assert athena_csv(rows) == b'"n","s"\n"1.0","say ""hi"""\n,\n'
