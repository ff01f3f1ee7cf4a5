"""The campaigns service: the window the analysis runs over, and what the page shows of it."""

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from app.engines.base import QueryResult
from app.services import campaigns
from app.services.context import Context
from app.services.timerange import TimeRange, custom_range
from app.settings import load_settings

REGIONS = ("east", "west", "central", "south")


# --- the analysis window ---------------------------------------------------------------------


class LastDayEngine:
    """Answers the last-day query with a fixed day (None: the lake has no orders)."""

    name = "fake"

    def __init__(self, last_day: str | None):
        self.last_day = last_day

    def run(self, sql, params=None):
        assert "max(dt)" in sql, sql
        return QueryResult(pd.DataFrame({"last_day": [self.last_day]}), elapsed_s=0.0, bytes_scanned=0)

    def tables(self):
        return []


def context(last_day: str | None) -> Context:
    return Context(load_settings({}), LastDayEngine(last_day), None, None, "local", "test", ())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        pytest.param("2026-11-26 04:50", date(2026, 11, 25), id="a-day-under-way-is-not-history"),
        pytest.param("2026-11-26 00:00", date(2026, 11, 25), id="midnight-ends-the-day-before"),
    ],
)
def test_last_whole_day(moment, day):
    assert campaigns.last_whole_day(at(moment)) == day


@pytest.mark.parametrize(
    ("rng", "lake_end", "expected"),
    [
        pytest.param(
            TimeRange(at("2026-08-28 04:50"), at("2026-11-26 04:50"), "90d", "x"),
            "2026-11-26",
            (date(2025, 11, 26), date(2026, 11, 25), date(2026, 8, 28), date(2026, 11, 25)),
            id="a-year-up-to-the-last-whole-day",
        ),
        pytest.param(
            custom_range(date(2026, 3, 1), date(2026, 3, 31)),
            "2026-11-26",
            (date(2025, 4, 1), date(2026, 3, 31), date(2026, 3, 1), date(2026, 3, 31)),
            id="a-past-range-ends-the-window",
        ),
        pytest.param(
            custom_range(date(2026, 11, 1), date(2026, 12, 31)),
            "2026-11-20",
            (date(2025, 11, 21), date(2026, 11, 20), date(2026, 11, 1), date(2026, 12, 31)),
            id="the-lake-ends-first",
        ),
        pytest.param(
            custom_range(date(2025, 6, 1), date(2026, 11, 25)),
            "2026-11-26",
            (date(2025, 4, 6), date(2026, 11, 25), date(2025, 6, 1), date(2026, 11, 25)),
            id="a-long-range-keeps-its-baseline",
        ),
    ],
)
def test_analysis_window(rng, lake_end, expected):
    window = campaigns.analysis_window(context(lake_end), rng)
    assert (window.first, window.last, window.shown_first, window.shown_last) == expected
    assert window.has_orders and window.day_after == expected[1] + pd.Timedelta(days=1)


def test_analysis_window_of_a_lake_without_orders():
    window = campaigns.analysis_window(context(None), custom_range(date(2026, 3, 1), date(2026, 3, 31)))
    assert not window.has_orders


def test_the_forecast_window_ignores_the_range_start():
    from app.services.forecast import forecast_window

    window = forecast_window(context("2026-11-26"), custom_range(date(2025, 6, 1), date(2026, 11, 25)))
    assert (window.first, window.last, window.days) == (date(2025, 11, 26), date(2026, 11, 25), 365)


# --- the ranked table ------------------------------------------------------------------------


def effect(campaign_id, start, lift=0.1, revenue=1000.0, spend=500.0, flags=(), lag=3.0) -> dict:
    estimated = not np.isnan(lift)
    return {
        "campaign_id": campaign_id,
        "name": f"{campaign_id} push",
        "region": "east",
        "channel": "email",
        "start_date": pd.Timestamp(start),
        "end_date": pd.Timestamp(start) + pd.Timedelta(days=9),
        "lift": lift,
        "lift_low": lift - 0.05,
        "lift_high": lift + 0.05,
        "lag_days": lag if estimated else np.nan,
        "incremental_orders": revenue / 100,
        "incremental_revenue": revenue,
        "spend": spend,
        "roi": revenue / spend if estimated else np.nan,
        "flags": list(flags),
    }


