"""Live on the aws backend (AppTest on moto): ranges over an hour are not live, and the
switch says why in one sentence; the local backend's switch is unchanged."""

from __future__ import annotations

import pytest

from app.services.live import AWS_NOT_LIVE
from tests.app.apptest import open_page
from tests.aws.test_apptest_aws import assert_clean, on_aws  # noqa: F401  (on_aws: a fixture)


@pytest.mark.parametrize(
    ("page", "key"),
    [
        pytest.param("delivery_health", "delivery_live", id="delivery-health"),
        pytest.param("event_rates", "rates_live", id="event-rates"),
    ],
)
def test_a_day_is_not_live_on_aws(page, key, on_aws):  # noqa: F811
    at = open_page(page, {"range": "24h"})
    assert_clean(at)
    switch = at.toggle(key=f"{key}:off")
    assert switch.value is False and switch.disabled
    assert AWS_NOT_LIVE in [c.value for c in at.main.caption]
    assert not any(c.value.startswith("Live:") for c in at.main.caption)


def test_the_event_rates_chart_on_aws_says_what_is_still_arriving(on_aws):  # noqa: F811
    at = open_page("event_rates", {"range": "24h"})
    assert_clean(at)
    assert any("newest 7.5 minutes may still be in Firehose's buffers" in c.value for c in at.main.caption)
