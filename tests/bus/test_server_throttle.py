"""PutEvents over the request-rate quota: ThrottlingException, and it is counted."""

import json

import pytest

from app.bus.server import BusService, RequestRate, ServerConfig, ThrottlingException
from tests.bus.server_helpers import write_definition


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_bucket_admits_the_rate_and_refills():
    clock = Clock()
    rate = RequestRate(3, clock)
    assert [rate.admit() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.34  # a third of a second: one more request
    assert [rate.admit() for _ in range(2)] == [True, False]
    clock.now += 10  # the burst stays one second's worth
    assert sum(rate.admit() for _ in range(10)) == 3


def test_put_events_over_the_quota_is_throttled_and_counted(tmp_path):
    config = ServerConfig(lake=tmp_path / "lake", definition=write_definition(tmp_path), put_events_tps=2)
    service = BusService(config)
    # An entry for the definition's bus: its metrics count the calls (a custom bus, by name).
    entry = {"Source": "s", "DetailType": "d", "Detail": json.dumps({}), "EventBusName": "test-bus"}
    request = {"Entries": [entry]}
    service.call("PutEvents", request)
    service.call("PutEvents", request)
    with pytest.raises(ThrottlingException):
        service.call("PutEvents", request)
    totals = service.bus.metrics.pending_points().groupby("metric")["value"].sum().to_dict()
    assert totals["PutEventsApproximateThrottledCount"] == 1 and totals["PutEventsApproximateCallCount"] == 3
    service.journal.close()