def analysis(*effects: dict) -> campaigns.CampaignAnalysis:
    daily = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-10-01"]),
            "region": ["east"],
            "spend": [0.0],
            "orders": [5],
            "revenue": [50.0],
        }
    )
    return campaigns.CampaignAnalysis(
        pd.DataFrame(list(effects)), daily, {}, date(2025, 11, 1), date(2026, 10, 31)
    )


WINDOW = campaigns.AnalysisWindow(
    date(2025, 11, 1), date(2026, 10, 31), date(2026, 10, 1), date(2026, 10, 31)
)
CAMPAIGNS = analysis(
    effect("A", "2026-10-02", lift=0.10, revenue=9000.0, spend=9000.0),  # ROI 1
    effect("B", "2026-10-05", lift=0.20, revenue=5000.0, spend=1000.0, flags=["overlap"]),  # ROI 5
    effect("C", "2026-10-25", lift=np.nan, revenue=np.nan, flags=["too_early"]),
    effect("D", "2026-09-20", lift=0.30, revenue=20000.0),  # started before the range
    effect(
        "E",
        "2026-10-10",
        lift=0.01,
        revenue=-200.0,
        spend=1000.0,
        flags=["no_significant_effect"],
        lag=np.nan,
    ),
)


@pytest.mark.parametrize(
    ("sort_by", "order"),
    [
        pytest.param("incremental_revenue", ["A", "B", "E", "C"], id="by-revenue"),
        pytest.param("roi", ["B", "A", "E", "C"], id="by-roi"),
    ],
)
def test_ranked_lists_the_campaigns_started_in_the_range_best_first(sort_by, order):
    table = campaigns.ranked(CAMPAIGNS, WINDOW, sort_by)
    assert table["campaign_id"].tolist() == order  # D started before the range; C has no estimate: last


def test_ranked_shows_lifts_in_percent_intervals_and_badges():
    table = campaigns.ranked(CAMPAIGNS, WINDOW).set_index("campaign_id")
    assert table.loc["B", "lift"] == pytest.approx(20.0)
    assert table.loc["B", "interval"] == "+15.0% to +25.0%"
    assert table.loc["E", "interval"] == "−4.0% to +6.0%"
    assert table.loc["C", "interval"] == "—"
    assert table.loc["B", "notes"] == ["overlap"]
    assert table.loc["E", "notes"] == ["no significant effect"]
    assert table.loc["C", "notes"] == ["too early"]
    assert table.loc["A", "lag_days"] == 3 and pd.isna(table.loc["E", "lag_days"])
    assert set(campaigns.TABLE_COLUMNS) <= set(table.reset_index().columns)


def test_the_legend_explains_only_the_badges_shown():
    legend = campaigns.flag_legend(campaigns.ranked(CAMPAIGNS, WINDOW))
    assert "**overlap**" in legend and "**too early**" in legend and "**no significant effect**" in legend
    assert "no clean control" not in legend and "17 days" in legend


def test_totals_add_up_the_estimated_campaigns():
    total = campaigns.totals(campaigns.ranked(CAMPAIGNS, WINDOW))
    assert (total.campaigns, total.estimated, total.with_effect) == (4, 3, 2)
    assert total.incremental_revenue == pytest.approx(13_800.0)
    assert total.spend == pytest.approx(11_000.0)
    assert total.roi == pytest.approx(13_800.0 / 11_000.0)


def test_totals_of_no_estimate():
    total = campaigns.totals(campaigns.ranked(analysis(effect("C", "2026-10-25", lift=np.nan)), WINDOW))
    assert (total.campaigns, total.estimated) == (1, 0) and np.isnan(total.roi)


@pytest.mark.parametrize(
    ("amount", "text"), [pytest.param(1234.4, "+$1,234", id="gain"), pytest.param(-56.0, "−$56", id="loss")]
)
def test_signed_dollars(amount, text):
    assert campaigns.signed_dollars(amount) == text


def test_the_sentence_gives_a_whole_lag():
    text = campaigns.sentence(CAMPAIGNS, "A")
    assert text.startswith("A added 90 orders (+10%, between +5% and +15%), starting 3 day(s) after launch.")


