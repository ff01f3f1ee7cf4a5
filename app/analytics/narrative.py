"""Sentences a manager reads: the analytics' figures in words, with the figure first."""

from __future__ import annotations

import math

MODEL_WORDS = {
    "seasonal_naive": "repeating last week",
    "ets": "exponential smoothing (Holt-Winters)",
    "sarimax": "a regression on weekdays, holidays and campaigns with ARIMA errors",
}


def model_words(model: str) -> str:
    """A model's name as a manager reads it ("ets+sarimax": the mean of both)."""
    parts = [MODEL_WORDS.get(part, part) for part in model.split("+")]
    return parts[0] if len(parts) == 1 else "the mean of " + " and ".join(parts)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def percent(fraction: float, signed: bool = False) -> str:
    text = f"{fraction * 100:+.0f}%" if signed else f"{abs(fraction) * 100:.0f}%"
    return text.replace("-", "−")


def mase_sentence(mase: float) -> str:
    """ "MASE 0.70: 30% better than repeating last week"."""
    if _missing(mase):
        return "No backtest yet: not enough history."
    change = 1 - mase
    if abs(change) < 0.005:
        verdict = "as good as repeating last week"
    elif change > 0:
        verdict = f"{percent(change)} better than repeating last week"
    else:
        verdict = f"{percent(change)} worse than repeating last week"
    return f"MASE {mase:.2f}: {verdict}."


COVERAGE_SWING = 0.10  # how far a calibrated 80% range's coverage moves between 28-origin windows


def coverage_sentence(coverage: float, level: float = 0.8) -> str:
    """How often the stated range held the actual in the backtest, read against how much
    that share moves by chance: four weeks of forecasts of the next 7 days overlap, so a
    calibrated range's figure swings by about ten points from one month to the next
    (docs/analytics.md: 0.55-0.97 over 140 origins, every line 0.76-0.81 in the long run)."""
    if _missing(coverage):
        return ""
    low, high = round(level - COVERAGE_SWING, 6), round(min(level + COVERAGE_SWING, 1.0), 6)
    if coverage < low:
        verdict = "probably too narrow: expect more misses than it says"
    elif coverage > high:
        verdict = "probably wider than it needs to be"
    else:
        verdict = (
            f"in line with a calibrated range, whose figure moves between about {percent(low)} "
            f"and {percent(high)} from month to month"
        )
    return (
        f"The {percent(level)} range held the actual demand on {percent(coverage)} of backtest days: "
        f"{verdict}."
    )


def wape_sentence(wape: float) -> str:
    if _missing(wape):
        return ""
    return f"Typical miss: {percent(wape)} of demand (WAPE {wape:.3f})."


def lift_sentence(row: dict) -> str:
    """One campaign's effect in words, hedged by its interval and flags."""
    name = row.get("campaign_id", "The campaign")
    if _missing(row.get("lift")):
        return f"{name}: not enough data to estimate an effect."
    flags = row.get("flags") or []
    low, high = percent(row["lift_low"], signed=True), percent(row["lift_high"], signed=True)
    if "no_significant_effect" in flags:
        text = f"{name}: no measurable effect on orders (between {low} and {high})."
    else:
        text = (
            f"{name} added {row['incremental_orders']:,.0f} orders ({percent(row['lift'], signed=True)}, "
            f"between {low} and {high}), starting {int(row['lag_days'])} day(s) after launch."
        )
        if not _missing(row.get("roi")):
            text += f" Each $1 spent brought ${row['roi']:.2f} in extra revenue."
    return text + _caveats(flags)


CAVEATS = {
    "overlap": (
        "Another campaign ran in the same region at the same time; "
        "their effects were separated by their different dates."
    ),
    "no_clean_control": (
        "Every region had a campaign at the time, "
        "so the comparison is with the region's own past only: treat with care."
    ),
    "partial_control": "On some days no region was free of campaigns; those days were not used.",
    "short_pre_period": "Little history before the campaign.",
    "incomplete": "The effect is still running: figures cover the days so far.",
}


def _caveats(flags: list[str]) -> str:
    notes = [CAVEATS[f] for f in flags if f in CAVEATS]
    return (" " + " ".join(notes)) if notes else ""


def shortfall_sentence(
    line: str, short_days: int, at_risk_days: int, horizon: int, planned: bool = True
) -> str:
    if not planned:
        return (
            f"{line}: no production capacity is planned for it, so its demand is short on {short_days} "
            f"of the next {horizon} days."
        )
    if short_days:
        return f"{line}: demand is expected to exceed capacity on {short_days} of the next {horizon} days."
    if at_risk_days:
        return (
            f"{line}: capacity covers the expected demand, but on {at_risk_days} of the next {horizon} days "
            "demand at the top of its 80% range would exceed it."
        )
    return f"{line}: capacity covers demand for the next {horizon} days, even at the top of the 80% range."
