"""Every page on the small seeded lake (60 days, seed 11): what each page shows (Campaigns and
Demand forecast: test_campaigns_page.py, test_demand_forecast_page.py)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from app.bus.definition import load_definition
from app.catalog import load_catalog
from app.departments import DEPARTMENTS, DETAIL_TYPES
from app.display import department_colours
from app.services.overview import KPIS
from app.settings import REPO_ROOT
from tests.app.apptest import open_app, open_page
from tests.app.page_content import (
    assert_clean,
    chart_titled,
    chart_with_trace,
    charts,
    optional_table_with,
    table_with,
    values,
)
from tests.instant import TODAY

pytestmark = pytest.mark.usefixtures("on_seeded_lake")

WHOLE_LAKE = {"range": "90d"}  # the seeded lake holds 60 days ending today


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def number(text: str) -> float:
    return float(text.replace(",", "").replace("$", "").replace("%", "").split()[0])


def test_overview_shows_a_kpi_per_department_with_its_change():
    at = open_app(WHOLE_LAKE)
    assert_clean(at)
    assert at.title[0].value == "Overview"
    shown = metrics(at)
    assert list(shown) == [kpi.label for kpi in KPIS]
    assert all(value != "—" for value in shown.values()), shown
    captions = " ".join(c.value for c in at.main.caption)
    assert all(d.name.upper() in captions for d in DEPARTMENTS)
    assert number(shown["Orders"]) > 10_000  # ~500 orders a day for 60 days
    assert 0 < number(shown["Payment failure rate"]) < 50
    assert 0 < number(shown["On-time delivery rate"]) <= 100
    assert all(len(m.proto.chart_data) >= 28 for m in at.metric)  # a daily trend in every card
    figure = chart_with_trace(at, "this period")
    assert {trace["name"] for trace in figure["data"]} == {"this period", "previous period"}
    assert len(figure["data"]) == 16  # 8 KPIs x (this, previous)


def test_overview_over_24_hours_draws_each_kpi_so_far_hour_by_hour():
    at = open_app({"range": "24h"})
    assert_clean(at)
    cards = metrics(at)
    assert all(value != "—" for value in cards.values())  # the figures are there
    assert [h.value for h in at.subheader][-1].startswith("Hour by hour")
    figure = chart_with_trace(at, "this period")
    assert figure["layout"]["xaxis5"]["title"]["text"] == "hours into the period"
    orders = next(t for t in figure["data"] if t["name"] == "this period")  # the first subplot's
    drawn = values(orders)[~np.isnan(values(orders))]  # a range ending at :30 cuts its last hour
    # The last whole hour's orders so far: the range's orders, less any of the partial hour.
    assert len(drawn) >= 22 and 0 < drawn[-1] <= number(cards["Orders"])
    week = open_app({"range": "7d"})
    assert [h.value for h in week.subheader][-1].startswith("Day by day")
    # One or two days by the date are drawn by the hour too: by the day, a dot or two.
    day = (TODAY - timedelta(days=1)).isoformat()
    for days in ({"from": day, "to": day}, {"from": day, "to": TODAY.isoformat()}):
        at = open_app(days)
        assert [h.value for h in at.subheader][-1].startswith("Hour by hour"), days
    # Hovers give the value as the card writes it.
    hovers = [t["hovertemplate"] for t in figure["data"]]
    assert "%{y:.1%}" in hovers[2] and "%{y:,.0f}" in hovers[0]


def test_overview_compares_against_the_previous_period():
    at = open_app({"range": "7d"})
    assert_clean(at)
    deltas = {m.label: m.delta for m in at.metric}
    assert deltas["Orders"].endswith("%")  # the week before has orders too
    assert deltas["Payment failure rate"].endswith("pp")  # rates change in points


def test_event_rates_show_every_department_over_time_and_a_heatmap():
    at = open_page("event_rates", WHOLE_LAKE)
    assert_clean(at)
    assert number(metrics(at)["Events"]) > 100_000
    assert "Whole days only" in " ".join(c.value for c in at.main.caption)  # 90d: daily buckets
    found = charts(at)
    area, heatmap = found["rates_area"], found["rates_heatmap"]
    assert {trace["name"] for trace in area["data"]} == {d.name for d in DEPARTMENTS}
    assert heatmap["data"][0]["type"] == "heatmap"
    assert heatmap["data"][0]["y"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    top = table_with(at, "detail_type", "events")
    assert len(top) >= 15
    assert set(top["detail_type"]) <= set(DETAIL_TYPES)
    assert top["events"].is_monotonic_decreasing


def test_event_rates_split_by_detail_type():
    at = open_page("event_rates", WHOLE_LAKE)
    at.segmented_control(key="rates_split").set_value("Detail type").run()
    at.multiselect(key="rates_departments").set_value(["Payments"]).run()
    assert_clean(at)
    area = charts(at)["rates_area"]
    assert {trace["name"] for trace in area["data"]} == {"PaymentAuthorized", "PaymentFailed", "RefundIssued"}


def test_delivery_health_ranks_rules_and_lists_dead_letters():
    at = open_page("delivery_health", WHOLE_LAKE)
    assert_clean(at)
    rules = table_with(at, "rule", "failure_rate")
    summary = table_with(at, "queue", "messages")
    letters = table_with(at, "ERROR_CODE", "RULE_ARN")
    assert set(rules["rule"]) == {r.name for r in load_definition().rules}
    assert rules["matched"].sum() > 0
    assert rules.iloc[0]["failed"] > 0  # the CRM webhook's outages make failures
    assert (rules["attempts"] >= rules["invocations"]).all() and rules["retries"].sum() > 0
    assert (
        rules.set_index("rule").loc["crm-customer-signals", "targets"]
        == "crm-webhook (http → crm-webhook-dlq)"
    )
    rates = rules["failure_rate"].fillna(-1)
    assert rates.is_monotonic_decreasing
    # A rule without invocations has no failure rate: shown as a dash, not Streamlit's "None".
    assert [table.proto.placeholder for table in at.dataframe] == ["—"] * len(at.dataframe)
    assert len(letters) > 0
    assert letters["ERROR_CODE"].ne("").all() and letters["RULE_ARN"].str.startswith("arn:aws:events:").all()
    assert summary["messages"].sum() == number(metrics(at)["Dead letters waiting"])  # every queue
    queue = at.selectbox(key="dlq_queue").value  # the table lists one queue's letters
    assert set(letters["queue"]) == {queue}
    assert len(letters) == summary.loc[summary["queue"] == queue, "messages"].sum()
    figure = charts(at)["delivery_rules_chart"]
    assert {a["text"] for a in figure["layout"]["annotations"]} >= {
        "MatchedEvents",
        "Invocations",
        "FailedInvocations",
    }
    assert not at.toggle(key="delivery_live:long").value  # 90 days: not live
    # Seeded deliveries take 0 ms; a latency table appears only when a consumer outage in the
    # range made deliveries wait for their retries (which days it covers depends on the date).
    subheaders = [h.value for h in at.subheader]
    assert "Lake delivery" in subheaders  # the local lake has no Firehose: one sentence, no table
    assert any("writes the lake's Parquet files itself" in c.value for c in at.caption)
    assert optional_table_with(at, "stream", "failed_conversion") is None
    latency = optional_table_with(at, "latency", "mean_ms")
    if latency is None:
        assert "Latency from ingestion, slowest first" not in subheaders
        return
    assert "Latency from ingestion, slowest first" in subheaders
    assert len(latency) > 0 and set(latency["rule"]) <= set(rules["rule"])
    assert (latency["samples"] > 0).all() and (latency["mean_ms"] >= 0).all() and latency["mean_ms"].max() > 0
    has_all = latency[["p50", "p90", "p99"]].notna().all(axis=1)  # the local store has percentiles
    ordered = latency[has_all]
    assert ((ordered["p50"] <= ordered["p90"]) & (ordered["p90"] <= ordered["p99"])).all()
    assert latency["p99"].round(1).fillna(latency["mean_ms"]).is_monotonic_decreasing  # slowest first


def test_saved_query_runs_and_shows_rows():
    at = open_page("saved_queries")
    assert_clean(at)
    assert len(at.selectbox(key="sq_name").options) >= 15
    at.selectbox(key="sq_name").set_value("campaign_spend_vs_orders").run()
    assert "FROM campaigns" in at.code[0].value and ":period_start" in at.code[0].value
    at.button(key="sq_run").click().run()
    assert_clean(at)
    rows = table_with(at, "day", "region", "spend", "orders")
    assert len(rows) > 0
    assert number(metrics(at)["Rows"]) == len(rows)
    assert number(metrics(at)["Files scanned"]) > 0
    assert at.get("download_button")
    assert at.dataframe[0].proto.placeholder == "NULL"  # a null of the SQL's, named as SQL does


def test_saved_query_search_filters_the_library():
    at = open_page("saved_queries")
    at.text_input(key="sq_search").set_value("payment").run()
    titles = set(at.selectbox(key="sq_name").options)
    about_payments = {
        q.title
        for q in load_catalog().values()
        if "payment" in f"{q.name} {q.title} {q.description} {' '.join(q.tags)}".lower()
    }
    assert "Payment failure rate by method" in titles
    assert titles == about_payments
    at.text_input(key="sq_search").set_value("no such query anywhere").run()
    assert any("No saved query matches" in i.value for i in at.info)


def test_saved_query_parameter_error_is_shown():
    at = open_page("saved_queries")
    at.selectbox(key="sq_name").set_value("campaign_spend_vs_orders").run()
    at.multiselect(key="sq:campaign_spend_vs_orders:regions").set_value([]).run()
    at.button(key="sq_run").click().run()
    assert not at.exception
    assert any("regions" in e.value and "nothing was chosen" in e.value for e in at.error)
    assert not at.dataframe


def test_event_explorer_finds_events_and_follows_an_order():
    at = open_page("event_explorer", WHOLE_LAKE)
    at.multiselect(key="ex_types").set_value(["OrderDelivered"]).run()  # orders that went all the way
    assert_clean(at)
    events = table_with(at, "id", "order_id")
    assert len(events) > 0 and set(events["detail_type"]) == {"OrderDelivered"}
    order_id = at.selectbox(key="ex_order").value
    assert order_id == events["order_id"].iloc[0]
    journey = table_with(at, "step")
    assert journey["detail_type"].iloc[0] == "OrderPlaced"
    assert {"Retail web shop", "Payments", "ERP", "Fulfillment", "Logistics"} <= set(journey["department"])
    assert journey["time"].is_monotonic_increasing
    timeline = chart_titled(at, order_id)
    assert order_id in timeline["layout"]["title"]["text"]
    # Each department in the colour it has on Event rates (ERP was red here, green there).
    colours = {t["name"]: t["marker"]["color"] for t in timeline["data"] if t.get("mode") != "lines"}
    assert colours == {name: department_colours()[name] for name in colours} and len(colours) >= 5


def test_event_explorer_shows_no_order_as_an_empty_cell_not_none():
    at = open_page("event_explorer", WHOLE_LAKE)
    at.multiselect(key="ex_types").set_value(["CartAbandoned", "OrderPlaced"]).run()
    events = table_with(at, "id", "order_id")
    without = events[events["detail_type"] == "CartAbandoned"]
    assert len(without) > 0 and (without["order_id"] == "").all()
    assert (events.loc[events["detail_type"] == "OrderPlaced", "order_id"].str.startswith("ORD-")).all()


def test_event_rates_draws_each_department_in_its_colour():
    at = open_page("event_rates", {"range": "7d"})
    drawn = {
        trace["name"]: trace.get("marker", {}).get("color") or trace.get("line", {}).get("color")
        for figure in charts(at).values()
        for trace in figure["data"]
        if trace.get("name") in department_colours()
    }
    assert drawn and drawn == {name: department_colours()[name] for name in drawn}


def test_event_explorer_finds_an_event_by_id():
    at = open_page("event_explorer", WHOLE_LAKE)
    first = table_with(at, "id", "order_id").iloc[0]
    at.text_input(key="ex_text").set_value(first["id"]).run()
    assert_clean(at)
    found = table_with(at, "id", "order_id")
    assert list(found["id"]) == [first["id"]]


def test_event_rates_over_a_day_show_detail_types_over_time_and_the_last_hour():
    at = open_page("event_rates", {"range": "24h"})
    assert_clean(at)
    assert at.toggle(key="rates_live:short").value  # a day: live by default
    assert "Busiest hour" in metrics(at)
    found = charts(at)
    recent, heatmap = found["rates_recent"], found["rates_heatmap"]
    assert recent["layout"]["title"]["text"] == "Last hour, per minute"
    assert {trace["name"] for trace in recent["data"]} <= {d.name for d in DEPARTMENTS}
    assert heatmap["data"][0]["type"] == "heatmap"
    assert "OrderPlaced" in heatmap["data"][0]["y"]


@pytest.mark.parametrize("name", sorted(load_catalog()))
def test_every_saved_query_runs_from_its_form(name):
    at = open_page("saved_queries")
    at.selectbox(key="sq_name").set_value(name).run()
    at.button(key="sq_run").click().run()
    assert_clean(at)
    rows = table_with(at, *load_catalog()[name].column_names)  # the lake ends on NOW's date: every
    # default period has data
    assert len(rows) > 0 and number(metrics(at)["Rows"]) == len(rows)
    assert list(rows.columns) == load_catalog()[name].column_names


@pytest.mark.parametrize("page", ["event_rates", "delivery_health", "event_explorer"])
def test_pages_show_times_in_the_configured_time_zone(page, monkeypatch):
    monkeypatch.setenv("VERTICALS_TIMEZONE", "America/New_York")
    at = open_page(page, WHOLE_LAKE)
    assert_clean(at)
    assert "(America/New_York)" in at.sidebar.caption[0].value
    assert charts(at) and at.dataframe


def test_event_times_are_converted_to_the_time_zone(monkeypatch):
    first = table_with(open_page("event_explorer", WHOLE_LAKE), "id", "order_id").iloc[0]
    monkeypatch.setenv("VERTICALS_TIMEZONE", "America/New_York")
    at = open_page("event_explorer", WHOLE_LAKE)
    at.text_input(key="ex_text").set_value(first["id"]).run()
    local = table_with(at, "id", "order_id").iloc[0]["time"]
    expected = pd.Timestamp(first["time"], tz="UTC").tz_convert("America/New_York").tz_localize(None)
    assert local == expected and local != first["time"]


def test_every_table_on_a_page_is_drawn_by_ui_table():
    """ui.table shows a missing value as a dash (the SQL console's as NULL): no page calls
    st.dataframe itself, whose missing value reads "None"."""
    pages = [*sorted((REPO_ROOT / "pages").glob("*.py")), REPO_ROOT / "dashboard" / "streamlit_app.py"]
    assert [p.name for p in pages if "st.dataframe(" in p.read_text()] == []
