"""The Live policy per backend: how often a page refreshes, and for which ranges."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.services.live import AWS_NOT_LIVE, LivePolicy, live_policy, refreshes_per_hour

HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("backend", "duration", "policy"),
    [
        pytest.param("local", timedelta(hours=24), LivePolicy(15, True, True), id="local-day"),
        pytest.param("local", timedelta(days=7), LivePolicy(15, True, False), id="local-week"),
        pytest.param("aws", HOUR, LivePolicy(60, True, True), id="aws-hour"),
        pytest.param("aws", timedelta(minutes=15), LivePolicy(60, True, True), id="aws-quarter-hour"),
        pytest.param(
            "aws", HOUR + timedelta(seconds=1), LivePolicy(60, False, False, AWS_NOT_LIVE), id="aws-over"
        ),
        pytest.param("aws", timedelta(hours=24), LivePolicy(60, False, False, AWS_NOT_LIVE), id="aws-day"),
    ],
)
def test_live_policy(backend, duration, policy):
    assert live_policy(backend, duration) == policy


def test_aws_never_refreshes_faster_than_cloudwatchs_resolution():
    for minutes in range(1, 61):
        assert live_policy("aws", timedelta(minutes=minutes)).every_s >= 60
    assert refreshes_per_hour("aws", HOUR) == 60 and refreshes_per_hour("local", HOUR) == 240
    assert refreshes_per_hour("aws", timedelta(days=1)) == 0


def test_the_reason_is_one_sentence():
    assert AWS_NOT_LIVE.count(". ") == 0 and AWS_NOT_LIVE.endswith(".") and "\\n" not in AWS_NOT_LIVE
