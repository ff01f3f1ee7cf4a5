"""What a URL, the lake or an event carries is shown as text: a link in a warning, HTML
in an event field, Markdown in an order id. And: bounded ranges, one broken saved query."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app import catalog
from app.lake.writer import LakeWriter
from tests.app.apptest import open_app, open_page
from tests.app.test_live_and_redrive import event
from tests.instant import NOW
from tests.test_display_and_exports import HOSTILE, assert_inert, shown


def texts(elements) -> list[str]:
    return [element.value for element in elements]


@pytest.mark.parametrize("value", HOSTILE[:4])
def test_a_hostile_range_in_the_url_is_quoted_as_text(on_empty_lake, value):
    at = open_app({"range": value})
    assert not at.exception
    warning = at.sidebar.warning[0].value
    assert value in shown(warning) and "showing last 30 days" in warning
    assert_inert(warning.split(" (known:")[0].split("unknown range ")[1])


def test_a_year_out_of_range_is_one_sentence_on_every_page(on_empty_lake):
    at = open_app({"from": "9999-12-31", "to": "9999-12-31"})
    assert not at.exception and not at.error
    assert "outside the years" in at.sidebar.warning[0].value


def test_a_200_year_range_reads_at_most_the_limit(on_empty_lake, monkeypatch):
    monkeypatch.setenv("VERTICALS_MAX_RANGE_DAYS", "400")
    at = open_app({"from": "1980-01-01", "to": "2179-12-31"})
    assert not at.exception
    assert "more than the 400" in at.sidebar.warning[0].value
    assert at.query_params["from"] == "2178-11-27" and at.query_params["to"] == "2179-12-31"


def hostile_event(i: int, at: datetime, order_id: str, detail_type: str) -> dict:
    return {
        "version": "0",
        "id": f"evil-{i}",
        "source": "verticals.payments",
        "detail-type": detail_type,
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": {"order_id": order_id, "note": "<img src=x onerror=alert(1)>"},
    }


@pytest.mark.parametrize("value", HOSTILE[:4])
def test_hostile_event_fields_are_text_in_the_event_explorer(on_empty_lake, value):
    now = NOW
    LakeWriter(on_empty_lake).write([hostile_event(1, now - timedelta(hours=1), value, value)])
    at = open_page("event_explorer", {"range": "24h"})
    assert not at.exception and not at.error, texts(at.error)
    table = at.dataframe[0].value
    assert table["order_id"].tolist() == [value]  # a table cell: text as it is
    assert at.selectbox(key="ex_order").value == value
    # No OrderPlaced event: the journey is empty and the message quotes the order id.
    message = next(i.value for i in at.info if "No events carry order" in i.value)
    assert value in shown(message)
    assert_inert(message.split("carry order ")[1].split(" in this range")[0])


BROKEN = "-- title: [unterminated\n-- description: x\nSELECT 1\n"


@pytest.fixture
def queries_with_a_broken_one(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "queries"
    folder.mkdir()
    for name in ("order_funnel", "late_deliveries"):
        (folder / f"{name}.sql").write_text((catalog.QUERIES_DIR / f"{name}.sql").read_text())
    (folder / "broken_one.sql").write_text(BROKEN)
    monkeypatch.setattr(catalog, "QUERIES_DIR", folder)
    return folder


def test_one_broken_saved_query_shows_its_error_on_its_own_entry(on_empty_lake, queries_with_a_broken_one):
    loaded, broken = catalog.load_catalog_entries()
    assert set(loaded) == {"order_funnel", "late_deliveries"} and set(broken) == {"broken_one"}
    at = open_page("saved_queries")
    assert not at.exception and not at.error
    box = at.selectbox(key="sq_name")
    assert len(box.options) == 3 and "broken_one (cannot be read)" in box.options
    assert at.code  # a working query shows its SQL
    box.set_value("broken_one").run()
    assert not at.exception
    assert len(at.error) == 1 and "broken_one.sql" in at.error[0].value
    at.selectbox(key="sq_name").set_value("late_deliveries").run()
    assert not at.error and at.button(key="sq_run")


def order_placed(i: int, at: datetime, **detail) -> dict:
    """An OrderPlaced with every field the orders table reads; ``detail`` overrides them."""
    fields = {"order_id": f"o-{i}", "customer_id": "c", "channel": "web", "product_line": "chairs"}
    fields |= {"sku": "S", "quantity": 1, "unit_price": 10.0, "amount": 10.0, "currency": "USD"}
    return {**event(i, at), "id": f"order-{i}", "detail": fields | detail}


def test_an_order_without_a_region_is_counted_under_no_region_on_campaigns(on_empty_lake):
    """The lake keeps an event that lacks a field (null there): the page sorted the
    regions and raised on the null. And a lake of orders without any campaign raised on
    the empty table of effects before that."""
    days = [NOW - timedelta(days=d, hours=3) for d in range(1, 20)]
    events = [order_placed(i, at, region="west" if i % 2 else "east") for i, at in enumerate(days)]
    LakeWriter(on_empty_lake).write([*events, order_placed(99, days[3])])  # no region
    at = open_page("campaigns", {"range": "30d"})
    assert not at.exception, at.exception
    assert at.multiselect(key="campaign_regions").options == ["(no region)", "east", "west"]


LINK = '<a href="https://evil.example/phish">CLICK</a><b>x</b>'


def strings(value) -> list[str]:
    """Every string in a chart's JSON spec."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def chart_strings(at) -> list[str]:
    return [s for chart in at.get("plotly_chart") for s in strings(json.loads(chart.proto.spec))]


