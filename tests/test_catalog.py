from datetime import date
from pathlib import Path

import pytest

from app.catalog import (
    CatalogError,
    DateRange,
    Param,
    ParamError,
    bind,
    load_catalog,
    parse_saved_query,
    relative_date,
    relative_range,
    resolve_params,
    split_header,
)

TODAY = date(2026, 3, 18)  # a Wednesday

QUERY = """\
-- title: Orders per day
-- description: >
--   Orders placed per day.
-- audience: manager
-- params:
--   period: {type: daterange, default: last 7 days, max_days: 31}
--   regions: {type: multienum, choices: [east, west], default: all}
--   top_n: {type: number, default: 10, min: 1, max: 100, integer: true}
--   sku: {type: text, default: "%", max_length: 40}
--   day: {type: date, default: yesterday}
--   channel: {type: enum, choices: [web, app], default: web}
-- columns:
--   day: day (UTC)
--   orders: orders placed
SELECT dt AS day, count(*) AS orders FROM orders
WHERE dt BETWEEN :period_start AND :period_end AND contains(:regions, region)
  AND sku LIKE :sku AND channel = :channel AND dt <> :day
GROUP BY 1 ORDER BY 1 LIMIT :top_n
"""


@pytest.fixture
def query():
    return parse_saved_query(QUERY, "orders_per_day")


def test_header_and_body(query):
    assert (query.title, query.audience) == ("Orders per day", "manager")
    assert query.description == "Orders placed per day."
    assert query.column_names == ["day", "orders"]
    assert [p.name for p in query.params] == ["period", "regions", "top_n", "sku", "day", "channel"]
    assert query.placeholders == ["period_start", "period_end", "regions", "top_n", "sku", "day", "channel"]
    assert query.sql.startswith("SELECT dt AS day")
    assert query.param("sku").unsafe and not query.param("period").unsafe


def test_split_header_stops_at_the_first_sql_line():
    header, body = split_header("-- title: x\n--description: y\nSELECT 1 -- trailing\n-- not header")
    assert header == "title: x\ndescription: y"
    assert body == "SELECT 1 -- trailing\n-- not header"


def test_defaults(query):
    assert resolve_params(query, {}, TODAY) == {
        "period": DateRange(date(2026, 3, 12), TODAY),
        "regions": ("east", "west"),
        "top_n": 10,
        "sku": "%",
        "day": date(2026, 3, 17),
        "channel": "web",
    }


def test_bind_expands_ranges_and_lists(query):
    values = resolve_params(query, {"period": "2026-03-01..2026-03-05", "regions": "west"}, TODAY)
    sql, params = bind(query, values)
    assert sql == query.sql
    assert params == {
        "period_start": "2026-03-01",
        "period_end": "2026-03-05",
        "regions": ["west"],
        "top_n": 10,
        "sku": "%",
        "day": "2026-03-17",
        "channel": "web",
    }


@pytest.mark.parametrize(
    "phrase, expected",
    [
        pytest.param("today", ("2026-03-18", "2026-03-18"), id="today"),
        pytest.param("yesterday", ("2026-03-17", "2026-03-17"), id="yesterday"),
        pytest.param("last 7 days", ("2026-03-12", "2026-03-18"), id="last-7-days-includes-today"),
        pytest.param("Last  1 day", ("2026-03-18", "2026-03-18"), id="case-and-spaces"),
        pytest.param("last 30 days", ("2026-02-17", "2026-03-18"), id="last-30-days"),
        pytest.param("week to date", ("2026-03-16", "2026-03-18"), id="week-starts-monday"),
        pytest.param("month to date", ("2026-03-01", "2026-03-18"), id="month-to-date"),
        pytest.param("year to date", ("2026-01-01", "2026-03-18"), id="year-to-date"),
        pytest.param("last month", ("2026-02-01", "2026-02-28"), id="last-month"),
    ],
)
def test_relative_ranges(phrase, expected):
    found = relative_range(phrase, TODAY)
    assert (found.start.isoformat(), found.end.isoformat()) == expected


def test_relative_days_before_year_one_are_no_days():
    """They raised OverflowError: a traceback from `query run --today 0001-01-03`."""
    first = date(1, 1, 3)
    assert relative_range("last 9999 days", first) is None and relative_range("last month", first) is None
    assert relative_date("9999 days ago", first) is None and relative_date("yesterday", date(1, 1, 1)) is None


