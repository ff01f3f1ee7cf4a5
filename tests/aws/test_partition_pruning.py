"""Every query the app sends Athena filters projected partitions in a way projection
prunes (tests/aws/pruning.py): saved queries with any choice of values, the services'
SQL, and — through AppTest on moto — the SQL the pages send."""

from __future__ import annotations

import pandas as pd
import pytest

from app.catalog import QUERIES_DIR, bind, load_query, resolve_params
from app.engines import sqlparams
from app.engines.base import QueryError
from app.engines.duckdb_engine import DuckDBEngine
from app.engines.sqlparams import MAX_IN_VALUES, expand_in_lists, to_positional
from app.services import explorer
from tests.app.apptest import open_app, open_page
from tests.aws.pruning import unprunable_predicates
from tests.aws.test_apptest_aws import DAYS, assert_clean, on_aws  # noqa: F401  (on_aws: a fixture)
from tests.fixtures_lake import FIXTURE_END, write_fixture_lake
from tests.instant import TODAY

QUERY_FILES = sorted(QUERIES_DIR.glob("*.sql"))


@pytest.mark.parametrize(
    ("sql", "unprunable"),
    [
        pytest.param("SELECT 1 FROM events WHERE dt = ? AND source IN (?, ?)", [], id="eq-and-in"),
        pytest.param("SELECT 1 FROM events WHERE dt BETWEEN ? AND ? AND source = ?", [], id="between-eq"),
        pytest.param("SELECT 1 FROM events WHERE dt >= ? AND dt < '2026-01-01'", [], id="dt-range"),
        pytest.param(
            "SELECT 1 FROM orders WHERE dt BETWEEN ?"
            " AND date_format(date_add('day', 14, date(?)), '%Y-%m-%d')",
            [],
            id="values-only-expression",
        ),
        pytest.param("SELECT 1 FROM events e WHERE e.dt = ? AND e.source IN ('a')", [], id="alias"),
        pytest.param(
            "SELECT 1 FROM events WHERE dt = ? AND contains(ARRAY['a'], source)",
            ["CONTAINS(ARRAY['a'], source)"],
            id="contains-does-not-prune",
        ),
        pytest.param(
            "SELECT 1 FROM events WHERE dt = ? AND contains(?, source)",
            ["CONTAINS(?, source)"],
            id="array-param",
        ),
        pytest.param("SELECT 1 FROM events WHERE source > ?", ["source > ?"], id="range-on-an-enum"),
        pytest.param("SELECT 1 FROM events WHERE substr(dt, 1, 7) = ?", ["SUBSTR(dt, 1, 7)"], id="function"),
        pytest.param(
            "SELECT 1 FROM events WHERE dt = source", ["dt = source", "dt = source"], id="column-column"
        ),
        pytest.param("SELECT 1 FROM orders WHERE dt = ? AND contains(?, region)", [], id="not-a-partition"),
        pytest.param(
            "SELECT 1 FROM orders o JOIN events e ON o.order_id = e.id"
            " WHERE o.dt = ? AND contains(?, e.source)",
            ["CONTAINS(?, e.source)"],
            id="joined",
        ),
    ],
)
def test_unprunable_predicates(sql, unprunable):
    assert unprunable_predicates(sql) == unprunable


def athena_sql(sql: str, params: dict) -> str:
    """The QueryString the Athena engine sends for ``sql`` and ``params``."""
    expanded, _ = expand_in_lists(sql, params)
    return to_positional(expanded)[0]


@pytest.mark.parametrize("path", QUERY_FILES, ids=[p.stem for p in QUERY_FILES])
@pytest.mark.parametrize("choose", ["defaults", "one-choice"])
def test_every_saved_query_prunes_its_partitions(path, choose):
    query = load_query(path)
    raw = (
        {p.name: p.choices[0] for p in query.params if p.type == "multienum"}
        if choose == "one-choice"
        else {}
    )
    sql, params = bind(query, resolve_params(query, raw, TODAY))
    assert unprunable_predicates(athena_sql(sql, params)) == []


def test_a_source_filter_is_an_in_list_of_parameters():
    query = load_query(QUERIES_DIR / "event_rate_by_source.sql")
    sql, params = bind(query, resolve_params(query, {"sources": "verticals.shop,verticals.crm"}, TODAY))
    expanded, bound = expand_in_lists(sql, params)
    assert "source IN (:sources__0, :sources__1)" in expanded
    assert bound["sources__0"] == "verticals.shop" and bound["sources__1"] == "verticals.crm"
    assert "sources" not in bound
    positional, order = to_positional(expanded)
    assert "source IN (?, ?)" in positional and order[-2:] == ["sources__0", "sources__1"]


