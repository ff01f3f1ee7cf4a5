import numpy as np
import pandas as pd
import pytest

from app.services import campaigns

REGIONS = ("east", "west", "central", "south")


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
        spend[start:start + 14] = 1000.0
        effect = np.zeros(days)
        effect[start + lag:start + lag + 14] = lift
        orders = rng.poisson(200 * weekly * (1 + effect))
        rows.append(pd.DataFrame({"day": day, "region": region, "spend": spend, "orders": orders,
                                  "revenue": orders * 100.0}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("lag", [pytest.param(0, id="same-day"), pytest.param(3, id="3-days"),
                                 pytest.param(7, id="a-week")])
def test_lagged_correlation_peaks_at_the_planted_lag(lag):
    correlation = campaigns.lagged_correlation(planted(lag))
    view = campaigns.CampaignView(planted(lag), correlation, pd.DataFrame())
    assert view.best_lag == lag
    assert correlation["regions"].max() == len(REGIONS)


def test_no_effect_means_no_strong_correlation():
    correlation = campaigns.lagged_correlation(planted(3, lift=0.0))
    assert correlation["correlation"].abs().max() < 0.3


def test_order_share_removes_what_regions_share():
    daily = pd.DataFrame({"day": pd.to_datetime(["2026-01-01"] * 2 + ["2026-01-02"] * 2),
                          "region": ["east", "west"] * 2, "orders": [30, 10, 60, 20], "spend": 0.0})
    share = campaigns.order_share(daily)
    assert share["east"].tolist() == [0.75, 0.75]  # the day doubled for everyone: the share stays


def test_nothing_to_correlate():
    empty = pd.DataFrame(columns=["day", "region", "spend", "orders", "revenue"])
    assert campaigns.lagged_correlation(empty).empty
    assert campaigns.CampaignView(empty, campaigns.lagged_correlation(empty), empty).best_lag is None