@pytest.mark.parametrize(
    "name, raw, expected",
    [
        pytest.param(
            "period", "2026-03-01", DateRange(date(2026, 3, 1), date(2026, 3, 1)), id="range-one-day"
        ),
        pytest.param(
            "period",
            (date(2026, 3, 1), date(2026, 3, 2)),
            DateRange(date(2026, 3, 1), date(2026, 3, 2)),
            id="range-from-a-form",
        ),
        pytest.param("regions", "West, east,west", ("west", "east"), id="multienum-folds-and-dedupes"),
        pytest.param("regions", ["east"], ("east",), id="multienum-list"),
        pytest.param("regions", "*", ("east", "west"), id="multienum-star"),
        pytest.param("top_n", " 42 ", 42, id="number"),
        pytest.param("top_n", "42.0", 42, id="whole-float"),
        pytest.param("day", "3 days ago", date(2026, 3, 15), id="days-ago"),
        pytest.param("day", date(2026, 1, 2), date(2026, 1, 2), id="date-object"),
        pytest.param("channel", "APP", "app", id="enum-case-folded"),
        pytest.param("sku", "'; DROP TABLE x; --", "'; DROP TABLE x; --", id="hostile-text-is-just-data"),
    ],
)
def test_values(query, name, raw, expected):
    assert resolve_params(query, {name: raw}, TODAY)[name] == expected


@pytest.mark.parametrize(
    "name, raw, message",
    [
        pytest.param("period", "2026-03-05..2026-03-01", "starts after it ends", id="reversed"),
        pytest.param("period", "2026-01-01..2026-03-01", "more than 31", id="too-long"),
        pytest.param("period", "last week-ish", "is not a date range", id="unknown-phrase"),
        pytest.param("period", "2026-02-30", "is not a date range", id="impossible-date"),
        pytest.param("period", "last 0 days", "is not a date range", id="zero-days"),
        pytest.param(  # the whole value named, not the empty half before ".."
            "period", "../../etc/passwd", "'../../etc/passwd' is not a date range", id="path-with-dots"
        ),
        pytest.param("period", "2026-03-01..soon", "'2026-03-01..soon' is not a date range", id="bad-end"),
        pytest.param("regions", "east,mars", "'mars' is not a choice", id="bad-choice"),
        pytest.param("regions", " , ", "nothing was chosen", id="empty"),
        pytest.param("top_n", "0", "less than 1", id="below-min"),
        pytest.param("top_n", "101", "more than 100", id="above-max"),
        # quoted as typed, not as the float it became (99999999999999991611392, 1 and 308 zeros)
        pytest.param("top_n", "99999999999999999999999", "99999999999999999999999 is more", id="huge"),
        pytest.param("top_n", "1e308", ": 1e308 is more than 100", id="huge-exponent"),
        pytest.param("top_n", "2.5", "not a whole number", id="not-whole"),
        pytest.param("top_n", "nan", "not a finite number", id="nan"),
        pytest.param("top_n", "1; DROP TABLE x", "not a number", id="hostile-number"),
        pytest.param("top_n", True, "not a number", id="bool"),
        pytest.param("day", "tomorrowish", "is not a date", id="bad-date"),
        pytest.param("channel", "'; DROP TABLE x; --", "is not a choice", id="hostile-enum"),
        pytest.param("sku", "x" * 41, "41 characters long", id="too-long-text"),
        pytest.param("sku", "a\nb", "control characters", id="control-characters"),
        pytest.param("sku", 5, "is not text", id="not-text"),
    ],
)
def test_bad_values_name_the_parameter_and_what_it_accepts(query, name, raw, message):
    with pytest.raises(ParamError, match=message) as caught:
        resolve_params(query, {name: raw}, TODAY)
    assert str(caught.value).startswith(f"parameter {name}: ")
    assert "it accepts" in str(caught.value)