def test_an_in_list_query_is_parsed_once_per_shape(monkeypatch):
    """A query with a list parameter is parsed once per length of its lists (a saved
    query's run parsed it every time); each run binds its own values."""
    sqlparams._expanded.cache_clear()  # a run before this one in the process may have parsed it
    parsed: list[str] = []
    real = sqlparams.parse_query
    monkeypatch.setattr(sqlparams, "parse_query", lambda sql: parsed.append(sql) or real(sql))
    sql = "SELECT count(*) FROM events WHERE source IN (:s) AND detail_type IN (:t) AND id = :id -- shape"
    runs = [
        ({"s": ["a", "b"], "t": ["x"], "id": "1"}, "source IN (:s__0, :s__1) AND detail_type IN (:t__0)"),
        ({"s": ["c", "d"], "t": ("y",), "id": "2"}, "source IN (:s__0, :s__1) AND detail_type IN (:t__0)"),
        ({"s": ["e"], "t": ["z"], "id": "3"}, "source IN (:s__0) AND detail_type IN (:t__0)"),
    ]
    for params, where in runs:
        expanded, bound = expand_in_lists(sql, params)
        assert where in expanded
        values = {f"s__{i}": v for i, v in enumerate(params["s"])} | {
            "t__0": params["t"][0],
            "id": params["id"],
        }
        assert bound == values
    assert len(parsed) == 2  # two lengths of :s
    with pytest.raises(QueryError, match="empty list"):  # a refusal is not kept
        expand_in_lists(sql, {"s": [], "t": ["x"], "id": "1"})
    with pytest.raises(QueryError, match="empty list"):
        expand_in_lists(sql, {"s": [], "t": ["x"], "id": "1"})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param([], "empty list", id="empty"),
        pytest.param(["x"] * (MAX_IN_VALUES + 1), f"at most {MAX_IN_VALUES}", id="too-many"),
    ],
)
def test_an_in_list_is_bounded(values, message):
    with pytest.raises(QueryError, match=message):
        expand_in_lists("SELECT 1 FROM events WHERE source IN (:s)", {"s": values})


def test_a_name_clash_with_the_expanded_values_is_refused():
    with pytest.raises(QueryError, match="clashes"):
        expand_in_lists("SELECT 1 FROM events WHERE source IN (:s) AND id = :s__0", {"s": ["a"], "s__0": "b"})


@pytest.mark.parametrize(
    "sources",
    [["verticals.shop"], ["verticals.shop", "verticals.erp", "verticals.crm"]],
    ids=["one", "three"],
)
def test_duckdb_answers_the_in_list_as_it_answered_contains(sources, tmp_path):
    """The local engine gives the IN list's answer the array's: the same rows."""
    engine = DuckDBEngine(write_fixture_lake(tmp_path / "lake"), extension_directory=tmp_path / "ext")
    query = load_query(QUERIES_DIR / "event_rate_by_source.sql")
    sql, params = bind(
        query, resolve_params(query, {"sources": sources, "period": "last 7 days"}, FIXTURE_END)
    )
    with_in = engine.run(sql, params).frame
    with_contains = engine.run(
        sql.replace("source IN (:sources)", "contains(:sources, source)"), params
    ).frame
    engine.close()
    assert len(with_in) > 0 and set(with_in["source"]) <= set(sources)
    pd.testing.assert_frame_equal(with_in, with_contains)


@pytest.mark.parametrize("wide", [False, True])
def test_the_explorers_search_prunes(wide):
    sql, _ = explorer.find_sql(
        explorer.EventQuery(("verticals.shop", "verticals.crm"), ("OrderPlaced",), "x"), wide
    )
    assert unprunable_predicates(to_positional(sql)[0]) == []


def test_every_page_query_on_aws_prunes_its_partitions(on_aws):  # noqa: F811
    """The dashboards, a source-filtered search and a source-filtered saved query."""
    open_app(DAYS)
    for page in ("event_rates", "campaigns", "demand_forecast"):
        assert_clean(open_page(page, DAYS))
    at = open_page("event_explorer", DAYS)
    at.multiselect(key="ex_sources").set_value(["verticals.shop", "verticals.crm"]).run()
    assert_clean(at)
    at = open_page("saved_queries")
    at.selectbox(key="sq_name").set_value("event_rate_by_source").run()
    at.button(key="sq_run").click().run()
    assert_clean(at)
    sent = [q["QueryString"] for q in on_aws["athena"].queries]
    assert sum("source IN (?, ?)" in q for q in sent) >= 1  # the search's two sources
    assert any("source IN (?, ?, ?, ?, ?, ?, ?, ?)" in q for q in sent)  # the saved query's "all"
    assert {q: unprunable_predicates(q) for q in sent if unprunable_predicates(q)} == {}
