from datetime import UTC, date, datetime, timedelta

import pytest

from app.services import timerange
from app.services.timerange import CUSTOM, TimeRange, custom_range, from_query, preset_range, to_query

NOW = datetime(2026, 11, 25, 14, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "preset", "start", "end", "problem"),
    [
        pytest.param(
            {},
            "30d",
            datetime(2026, 10, 26, 14, 10, tzinfo=UTC),
            datetime(2026, 11, 25, 14, 10, tzinfo=UTC),
            None,
            id="default",
        ),
        pytest.param(
            {"range": "24h"},
            "24h",
            datetime(2026, 11, 24, 14, 10, tzinfo=UTC),
            datetime(2026, 11, 25, 14, 10, tzinfo=UTC),
            None,
            id="24h-ends-at-now-rounded-up",
        ),
        pytest.param(
            {"range": ["7d", "90d"]},
            "90d",
            datetime(2026, 8, 27, 14, 10, tzinfo=UTC),
            datetime(2026, 11, 25, 14, 10, tzinfo=UTC),
            None,
            id="repeated-key-last-wins",
        ),
        pytest.param(
            {"from": "2026-10-01", "to": "2026-10-31"},
            CUSTOM,
            datetime(2026, 10, 1, tzinfo=UTC),
            datetime(2026, 11, 1, tzinfo=UTC),
            None,
            id="custom-days-inclusive",
        ),
        pytest.param(
            {"from": "2026-10-31", "to": "2026-10-01"},
            CUSTOM,
            datetime(2026, 10, 1, tzinfo=UTC),
            datetime(2026, 11, 1, tzinfo=UTC),
            None,
            id="custom-days-swapped",
        ),
        pytest.param(
            {"from": "2026-10-05"},
            CUSTOM,
            datetime(2026, 10, 5, tzinfo=UTC),
            datetime(2026, 10, 6, tzinfo=UTC),
            None,
            id="one-day",
        ),
        pytest.param(
            {"range": "fortnight"},
            "30d",
            datetime(2026, 10, 26, 14, 10, tzinfo=UTC),
            datetime(2026, 11, 25, 14, 10, tzinfo=UTC),
            "unknown range 'fortnight'",
            id="unknown-preset",
        ),
        pytest.param(
            {"from": "01/10/2026", "to": "2026-10-31"},
            "30d",
            datetime(2026, 10, 26, 14, 10, tzinfo=UTC),
            datetime(2026, 11, 25, 14, 10, tzinfo=UTC),
            "not YYYY-MM-DD",
            id="bad-date",
        ),
    ],
)
def test_from_query(query, preset, start, end, problem):
    rng, found = from_query(query, NOW)
    assert (rng.preset, rng.start, rng.end) == (preset, start, end)
    assert (found is None) if problem is None else (problem in found)


def test_custom_days_are_whole_days_in_the_time_zone():
    rng = custom_range(date(2026, 7, 1), date(2026, 7, 2), "Europe/Berlin")
    assert rng.start == datetime(2026, 6, 30, 22, tzinfo=UTC)
    assert rng.end == datetime(2026, 7, 2, 22, tzinfo=UTC)
    assert (rng.dt_from, rng.dt_to) == ("2026-06-30", "2026-07-02")
    assert to_query(rng, "Europe/Berlin") == {"from": "2026-07-01", "to": "2026-07-02"}
    assert timerange.local_days(rng, "Europe/Berlin") == (date(2026, 7, 1), date(2026, 7, 2))


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"range": "7d"}, id="preset"),
        pytest.param({"from": "2026-02-01", "to": "2026-02-28"}, id="custom"),
    ],
)
def test_a_link_reproduces_the_range(query):
    rng, _ = from_query(query, NOW)
    assert to_query(rng) == query
    assert from_query(to_query(rng), NOW)[0] == rng


def test_the_end_day_is_excluded_from_partitions():
    rng = custom_range(date(2026, 3, 1), date(2026, 3, 31))
    assert (rng.dt_from, rng.dt_to) == ("2026-03-01", "2026-03-31")
    assert rng.params() == {
        "dt_from": "2026-03-01",
        "dt_to": "2026-03-31",
        "t_from": datetime(2026, 3, 1, tzinfo=UTC),
        "t_to": datetime(2026, 4, 1, tzinfo=UTC),
    }


def test_previous_period_has_equal_length_and_ends_where_this_starts():
    rng = preset_range("7d", NOW)
    before = rng.previous()
    assert before.end == rng.start and before.duration == rng.duration