@pytest.mark.parametrize(
    "name, raw, said",
    [
        pytest.param("top_n", "2" * 400, f"'{'2' * 39}…' (400 characters) is not a finite", id="long"),
        pytest.param("top_n", "9" * 100, f": {'9' * 39}… (100 characters) is more than 100", id="long-max"),
        pytest.param("period", "x" * 60, f"'{'x' * 39}…' (60 characters) is not a date", id="long-range"),
        pytest.param("top_n", "a\\b", "'a\\b' is not a number", id="backslash-as-typed"),
        pytest.param("top_n", "1\x1b[2J", "'1\\x1b[2J' is not a number", id="escape-spelled"),
    ],
)
def test_a_value_is_quoted_as_typed_and_cut(query, name, raw, said):
    """A sentence quotes at most 40 characters of a value, then its length; a backslash
    as typed (repr() doubled it), a control character spelled \\xNN."""
    with pytest.raises(ParamError) as caught:
        resolve_params(query, {name: raw}, TODAY)
    assert said in str(caught.value), str(caught.value)
    assert len(raw) <= 40 or raw not in str(caught.value)  # never the whole of a long value


def test_unknown_parameter(query):
    with pytest.raises(ParamError, match="has no parameter colour; it takes period, regions"):
        resolve_params(query, {"colour": "red"}, TODAY)


def test_text_pattern_option():
    param = Param("sku", "text", "%", pattern="[A-Z0-9%-]*")
    assert param.parse("CHR-%", TODAY) == "CHR-%"
    with pytest.raises(ParamError, match="does not match"):
        param.parse("chr'--", TODAY)


def _header(params: str = "", body: str = "SELECT 1 AS x FROM orders WHERE dt = :day") -> str:
    return (
        "-- title: T\n-- description: D\n-- audience: analyst\n"
        f"-- params:\n--   day: {{type: date, default: today}}\n{params}"
        "-- columns:\n--   x: x\n" + body
    )


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("SELECT 1", "must start with a YAML header", id="no-header"),
        pytest.param("-- title: [unclosed\nSELECT 1", "not valid YAML", id="bad-yaml"),
        pytest.param(
            _header().replace("audience: analyst", "audience: ceo"), "audience 'ceo'", id="bad-audience"
        ),
        pytest.param(_header().replace("-- title: T\n", ""), "needs a title", id="no-title"),
        pytest.param(
            _header().replace("-- columns:\n--   x: x\n", ""), "declare the output columns", id="no-columns"
        ),
        pytest.param("-- titel: T\n" + _header(), "unknown header key", id="typo-key"),
        pytest.param(_header("--   n: {type: integer, default: 1}\n"), "needs a type", id="unknown-type"),
        pytest.param(_header("--   n: {type: number}\n"), "needs a default", id="no-default"),
        pytest.param(
            _header("--   n: {type: number, default: 1, choices: [1]}\n"), "unknown option", id="bad-option"
        ),
        pytest.param(
            _header("--   n: {type: enum, default: a}\n"), "needs choices", id="enum-without-choices"
        ),
        pytest.param(
            _header("--   n: {type: enum, choices: [a], default: b}\n"),
            "default: parameter n",
            id="bad-default",
        ),
        pytest.param(
            _header("--   Bad-Name: {type: number, default: 1}\n"), "parameter name", id="bad-param-name"
        ),
        pytest.param(
            _header(body="SELECT 1 AS x FROM orders WHERE dt = :dya"),
            "uses :dya but the parameters bind :day",
            id="placeholder-typo",
        ),
        pytest.param(_header(body="DELETE FROM orders WHERE dt = :day"), "only SELECT", id="not-a-select"),
        pytest.param(_header(body=""), "body is empty", id="empty-body"),
    ],
)
def test_malformed_saved_queries(text, message):
    with pytest.raises(CatalogError, match=message):
        parse_saved_query(text, "q")


def test_load_catalog_names_the_bad_file(tmp_path: Path):
    (tmp_path / "good.sql").write_text(_header())
    assert list(load_catalog(tmp_path)) == ["good"]
    (tmp_path / "bad.sql").write_text("SELECT 1")
    with pytest.raises(CatalogError, match=r"^bad\.sql: "):
        load_catalog(tmp_path)


def test_the_shipped_catalog_loads():
    catalog = load_catalog()
    assert len(catalog) >= 15
    assert {q.audience for q in catalog.values()} == {"manager", "analyst", "ops"}


def test_load_catalog_sees_an_edited_file(tmp_path: Path):
    path = tmp_path / "q.sql"
    path.write_text(_header())
    assert load_catalog(tmp_path)["q"].title == "T"
    path.write_text(_header().replace("title: T", "title: Longer title"))
    assert load_catalog(tmp_path)["q"].title == "Longer title"
