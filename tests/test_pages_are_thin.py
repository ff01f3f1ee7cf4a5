"""Pages lay out widgets and call services: no AWS SDK, no database driver, no SQL."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from app.settings import REPO_ROOT

FORBIDDEN = ("boto3", "botocore", "duckdb", "pyathena", "awswrangler")
PAGES = sorted((REPO_ROOT / "pages").glob("*.py"))
# The project writes SQL keywords in capitals; prose ("select the rows from...") does not.
SQL = re.compile(r"\bSELECT\b[\s\S]+\bFROM\b")


def imported_modules(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", "") == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def forbidden_imports(source: str) -> list[str]:
    return sorted(m for m in imported_modules(ast.parse(source)) if m.split(".")[0] in FORBIDDEN)


def sql_strings(source: str) -> list[str]:
    return [
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)
    ]


def test_there_are_seven_pages():
    assert [p.stem for p in PAGES] == sorted(
        [
            "overview",
            "event_rates",
            "delivery_health",
            "campaigns",
            "demand_forecast",
            "saved_queries",
            "event_explorer",
        ]
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_page_imports_no_sdk_or_driver(page: Path):
    assert forbidden_imports(page.read_text()) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_page_holds_no_sql(page: Path):
    assert sql_strings(page.read_text()) == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        pytest.param("import boto3", ["boto3"], id="import"),
        pytest.param("import botocore.exceptions as e", ["botocore.exceptions"], id="dotted-alias"),
        pytest.param("from duckdb import connect", ["duckdb"], id="from-import"),
        pytest.param(
            "from pyathena.pandas.cursor import PandasCursor", ["pyathena.pandas.cursor"], id="from-dotted"
        ),
        pytest.param("def f():\n    import awswrangler as wr", ["awswrangler"], id="nested"),
        pytest.param("mod = __import__('duckdb')", ["duckdb"], id="dunder-import"),
        pytest.param("import duckdbx\nfrom app import ui", [], id="similar-names-pass"),
    ],
)
def test_the_check_finds_forbidden_imports(source, found):
    assert forbidden_imports(source) == found


@pytest.mark.parametrize(
    ("source", "count"),
    [
        pytest.param("q = 'SELECT a FROM t WHERE b'", 1, id="sql"),
        pytest.param('q = """\nSELECT day\nFROM orders"""', 1, id="multi-line"),
        pytest.param("st.caption('Select the rows from the table')", 0, id="prose"),
    ],
)
def test_the_check_finds_sql(source, count):
    assert len(sql_strings(source)) == count
