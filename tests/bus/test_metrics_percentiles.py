"""Latency histograms in the local metrics store, and the percentiles read back from them."""

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.metrics.local import (
    METRICS_DIR,
    LocalMetricsSource,
    MetricsRecorder,
    bucket_bounds,
    latency_bucket,
    percentiles_of_histograms,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
START = "IngestionToInvocationStartLatency"


@pytest.mark.parametrize(
    "ms, bucket",
    [
        pytest.param(0.0, 0, id="zero"),
        pytest.param(0.99, 0, id="under-a-millisecond"),
        pytest.param(1.0, 1, id="one-millisecond"),
        pytest.param(10.0, 21, id="ten"),
        pytest.param(999.9, 60, id="just-under-a-second"),
        pytest.param(1e12, 181, id="capped"),
    ],
)
def test_buckets_are_logarithmic(ms, bucket):
    assert latency_bucket(ms) == bucket
    low, high = bucket_bounds(np.array([bucket]))
    assert low[0] <= ms < high[0] or bucket == 181


def test_percentiles_are_within_a_bucket_of_the_exact_ones(tmp_path):
    rng = random.Random(3)
    samples = [rng.lognormvariate(5, 1.2) for _ in range(5000)]  # ~150 ms median, long tail
    recorder = MetricsRecorder(tmp_path, "bus", now=NOW)
    t0 = (NOW - timedelta(minutes=30)).timestamp()
    for i, ms in enumerate(samples):
        recorder.add(START, t0 + i % 1200, ms, rule="r1")  # spread over 20 one-minute points
    recorder.flush()
    frame = LocalMetricsSource(tmp_path).latency_percentiles([START], NOW - timedelta(hours=1), NOW)
    assert frame[["metric", "rule", "samples"]].values.tolist() == [[START, "r1", 5000.0]]
    for q in (50, 90, 99):
        exact = float(np.percentile(samples, q))
        assert frame[f"p{q}"].iloc[0] == pytest.approx(exact, rel=0.06), q


def test_percentiles_per_period_and_per_rule(tmp_path):
    recorder = MetricsRecorder(tmp_path, "bus", now=NOW)
    t0 = (NOW - timedelta(minutes=10)).timestamp()
    recorder.add_latencies(START, t0, [10.0] * 9 + [1000.0], "slow")
    recorder.add_latencies(START, t0 + 60, [100.0] * 10, "slow")
    recorder.add_period_counts(
        ("Invocations",), "lake", recorder.period_counts([t0] * 50), zero_latencies=(START,)
    )
    recorder.add("Invocations", t0, 5, rule="slow")  # counts carry no histogram
    recorder.flush()
    frame = LocalMetricsSource(tmp_path).latency_percentiles(
        [START, "Invocations"], NOW - timedelta(minutes=10), NOW, percentiles=(50, 99), period_s=60
    )
    rows = {(r.rule, r.timestamp.minute): (r.samples, r.p50, r.p99) for r in frame.itertuples()}
    assert set(rows) == {("lake", 50), ("slow", 50), ("slow", 51)}
    assert rows[("lake", 50)] == (50.0, pytest.approx(0.5), pytest.approx(0.99))
    assert rows[("slow", 50)][1] == pytest.approx(10.0, rel=0.13) and rows[("slow", 50)][2] > 500
    assert rows[("slow", 51)][1] == pytest.approx(100.0, rel=0.13)


def test_files_from_before_histograms_still_read(tmp_path):
    old = pa.table(
        {
            "timestamp": pa.array([NOW - timedelta(minutes=5)], pa.timestamp("ms", tz="UTC")),
            "metric": [START],
            "bus": ["bus"],
            "rule": ["r"],
            "value": [5.0],
            "samples": [1.0],
        }
    )
    folder = tmp_path / METRICS_DIR / f"dt={NOW:%Y-%m-%d}"
    folder.mkdir(parents=True)
    pq.write_table(old, folder / "part-old.parquet")
    source = LocalMetricsSource(tmp_path)
    assert source.get([START], NOW - timedelta(hours=1), NOW, 60)["value"].tolist() == [5.0]
    assert source.latency_percentiles([START], NOW - timedelta(hours=1), NOW).empty


def test_percentiles_of_histograms_interpolate_inside_the_bucket():
    import pandas as pd

    groups = pd.DataFrame({"group": [0, 0], "bucket": [0, 1], "count": [1.0, 1.0]})
    out = percentiles_of_histograms(groups, (25, 50, 100))
    assert out[["samples", "p25", "p50", "p100"]].values.tolist()[0] == pytest.approx(
        [2.0, 0.5, 1.0, 10**0.05]
    )
