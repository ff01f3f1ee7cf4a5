"""The sentences managers read."""

from __future__ import annotations

import math

import pytest

from app.analytics import narrative

CALIBRATED = (
    "in line with a calibrated range, whose figure moves between about 70% and 90% from month to month"
)


@pytest.mark.parametrize(
    "mase, sentence",
    [
        pytest.param(0.7, "MASE 0.70: 30% better than repeating last week.", id="better"),
        pytest.param(1.0, "MASE 1.00: as good as repeating last week.", id="same"),
        pytest.param(1.25, "MASE 1.25: 25% worse than repeating last week.", id="worse"),
        pytest.param(math.nan, "No backtest yet: not enough history.", id="none"),
    ],
)
def test_mase_sentence(mase, sentence):
    assert narrative.mase_sentence(mase) == sentence


@pytest.mark.parametrize(
    "coverage, verdict",
    [
        pytest.param(0.78, CALIBRATED, id="calibrated"),
        pytest.param(0.71, CALIBRATED, id="low-but-within-the-swing"),
        pytest.param(0.70, CALIBRATED, id="at-the-edge"),
        pytest.param(0.62, "probably too narrow: expect more misses than it says", id="too-narrow"),
        pytest.param(0.97, "probably wider than it needs to be", id="too-wide"),
    ],
)
def test_coverage_sentence_reads_the_share_against_its_usual_swing(coverage, verdict):
    assert narrative.coverage_sentence(coverage) == (
        f"The 80% range held the actual demand on {round(coverage * 100)}% of backtest days: {verdict}."
    )


@pytest.mark.parametrize(
    "row, expected",
    [
        pytest.param(
            {
                "campaign_id": "CMP-1",
                "lift": 0.15,
                "lift_low": 0.11,
                "lift_high": 0.19,
                "lag_days": 3,
                "incremental_orders": 1240.0,
                "roi": 3.4,
                "flags": [],
            },
            "CMP-1 added 1,240 orders (+15%, between +11% and +19%), starting 3 day(s) after launch. "
            "Each $1 spent brought $3.40 in extra revenue.",
            id="effect",
        ),
        pytest.param(
            {
                "campaign_id": "CMP-2",
                "lift": 0.01,
                "lift_low": -0.03,
                "lift_high": 0.05,
                "lag_days": None,
                "incremental_orders": 40.0,
                "roi": 0.1,
                "flags": ["no_significant_effect"],
            },
            "CMP-2: no measurable effect on orders (between −3% and +5%).",
            id="no-effect",
        ),
        pytest.param(
            {"campaign_id": "CMP-3", "lift": math.nan, "flags": ["too_early"]},
            "CMP-3: not enough data to estimate an effect.",
            id="not-estimated",
        ),
    ],
)
def test_lift_sentence(row, expected):
    assert narrative.lift_sentence(row) == expected


def test_lift_sentence_adds_the_caveat_of_each_flag():
    row = {
        "campaign_id": "C",
        "lift": 0.1,
        "lift_low": 0.05,
        "lift_high": 0.15,
        "lag_days": 1,
        "incremental_orders": 10.0,
        "roi": math.nan,
        "flags": ["overlap", "no_clean_control"],
    }
    text = narrative.lift_sentence(row)
    assert "Another campaign ran in the same region" in text and "own past only" in text


@pytest.mark.parametrize(
    "short, at_risk, start",
    [
        pytest.param(
            3, 5, "chairs: demand is expected to exceed capacity on 3 of the next 28 days.", id="short"
        ),
        pytest.param(0, 2, "chairs: capacity covers the expected demand", id="at-risk"),
        pytest.param(0, 0, "chairs: capacity covers demand for the next 28 days", id="fine"),
    ],
)
def test_shortfall_sentence(short, at_risk, start):
    assert narrative.shortfall_sentence("chairs", short, at_risk, 28).startswith(start)