def test_chart_choices_are_the_campaigns_with_a_counterfactual_in_table_order():
    frame = pd.DataFrame(
        {"date": pd.date_range("2026-10-01", periods=4), "in_effect": [False, True, True, False]}
    )
    found = campaigns.CampaignAnalysis(
        CAMPAIGNS.effects, CAMPAIGNS.daily, {"B": frame, "A": frame}, CAMPAIGNS.first_day, CAMPAIGNS.last_day
    )
    choices = campaigns.chart_choices(campaigns.ranked(found, WINDOW), found)
    assert list(choices) == ["A", "B"] and choices["B"] == "B · B push (+20.0%)"
    assert campaigns.effect_span(frame) == (
        pd.Timestamp("2026-10-01 12:00"),
        pd.Timestamp("2026-10-03 12:00"),
    )
    assert campaigns.effect_span(frame.assign(in_effect=False)) is None


# --- spend against orders ----------------------------------------------------------------------


def test_spend_and_orders_per_region_and_day():
    orders = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-10-01", "2026-10-01"]),
            "region": ["east", "west"],
            "orders": [10, 20],
            "revenue": [100.0, 200.0],
        }
    )
    spend = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-10-01", "2026-10-01", "2026-10-02"]),
            "campaign_id": ["A", "B", "A"],
            "region": ["east", "east", "east"],
            "spend": [5.0, 7.0, 3.0],
        }
    )
    frame = campaigns.spend_and_orders(orders, spend)
    assert frame.values.tolist() == [
        [pd.Timestamp("2026-10-01"), "east", 12.0, 10, 100.0],
        [pd.Timestamp("2026-10-01"), "west", 0.0, 20, 200.0],
        [pd.Timestamp("2026-10-02"), "east", 3.0, 0, 0.0],  # spend on a day without orders
    ]


def planted(lag: int, lift: float = 0.4, days: int = 120, seed: int = 3) -> pd.DataFrame:
    """Daily orders per region with a shared weekly pattern; a campaign in each region
    lifts its orders by ``lift`` starting ``lag`` days after its spend starts."""
    rng = np.random.default_rng(seed)
    day = pd.date_range("2026-01-01", periods=days, freq="D")
    weekly = 1 + 0.3 * np.sin(2 * np.pi * day.day_of_week / 7)
    rows = []
    for index, region in enumerate(REGIONS):
        spend = np.zeros(days)
        start = 15 + index * 25
        spend[start : start + 14] = 1000.0
        effect_ = np.zeros(days)
        effect_[start + lag : start + lag + 14] = lift
        orders = rng.poisson(200 * weekly * (1 + effect_))
        rows.append(
            pd.DataFrame(
                {"date": day, "region": region, "spend": spend, "orders": orders, "revenue": orders * 100.0}
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize(
    "lag", [pytest.param(0, id="same-day"), pytest.param(3, id="3-days"), pytest.param(7, id="a-week")]
)
def test_response_lag_peaks_at_the_planted_lag(lag):
    correlation = campaigns.response_lag(planted(lag))
    assert campaigns.best_lag(correlation) == lag
    assert correlation["regions"].max() == len(REGIONS)
    assert correlation["lag_days"].tolist() == list(range(campaigns.MAX_LAG_DAYS + 1))


def test_no_effect_means_no_strong_correlation():
    correlation = campaigns.response_lag(planted(3, lift=0.0))
    assert correlation["correlation"].abs().max() < 0.3


def test_order_share_removes_what_regions_share():
    daily = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-01-01"] * 2 + ["2026-01-02"] * 2),
            "region": ["east", "west"] * 2,
            "orders": [30, 10, 60, 20],
            "spend": 0.0,
        }
    )
    share = campaigns.order_share(daily)
    assert share["east"].tolist() == [0.75, 0.75]  # the day doubled for everyone: the share stays


@pytest.mark.parametrize(
    "daily",
    [
        pytest.param(pd.DataFrame(columns=["date", "region", "spend", "orders", "revenue"]), id="no-days"),
        pytest.param(planted(3).assign(spend=0.0), id="no-spend"),
    ],
)
def test_nothing_to_correlate(daily):
    assert campaigns.best_lag(campaigns.response_lag(daily)) is None


def test_an_empty_analysis():
    empty = pd.DataFrame(columns=["date", "region", "spend", "orders", "revenue"])
    assert campaigns.CampaignAnalysis(pd.DataFrame(), empty, {}, date(2026, 1, 1), date(2026, 2, 1)).is_empty
