from datetime import UTC, datetime, timedelta

import pytest

from app.metrics.local import LocalMetricsSource, MetricsRecorder, resolution_s

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "age, step",
    [
        pytest.param(timedelta(hours=1), 60, id="recent-minute"),
        pytest.param(timedelta(days=20), 300, id="month-five-minutes"),
        pytest.param(timedelta(days=200), 3600, id="old-hourly"),
    ],
)
def test_resolution_follows_cloudwatch_retention(age, step):
    assert resolution_s(age.total_seconds()) == step


def test_counts_round_trip_with_missing_periods_as_zero(tmp_path):
    recorder = MetricsRecorder(tmp_path, "verticals", now=NOW)
    t0 = (NOW - timedelta(minutes=10)).timestamp()
    recorder.add("Invocations", t0, 3, rule="r1")
    recorder.add("Invocations", t0 + 5, 2, rule="r1")
    recorder.add("Invocations", t0 + 120, 1, rule="r1")
    recorder.add("IngestionToInvocationStartLatency", t0, 100.0, rule="r1")
    recorder.add("IngestionToInvocationStartLatency", t0 + 1, 300.0, rule="r1")
    assert recorder.flush() == 3
    frame = LocalMetricsSource(tmp_path).get(
        ["Invocations", "IngestionToInvocationStartLatency"],
        NOW - timedelta(minutes=10),
        NOW - timedelta(minutes=6),
        60,
    )
    invocations = frame[frame.metric == "Invocations"]["value"].tolist()
    assert invocations == [5.0, 0.0, 1.0, 0.0]
    latency = frame[frame.metric == "IngestionToInvocationStartLatency"]
    assert latency["value"].tolist() == [200.0] and latency["samples"].tolist() == [2.0]


def test_empty_store_gives_empty_frame(tmp_path):
    frame = LocalMetricsSource(tmp_path).get(["Invocations"], NOW - timedelta(days=1), NOW, 3600)
    assert frame.empty and list(frame.columns) == ["timestamp", "metric", "bus", "rule", "value", "samples"]


def test_points_are_summed_per_period_before_pandas_with_the_same_answer(tmp_path):
    """Minute points over two days, two buses, read per hour and per day: the same sums
    and latency means as summing the raw points in pandas."""
    import pandas as pd

    recorder = MetricsRecorder(tmp_path, "verticals", now=NOW)
    start = NOW - timedelta(days=2)
    rows = []
    for minute in range(0, 2 * 1440, 7):
        at = (start + timedelta(minutes=minute)).timestamp()
        for rule, value in (("r1", minute % 5), ("r2", 1 + minute % 3)):
            recorder.add("Invocations", at, value, rule=rule)
            recorder.add("IngestionToInvocationStartLatency", at, 10.0 + minute % 11, rule=rule)
            rows.append((at, rule, value, 10.0 + minute % 11))
    recorder.flush()
    other = MetricsRecorder(tmp_path, "other", now=NOW)
    other.add("Invocations", start.timestamp(), 1000, rule="r1")
    assert other.flush() == 1
    source = LocalMetricsSource(tmp_path)
    raw = pd.DataFrame(rows, columns=["at", "rule", "count", "latency"])
    for period in (3600, 86_400):
        frame = source.get(
            ["Invocations", "IngestionToInvocationStartLatency"], start, NOW, period, bus="verticals"
        )
        raw["bucket"] = raw["at"] // period * period
        want = raw.groupby(["bucket", "rule"])[["count", "latency"]].agg(["sum", "mean"])
        got = frame.assign(bucket=frame["timestamp"].astype("int64") // 10**9).set_index(["bucket", "rule"])
        counts = got[got.metric == "Invocations"]
        assert counts.loc[want.index, "value"].tolist() == want[("count", "sum")].tolist()
        assert counts["value"].sum() == raw["count"].sum()  # nothing of the other bus, no period twice
        latency = got[got.metric == "IngestionToInvocationStartLatency"]
        assert latency.loc[want.index, "value"].tolist() == pytest.approx(want[("latency", "mean")].tolist())
