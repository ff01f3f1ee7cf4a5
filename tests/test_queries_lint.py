"""Every saved query in queries/: its header, its placeholders, its SQL in both dialects,
its partition filters, and a run with its defaults over a lake with data."""

from __future__ import annotations

from datetime import date

import pytest
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from app.catalog import QUERIES_DIR, bind, load_query, resolve_params
from app.engines.duckdb_engine import DuckDBEngine
from app.engines.sqlparams import lake_tables, parse_query, placeholders, to_positional
from app.lake.tables import TABLES
from tests.fixtures_lake import FIXTURE_END, write_fixture_lake

QUERY_FILES = sorted(QUERIES_DIR.glob("*.sql"))


def test_there_are_enough_saved_queries():
    assert len(QUERY_FILES) >= 15


@pytest.fixture(scope="module")
def fixture_engine(tmp_path_factory):
    lake = write_fixture_lake(tmp_path_factory.mktemp("lint-lake"))
    engine = DuckDBEngine(lake, extension_directory=tmp_path_factory.mktemp("duckdb-ext"))
    yield engine
    engine.close()


def _ids(paths):
    return [p.stem for p in paths]


@pytest.mark.parametrize("path", QUERY_FILES, ids=_ids(QUERY_FILES))
def test_header_parses_and_params_match_placeholders(path):
    query = load_query(path)
    assert query.title and query.description and query.columns
    assert sorted(placeholders(parse_query(query.sql))) == sorted(query.placeholders)


@pytest.mark.parametrize("path", QUERY_FILES, ids=_ids(QUERY_FILES))
def test_sql_transpiles_to_duckdb_and_to_athena_positional(path):
    tree = parse_query(load_query(path).sql)
    tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    positional_sql, order = to_positional(load_query(path).sql)
    assert positional_sql.count("?") == len(order) > 0


def _dt_filtered(table: exp.Table) -> bool:
    """The SELECT that reads ``table`` filters ``dt`` (its own, by alias when it joins)
    against an expression built from parameters."""
    select = table.find_ancestor(exp.Select)
    where = select.args.get("where") if select else None
    if where is None:
        return False
    joined = len(list(select.find_all(exp.Table))) > 1
    for column in where.find_all(exp.Column):
        if column.name != "dt" or (joined and column.table not in (table.alias_or_name, "")):
            continue
        condition = column.find_ancestor(exp.Predicate, exp.Between, exp.In)
        if condition is not None and condition.find(exp.Placeholder):
            return True
    return False


@pytest.mark.parametrize("path", QUERY_FILES, ids=_ids(QUERY_FILES))
def test_every_lake_table_read_is_filtered_on_its_date_partition(path):
    tree = parse_query(load_query(path).sql)
    tables = [t for t in lake_tables(tree) if t.name in TABLES]
    assert tables, "a saved query reads the lake"
    unfiltered = [t.name for t in tables if not _dt_filtered(t)]
    assert not unfiltered, f"no dt filter with a parameter on {unfiltered}"


@pytest.mark.parametrize("path", QUERY_FILES, ids=_ids(QUERY_FILES))
def test_runs_with_its_defaults_and_returns_its_declared_columns(path, fixture_engine):
    query = load_query(path)
    sql, params = bind(query, resolve_params(query, {}, FIXTURE_END))
    result = fixture_engine.run(sql, params)
    assert list(result.frame.columns) == query.column_names
    assert result.rows > 0, "the fixture lake has rows for every saved query"
    assert result.files_scanned > 0


def test_the_dt_check_catches_a_missing_filter():
    bad = parse_query("SELECT * FROM orders o JOIN payments p ON p.order_id = o.order_id WHERE o.dt = :day")
    assert [t.name for t in lake_tables(bad) if not _dt_filtered(t)] == ["payments"]


# --- the realistic lake (the simulated enterprise) -------------------------------------


@pytest.fixture(scope="module")
def seeded_engine(seeded_lake, tmp_path_factory):
    engine = DuckDBEngine(seeded_lake, extension_directory=tmp_path_factory.mktemp("duckdb-ext"))
    yield engine
    engine.close()


def _last_day(engine: DuckDBEngine) -> date:
    return date.fromisoformat(engine.run("SELECT max(dt) AS d FROM events").frame.loc[0, "d"])


@pytest.mark.slow
@pytest.mark.parametrize("path", QUERY_FILES, ids=_ids(QUERY_FILES))
def test_returns_rows_on_the_seeded_lake(path, seeded_engine):
    query = load_query(path)
    sql, params = bind(query, resolve_params(query, {}, _last_day(seeded_engine)))
    result = seeded_engine.run(sql, params)
    assert list(result.frame.columns) == query.column_names
    assert result.rows > 0


def _choice_columns(tree: exp.Expression):
    """(param, lake table, column) for every ``contains(:param, column)`` or
    ``column IN (:param)`` over one table."""
    pairs = [(n.this, n.expression) for n in tree.find_all(exp.ArrayContains)]
    pairs += [(n.expressions[0], n.this) for n in tree.find_all(exp.In) if len(n.expressions) == 1]
    for param, column in pairs:
        select = column.find_ancestor(exp.Select)
        tables = [t.name for t in select.find_all(exp.Table) if t.name in TABLES]
        if isinstance(param, exp.Placeholder) and isinstance(column, exp.Column) and len(tables) == 1:
            yield param.name, tables[0], column.name


@pytest.mark.slow
@pytest.mark.parametrize("path", QUERY_FILES, ids=_ids(QUERY_FILES))
def test_multienum_choices_cover_the_values_in_the_seeded_lake(path, seeded_engine):
    """``all`` must mean all: a value missing from the choices would be dropped silently."""
    query = load_query(path)
    for name, table, column in _choice_columns(parse_query(query.sql)):
        seen = (
            seeded_engine.run(
                f"SELECT DISTINCT {column} AS v FROM {table} WHERE dt >= :since AND {column} IS NOT NULL",
                {"since": "0000"},
            )
            .frame["v"]
            .tolist()
        )
        missing = set(seen) - set(query.param(name).choices)
        assert not missing, f"{name} lacks {sorted(missing)} seen in {table}.{column}"


def test_hostile_free_text_is_bound_as_data(fixture_engine):
    query = load_query(QUERIES_DIR / "event_lookup.sql")
    assert query.param("event_id").unsafe
    hostile = {"event_id": "'; DROP VIEW events; --"}
    sql, params = bind(query, resolve_params(query, hostile, FIXTURE_END))
    assert fixture_engine.run(sql, params).rows == 0
    sql, params = bind(query, resolve_params(query, {}, FIXTURE_END))
    assert fixture_engine.run(sql, params).rows > 0