@pytest.mark.parametrize(
    ("preset", "bucket", "period"),
    [
        pytest.param("24h", "hour", 300, id="24h"),
        pytest.param("7d", "hour", 3600, id="7d"),
        pytest.param("30d", "day", 86_400, id="30d"),
        pytest.param("90d", "day", 86_400, id="90d"),
        pytest.param("365d", "week", 86_400, id="365d"),
    ],
)
def test_bucket_and_metrics_period(preset, bucket, period):
    rng = preset_range(preset, NOW)
    assert rng.bucket == bucket
    assert timerange.period_seconds(rng) == period


def test_relative_ranges_stay_put_for_a_few_minutes():
    first = preset_range("7d", NOW)
    assert preset_range("7d", NOW + timedelta(minutes=2)) == first
    assert preset_range("7d", NOW + timedelta(minutes=3)) != first


def test_widened_keeps_the_end():
    rng = preset_range("7d", NOW)
    wide = rng.widened(rng.end - timedelta(days=56))
    assert wide.end == rng.end and wide.duration == timedelta(days=56)
    assert rng.widened(rng.end) == TimeRange(rng.start, rng.end, CUSTOM, rng.label)


@pytest.mark.parametrize(
    ("start", "end", "whole"),
    [
        pytest.param(
            datetime(2026, 11, 2, 9, tzinfo=UTC),
            datetime(2026, 11, 5, 9, tzinfo=UTC),
            (datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC)),
            id="rolling",
        ),
        pytest.param(
            datetime(2026, 11, 2, tzinfo=UTC),
            datetime(2026, 11, 4, tzinfo=UTC),
            (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)),
            id="already-whole",
        ),
        pytest.param(
            datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 3, 9, tzinfo=UTC), None, id="24h-none"
        ),
    ],
)
def test_whole_days(start, end, whole):
    days = TimeRange(start, end, "x", "x").whole_days()
    assert (days.start, days.end) == whole if whole else days is None


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"from": "9999-12-31", "to": "9999-12-31"}, id="year-9999"),
        pytest.param({"from": "0001-01-01", "to": "2026-01-01"}, id="year-1"),
        pytest.param({"from": "2026-01-01", "to": "2300-01-01"}, id="to-after-2199"),
    ],
)
def test_a_year_out_of_range_is_one_sentence(query):
    rng, problem = from_query(query, NOW)
    assert rng.preset == timerange.DEFAULT_PRESET
    assert problem and "outside the years 1970–2199" in problem and problem.count(".") == 1


def test_a_range_longer_than_the_limit_keeps_its_last_days():
    rng, _ = from_query({"from": "1990-01-01", "to": "2189-12-31"}, NOW)  # 200 years
    clipped, problem = timerange.clip(rng, 3660)
    assert clipped.duration == timedelta(days=3660)
    assert to_query(clipped)["to"] == "2189-12-31"
    assert problem and "3,660" in problem


def test_a_range_within_the_limit_is_kept():
    rng = custom_range(date(2026, 1, 1), date(2026, 12, 31))
    assert timerange.clip(rng, 366) == (rng, None)
    assert timerange.clip(preset_range("365d", NOW), 3660)[1] is None


NOW_ISH = datetime(2026, 12, 7, 14, 31, 5, tzinfo=UTC)


def test_days_picked_up_to_today_end_at_now_as_a_preset_does():
    picked = custom_range(date(2026, 12, 1), date(2026, 12, 7), "Europe/Berlin")
    cut = timerange.so_far(picked, NOW_ISH)
    assert (cut.start, cut.end) == (picked.start, datetime(2026, 12, 7, 14, 35, tzinfo=UTC))
    assert cut.label == "01 Dec 2026 – 07 Dec 2026 (so far)" and cut.preset == CUSTOM
    # the previous period is as long: today so far is not compared with a whole day
    assert cut.previous().duration == cut.duration == timedelta(days=6, hours=15, minutes=35)
    assert to_query(cut, "Europe/Berlin") == {
        "from": "2026-12-01",
        "to": "2026-12-07",
    }  # the link is the same


@pytest.mark.parametrize(
    ("first", "last"),
    [
        pytest.param(date(2026, 11, 1), date(2026, 12, 6), id="ended-yesterday"),
        pytest.param(date(2026, 12, 8), date(2026, 12, 9), id="all-to-come"),
    ],
)
def test_days_that_do_not_hold_now_are_kept_whole(first, last):
    picked = custom_range(first, last)
    assert timerange.so_far(picked, NOW_ISH) == picked


def test_a_preset_is_unchanged_by_so_far():
    rng = preset_range("7d", NOW_ISH)
    assert timerange.so_far(rng, NOW_ISH) == rng
