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