@pytest.mark.parametrize(
    ("page", "query", "split"),
    [
        pytest.param("event_rates", {"range": "24h"}, None, id="rates-by-department"),
        pytest.param("event_rates", {"range": "24h"}, "Detail type", id="rates-by-detail-type"),
        pytest.param("event_explorer", {"range": "24h"}, None, id="explorer-journey"),
        pytest.param("campaigns", {"range": "30d"}, None, id="campaigns-regions"),
    ],
)
def test_lake_names_in_charts_are_text_not_html(on_empty_lake, page, query, split):
    """A source, detail type or region from the lake reached Plotly's legends, axes and
    subplot titles as HTML: a link in a legend."""
    days = [NOW - timedelta(days=d, hours=3) for d in range(20)]
    events = [order_placed(i, at, region=LINK if i % 2 else "east") for i, at in enumerate(days)]
    odd = {**hostile_event(500, NOW - timedelta(hours=2), "o-x", LINK), "source": LINK}
    placed = order_placed(501, NOW - timedelta(hours=3), order_id="o-x", region="east")
    LakeWriter(on_empty_lake).write([*events, placed, odd])
    at = open_page(page, query)
    if split:
        at.segmented_control(key="rates_split").set_value(split).run()
    if page == "event_explorer":
        at.selectbox(key="ex_order").set_value("o-x").run()
    assert not at.exception, at.exception
    shown = chart_strings(at)
    assert any("&lt;a href" in s for s in shown)  # the value is drawn, as text
    assert not [s for s in shown if "<a " in s or "<b>" in s]


@pytest.mark.parametrize(
    ("days", "caption"),
    [
        pytest.param(1, "One day picked: 20 Feb 2026 alone.", id="one-day"),
        pytest.param(0, "No days picked: the query's default range is used.", id="none"),
    ],
)
def test_a_custom_range_being_picked_runs_without_a_python_repr(on_empty_lake, days, caption):
    """The picker holds one day while the second is chosen, none once cleared: Run said
    "'(datetime.date(2026, 11, 1),)' is not a date range; it accepts YYYY-MM-DD..…"."""
    at = open_page("saved_queries")
    at.selectbox(key="sq_name").set_value("late_deliveries").run()
    at.selectbox(key="sq:late_deliveries:period:preset").set_value("custom dates").run()
    picked = (datetime(2026, 2, 20).date(),)[:days]
    at.date_input(key="sq:late_deliveries:period:days").set_value(picked).run()
    at.button(key="sq_run").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert caption in texts(at.caption)


@pytest.mark.parametrize("page", ["campaigns", "demand_forecast"])
def test_a_range_long_after_the_last_orders_does_not_call_the_lake_empty(on_empty_lake, page):
    LakeWriter(on_empty_lake).write(
        [order_placed(i, NOW - timedelta(days=i + 1), region="east") for i in range(5)]
    )
    at = open_page(page, {"from": "2199-12-30", "to": "2199-12-31"})
    assert not at.exception and not at.error
    assert texts(at.info) == [
        "No orders in the two years up to 31 Dec 2199: pick an earlier range, "
        "or seed an empty lake with `make run`."
    ]


def test_a_stray_product_line_that_sorts_first_does_not_open_the_forecast(on_empty_lake):
    """One order of a line whose name sorts first ("!!! test", a typo, a test event): the
    page opened on it, as the first of the sorted lines. It opens on the line that sold most."""
    days = [NOW - timedelta(days=i % 40 + 1) for i in range(60)]
    orders = [order_placed(i, at, product_line="lamps", quantity=2) for i, at in enumerate(days)]
    stray = order_placed(99, days[0], product_line="!!! test", quantity=5)
    LakeWriter(on_empty_lake).write([*orders, stray])
    at = open_page("demand_forecast", {"range": "30d"})
    assert not at.exception and not at.error
    control = at.segmented_control(key="forecast_line")
    assert control.options[0] == "!!! test" and control.value == "lamps"


def test_a_product_line_is_text_in_the_forecasts_control(on_empty_lake):
    """The segmented control's options are Markdown: a product line from the lake showed a
    red bold ALERT and a warning icon there."""
    markdown = "[Re-plan](https://evil.example/x) :red[**ALERT**] :material/warning:"
    days = [NOW - timedelta(days=i % 40 + 1) for i in range(80)]
    lines = [markdown if i % 2 else "chairs" for i in range(80)]
    LakeWriter(on_empty_lake).write(
        [
            order_placed(i, at, region="east", product_line=line)
            for i, (at, line) in enumerate(zip(days, lines, strict=True))
        ]
    )
    at = open_page("demand_forecast", {"range": "30d"})
    assert not at.exception and not at.error
    options = [o.content for g in at.get("button_group") for o in g.proto.options]
    shown = next(o for o in options if "Re-plan" in o)
    assert shown != markdown and markdown in shown.replace("\\", "").replace("\u200b", "")
