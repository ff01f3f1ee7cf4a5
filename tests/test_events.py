import json
from datetime import UTC, datetime

import pytest

from app.events import (
    EntryError,
    ValidationException,
    check_entry_count,
    entry_size,
    make_envelope,
    validate_entry,
)


def entry(**overrides):
    base = {"Source": "verticals.shop", "DetailType": "OrderPlaced", "Detail": json.dumps({"order_id": "o1"})}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    "bad, code",
    [
        pytest.param(entry(Source=None), "InvalidArgument", id="missing-source"),
        pytest.param(entry(DetailType=""), "InvalidArgument", id="empty-detail-type"),
        pytest.param(entry(Detail=None), "InvalidArgument", id="missing-detail"),
        pytest.param(entry(Detail="{not json"), "MalformedDetail", id="malformed-detail"),
        pytest.param(entry(Detail="[1, 2]"), "MalformedDetail", id="detail-array"),
        pytest.param(entry(Detail='{"amount": NaN}'), "MalformedDetail", id="detail-nan"),
        pytest.param(entry(Detail='{"a": [-Infinity]}'), "MalformedDetail", id="detail-infinity"),
        pytest.param(entry(Detail='"text"'), "MalformedDetail", id="detail-string"),
        pytest.param(entry(Detail="[" * 100_000), "MalformedDetail", id="detail-deeply-nested"),
        pytest.param(entry(Source="aws.ec2"), "NotAuthorizedForSourceException", id="aws-source"),
        pytest.param(entry(Source="AWS.s3"), "NotAuthorizedForSourceException", id="aws-source-upper"),
        pytest.param(entry(Source=12), "InvalidArgument", id="source-not-string"),
        pytest.param(entry(Resources="arn:x"), "InvalidArgument", id="resources-not-list"),
        pytest.param(entry(Time="yesterday"), "InvalidArgument", id="bad-time"),
        pytest.param(entry(Detail=json.dumps({"x": "a" * 300_000})), "InvalidArgument", id="oversized"),
        pytest.param("not an object", "InvalidArgument", id="entry-not-object"),
    ],
)
def test_bad_entries_get_an_error_code_and_message(bad, code):
    error = validate_entry(bad)
    assert isinstance(error, EntryError)
    assert error.code == code and error.message


def test_good_entry_returns_its_detail():
    assert validate_entry(entry()) == {"order_id": "o1"}


def test_size_limit_is_configurable_and_counts_like_eventbridge():
    e = entry(Time="2026-11-20T10:00:00Z", Resources=["arn:aws:x"])
    size = entry_size(e)
    assert size == 14 + len("verticals.shop") + len("OrderPlaced") + len(e["Detail"]) + len("arn:aws:x")
    assert isinstance(validate_entry(e, max_entry_bytes=size), dict)
    assert validate_entry(e, max_entry_bytes=size - 1).message.startswith(f"Entry size {size} bytes")


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param([entry()] * 11, id="eleven"),
        pytest.param([], id="none"),
        pytest.param("x", id="not-a-list"),
    ],
)
def test_the_call_is_refused_for_a_bad_entry_count(entries):
    with pytest.raises(ValidationException):
        check_entry_count(entries)


def test_envelope_has_eventbridge_fields():
    now = datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)
    envelope = make_envelope(entry(), {"order_id": "o1"}, account="1", region="eu-west-1", now=now)
    assert set(envelope) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert envelope["time"] == "2026-11-20T10:00:00Z"
    assert envelope["detail-type"] == "OrderPlaced"


def test_entries_with_text_that_is_not_unicode_or_times_outside_years_1_to_9999_are_refused():
    from app.events import validate_entry

    entry = {"Source": "verticals.shop", "DetailType": "OrderPlaced", "Detail": "{}"}
    assert validate_entry({**entry, "Source": "a\ud800"}).code == "InvalidArgument"
    for time in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", 1e12):
        assert validate_entry({**entry, "Time": time}).code == "InvalidArgument"
    assert validate_entry({**entry, "Time": "0999-05-01T00:00:00Z"}) == {}


def test_times_have_four_digit_years():
    from app.events import format_time

    assert format_time(datetime(7, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0007-01-02T03:04:05Z"
