from datetime import UTC, date, datetime

import pandas as pd
import pytest

from app.services import overview
from app.services.timerange import custom_range

WEEK = custom_range(date(2026, 11, 2), date(2026, 11, 8))


def parts(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["day", "part", "value"]).assign(day=lambda f: pd.to_datetime(f["day"]))


def kpi(result: overview.Overview, label: str) -> overview.Kpi:
    return next(k for k in result.kpis if k.spec.label == label)


def test_sums_add_up_and_change_is_relative():
    this = parts(("2026-11-02", "orders", 60), ("2026-11-05", "orders", 60), ("2026-11-05", "revenue", 900))
    before = parts(("2026-10-27", "orders", 100))
    result = overview.summarise(this, before, WEEK)
    orders = kpi(result, "Orders")
    assert (orders.value, orders.previous, orders.change, orders.detail) == (
        120,
        100,
        pytest.approx(0.2),
        900,
    )
    assert overview.format_change(orders) == "+20.0%"
    assert overview.format_detail(orders) == "$900 revenue"


def test_rates_are_ratios_of_sums_and_change_in_points():
    this = parts(
        ("2026-11-02", "payments_failed", 1),
        ("2026-11-02", "payments", 10),
        ("2026-11-03", "payments_failed", 9),
        ("2026-11-03", "payments", 90),
    )
    before = parts(("2026-10-30", "payments_failed", 5), ("2026-10-30", "payments", 100))
    failure = kpi(overview.summarise(this, before, WEEK), "Payment failure rate")
    assert failure.value == pytest.approx(0.10)  # 10 / 100, not the mean of 10% and 10%
    assert failure.change == pytest.approx(0.05)
    assert overview.format_change(failure) == "+5.0 pp"
    assert overview.format_detail(failure) == "of 100 payments"


@pytest.mark.parametrize(
    ("this", "before", "value", "change"),
    [
        pytest.param(parts(), parts(), None, None, id="no-data"),
        pytest.param(parts(("2026-11-03", "stock_outs", 4)), parts(), 4, None, id="no-previous-period"),
        pytest.param(
            parts(("2026-11-03", "stock_outs", 4)),
            parts(("2026-10-30", "stock_outs", 0)),
            4,
            None,
            id="previous-zero-not-comparable",
        ),
        pytest.param(  # no stock-out in a period whose orders were counted: 0, down 100%
            parts(("2026-11-03", "orders", 5)),
            parts(("2026-10-30", "stock_outs", 2)),
            0,
            -1.0,
            id="none-where-others-were-counted",
        ),
    ],
)
def test_missing_data_is_not_a_zero(this, before, value, change):
    stock_outs = kpi(overview.summarise(this, before, WEEK), "Stock-outs")
    assert (stock_outs.value, stock_outs.change) == (value, change)


def test_lead_time_is_mean_hours_of_the_shipped_orders():
    this = parts(
        ("2026-11-02", "shipments", 3), ("2026-11-02", "lead_hours", 30), ("2026-11-02", "lead_count", 2)
    )
    shipments = kpi(overview.summarise(this, parts(), WEEK), "Shipments")
    assert overview.format_detail(shipments) == "mean lead time 15.0 h"


def test_daily_trend_starts_with_the_data():
    this = parts(("2026-11-05", "tickets", 3), ("2026-11-07", "tickets", 5))
    result = overview.summarise(this, parts(), WEEK)
    assert kpi(result, "Tickets opened").trend.tolist() == [3, 0, 5, 0]
    previous = result.daily[
        (result.daily["label"] == "Tickets opened") & (result.daily["period"] == "previous")
    ]
    assert previous["value"].isna().all()  # before the lake began: no data, not zero


def test_overview_is_empty_without_any_part():
    assert overview.summarise(parts(), parts(), WEEK).is_empty


def test_day_coverage_of_a_rolling_range():
    rng = custom_range(date(2026, 11, 2), date(2026, 11, 3))
    rolling = type(rng)(
        datetime(2026, 11, 2, 18, tzinfo=UTC), datetime(2026, 11, 3, 6, tzinfo=UTC), "24h", "x"
    )
    assert overview.day_coverage(rolling).tolist() == [0.25, 0.25]
    assert overview.day_coverage(rng).tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        pytest.param(None, "count", "—", id="none"),
        pytest.param(12345.4, "count", "12,345", id="count"),
        pytest.param(0.1234, "percent", "12.3%", id="percent"),
        pytest.param(1234567.8, "money", "$1,234,568", id="money"),
        pytest.param(18.94, "hours", "18.9 h", id="hours"),
    ],
)
def test_format_value(value, unit, text):
    assert overview.format_value(value, unit) == text


def test_there_is_a_kpi_per_department():
    from app.departments import DEPARTMENTS

    assert [k.department for k in overview.KPIS] == [d.name for d in DEPARTMENTS]


def test_daily_series_leave_out_days_under_way():
    rolling = type(WEEK)(
        datetime(2026, 11, 2, 12, tzinfo=UTC), datetime(2026, 11, 5, 12, tzinfo=UTC), "x", "x"
    )
    this = parts(
        ("2026-11-02", "orders", 5),
        ("2026-11-03", "orders", 10),
        ("2026-11-04", "orders", 12),
        ("2026-11-05", "orders", 6),
    )
    orders = kpi(overview.summarise(this, parts(), rolling), "Orders")
    assert orders.value == 33  # the figure counts every instant of the range
    assert orders.trend.index.strftime("%d").tolist() == ["03", "04"]


def test_a_statements_parts_get_the_codes_a_frames_get_unknown_and_missing_ones_too():
    """The arrays path looks names up one by one; a name outside PARTS or a missing one
    sends it to the frame's way (its own code past PARTS)."""
    import numpy as np

    names = ["orders", None, "no-such-part", "capacity", "no-such-part", "orders"]
    as_array = overview._part_codes(np.array(names, dtype=object))
    as_frame = overview._part_codes(pd.Series(names, dtype="str"))
    np.testing.assert_array_equal(as_array, as_frame)
    assert as_array[0] == overview.PARTS.index("orders") and as_array[1] >= len(overview.PARTS)
    known = overview._part_codes(np.array(["tickets", "capacity"], dtype=object))
    assert known.tolist() == [overview.PARTS.index("tickets"), overview.PARTS.index("capacity")]


@pytest.mark.parametrize("kind", ["array", "series"])
def test_a_missing_count_or_period_raises_rather_than_become_a_number(kind):
    import numpy as np

    from app.services.rollup_plan import whole_numbers

    values = np.array([3.0, np.nan]) if kind == "array" else pd.Series([3, None], dtype="Int64")
    with pytest.raises(ValueError, match="missing values"):
        whole_numbers(values)
    assert whole_numbers(np.array([3.0, 4.0])).tolist() == [3, 4]
    assert whole_numbers(pd.Series([3, 4], dtype="Int64")).dtype == np.int64
