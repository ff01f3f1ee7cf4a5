from datetime import date

import pandas as pd
import pytest

from app.services import event_rates
from app.services.timerange import custom_range


def hourly(*rows: tuple[str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {"hour": pd.to_datetime([r[0] for r in rows], utc=True), "events": [r[1] for r in rows]}
    )


def test_heatmap_means_per_weekday_and_hour_with_silent_hours_as_zero():
    # Monday 2026-11-02 10:00 UTC: 6 events; the next Monday 10:00: nothing (a gap, so 0).
    table = event_rates.weekday_hour_heatmap(hourly(("2026-11-02 10:00", 6), ("2026-11-09 11:00", 2)), "UTC")
    assert table.shape == (7, 24)
    assert table.loc["Mon", 10] == 3.0  # (6 + 0) / 2 Mondays
    assert table.loc["Mon", 11] == 1.0  # (0 + 2) / 2
    assert table.loc["Sun", 10] == 0.0


def test_heatmap_is_in_the_time_zone():
    table = event_rates.weekday_hour_heatmap(hourly(("2026-11-02 23:00", 5)), "Europe/Berlin")
    assert table.loc["Tue", 0] == 5.0  # 23:00 UTC on Monday is midnight on Tuesday in Berlin


def test_heatmap_of_nothing_is_zeros():
    assert event_rates.weekday_hour_heatmap(hourly(), "UTC").to_numpy().sum() == 0


def test_top_detail_types_share_and_rate():
    rates = pd.DataFrame(
        {
            "bucket": pd.to_datetime(["2026-11-02", "2026-11-03", "2026-11-02"]),
            "department": ["Retail web shop", "Retail web shop", "Payments"],
            "detail_type": ["OrderPlaced", "OrderPlaced", "PaymentFailed"],
            "events": [30, 40, 30],
        }
    )
    top = event_rates.top_detail_types(rates, custom_range(date(2026, 11, 2), date(2026, 11, 3)))
    assert top.to_dict("list") == {
        "detail_type": ["OrderPlaced", "PaymentFailed"],
        "department": ["Retail web shop", "Payments"],
        "events": [70, 30],
        "share": [0.7, 0.3],
        "per_day": [35.0, 15.0],
    }


@pytest.mark.parametrize(
    ("source", "name"),
    [
        pytest.param("verticals.shop", "Retail web shop", id="known"),
        pytest.param("partner.acme", "partner.acme", id="unknown-source-shown-as-is"),
    ],
)
def test_department_name(source, name):
    assert event_rates.department_name(source) == name


def test_detail_type_heatmap_busiest_first():
    rates = pd.DataFrame(
        {
            "bucket": pd.to_datetime(["2026-11-02 10:00", "2026-11-02 11:00", "2026-11-02 10:00"]),
            "detail_type": ["StockOut", "StockOut", "OrderPlaced"],
            "events": [1, 1, 5],
        }
    )
    table = event_rates.detail_type_heatmap(rates)
    assert table.index.tolist() == ["OrderPlaced", "StockOut"]
    assert table.to_numpy().tolist() == [[5, 0], [1, 1]]


def test_recent_rates_are_whole_minutes_of_the_last_hour(tmp_path):
    from datetime import UTC, datetime, timedelta

    from app.lake.writer import LakeWriter
    from app.services import context
    from app.settings import load_settings

    now = datetime(2026, 11, 2, 10, 30, 40, tzinfo=UTC)

    def event(i: int, at: datetime, source: str = "verticals.shop") -> dict:
        return {
            "version": "0",
            "id": f"e-{i}",
            "detail-type": "OrderPlaced" if source.endswith("shop") else "StockOut",
            "source": source,
            "account": "123456789012",
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": [],
            "detail": {},
        }

    LakeWriter(tmp_path / "lake").write(
        [
            event(1, now - timedelta(minutes=1, seconds=10)),
            event(2, now - timedelta(seconds=50)),
            event(3, now - timedelta(seconds=45), "verticals.erp"),
            event(4, now - timedelta(seconds=5)),  # the minute under way: left out
            event(5, now - timedelta(minutes=61)),  # more than an hour ago
        ]
    )
    ctx = context.build_context(
        load_settings({"VERTICALS_LAKE": str(tmp_path / "lake"), "VERTICALS_TIMEZONE": "Europe/Berlin"})
    )
    recent = event_rates.recent_rates(ctx, now)
    assert recent.to_dict("records") == [
        {"minute": pd.Timestamp("2026-11-02 11:29"), "department": "ERP", "events": 1},
        {"minute": pd.Timestamp("2026-11-02 11:29"), "department": "Retail web shop", "events": 2},
    ]
