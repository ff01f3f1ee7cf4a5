"""The Campaigns page on the small seeded lake (60 days, seed 11): campaign effects ranked,
one campaign against its counterfactual, and spend against orders."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pytest

from app.services import campaigns
from tests.app.apptest import open_page
from tests.app.page_content import assert_clean, charts, table_with, values
from tests.instant import TODAY

pytestmark = pytest.mark.usefixtures("on_seeded_lake")

WHOLE_LAKE = {"range": "90d"}  # the seeded lake holds 60 days ending today
INTERVAL = re.compile(r"([+−]\d+\.\d)% to ([+−]\d+\.\d)%")


def percent(text: str) -> float:
    return float(text.replace("−", "-"))


def test_campaigns_are_ranked_with_lifts_intervals_and_notes():
    at = open_page("campaigns", WHOLE_LAKE)
    assert_clean(at)
    table = table_with(at, "campaign_id", "lift")
    estimated = table[table["lift"].notna()]
    assert len(estimated) >= 1, table
    assert estimated["incremental_revenue"].is_monotonic_decreasing
    assert table["lift"].notna().iloc[: len(estimated)].all()  # campaigns without an estimate come last
    for row in estimated.itertuples():
        low, high = (percent(x) for x in INTERVAL.fullmatch(row.interval).groups())
        assert low - 0.05 <= row.lift <= high + 0.05  # shown to one decimal
        assert np.isclose(row.roi, row.incremental_revenue / row.spend)
    for row in table[table["lift"].isna()].itertuples():
        assert row.interval == "—" and len(row.notes) > 0  # the badge says why there is no estimate
    shown = {m.label: m.value for m in at.metric}
    assert shown["Campaigns"] == str(len(table))
    assert shown["Incremental orders"] == f"{estimated['incremental_orders'].sum():+,.0f}"
    captions = " ".join(c.value for c in at.main.caption)
    assert "Campaigns that started" in captions and "whole UTC days of orders" in captions
    for notes in table["notes"]:
        for badge in notes:
            assert f"**{badge}**" in captions  # every badge shown is explained


def test_the_top_campaign_against_its_counterfactual():
    at = open_page("campaigns", WHOLE_LAKE)
    table = table_with(at, "campaign_id", "lift")
    top = table[table["lift"].notna()].iloc[0]
    assert at.selectbox(key="campaign_chosen").value == top["campaign_id"]
    figure = charts(at)["counterfactual"]
    traces = {t["name"]: t for t in figure["data"]}
    assert set(traces) == {"95% band", "without the campaign", "actual orders"}
    band = [t for t in figure["data"] if t["name"] == "95% band"]
    assert [t.get("fill") for t in band] == [None, "tonexty"]
    low, middle, high = values(band[1]), values(traces["without the campaign"]), values(band[0])
    assert (
        len(middle) >= 28 and (low < middle).all() and (middle < high).all()
    )  # weeks of baseline, then the effect
    assert len(values(traces["actual orders"])) == len(middle)
    assert top["campaign_id"] in figure["layout"]["title"]["text"]
    shaded = [s for s in figure["layout"]["shapes"] if s["type"] == "rect"]
    assert len(shaded) == 1  # the effect window
    sentence = next(m.value for m in at.markdown if m.value.startswith(top["campaign_id"]))
    if "no_significant" not in " ".join(top["notes"]):
        assert f"added {top['incremental_orders']:,.0f} orders" in sentence


def test_changing_the_ranking_or_the_campaign_does_not_estimate_again(monkeypatch):
    calls = []
    real = campaigns.campaign_report
    monkeypatch.setattr(
        campaigns, "campaign_report", lambda *args, **kwargs: calls.append(args) or real(*args, **kwargs)
    )
    at = open_page("campaigns", WHOLE_LAKE)
    at.segmented_control(key="campaign_sort").set_value("roi").run()
    assert_clean(at)
    table = table_with(at, "campaign_id", "lift")
    assert table.loc[table["lift"].notna(), "roi"].is_monotonic_decreasing
    options = at.selectbox(key="campaign_chosen").options
    at.selectbox(key="campaign_chosen").select_index(len(options) - 1).run()
    assert_clean(at)
    assert len(calls) == 1


def test_spend_against_orders_and_the_response_lag_stay():
    at = open_page("campaigns", WHOLE_LAKE)
    found = charts(at)
    per_region = found["spend_and_orders"]
    assert {t["name"] for t in per_region["data"]} == {"spend ($)", "orders"}
    assert len(per_region["data"]) == 10  # 5 regions x (spend, orders)
    lags = found["response_lag"]["data"][0]
    assert lags["type"] == "bar" and values(lags, "x").tolist() == list(range(campaigns.MAX_LAG_DAYS + 1))


def test_a_range_in_which_no_campaign_started_says_so():
    at = open_page("campaigns", WHOLE_LAKE)
    latest = table_with(at, "campaign_id", "lift")["start_date"].max()
    today = TODAY
    if latest.date() >= today - timedelta(days=1):
        pytest.skip("a campaign started yesterday or today: no day is free of launches")
    at = open_page(
        "campaigns", {"from": (latest.date() + timedelta(days=1)).isoformat(), "to": today.isoformat()}
    )
    assert_clean(at)
    assert any("No campaign started in this range" in i.value for i in at.info)
    assert not at.metric and not at.dataframe  # no figures of nothing
    assert set(charts(at)) == {"spend_and_orders", "response_lag"}
