"""Schedule expressions (app/bus/schedule.py): EventBridge's syntax checks and fire times,
with every instant passed in (no clock)."""

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.bus.patterns import compile_pattern
from app.bus.schedule import (
    INVALID,
    Cron,
    Rate,
    ScheduleError,
    fired_at,
    parse_schedule,
    rule_patterns,
    scheduled_event,
    scheduled_pattern,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# localstack's AWS-validated tests_put_rule_with_schedule_cron / test_put_rule_with_schedule_rate,
# and the user guide's examples.
VALID = [
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 hour)",
    "rate(12 hours)",
    "rate(1 day)",
    "rate(7 days)",
    "cron(0 2 ? * SAT *)",
    "cron(0 12 * * ? *)",
    "cron(5,35 14 * * ? *)",
    "cron(15 10 ? * 6L 2002-2005)",
    "cron(0 2 ? * SAT#3 *)",
    "cron(* * ? * SAT#3 *)",
    "cron(0/5 5 ? JAN 1-5 2022)",
    "cron(0 10 * * ? *)",
    "cron(15 12 * * ? *)",
    "cron(0 18 ? * MON-FRI *)",
    "cron(0 8 1 * ? *)",
    "cron(0/15 * * * ? *)",
    "cron(0/10 * ? * MON-FRI *)",
    "cron(0/5 8-17 ? * MON-FRI *)",
    "cron(0/30 20-23 ? * MON-FRI *)",
    "cron(0/30 0-2 ? * MON-FRI *)",
    "cron(0 20 * * ? *)",
    # the reference's wildcards
    "cron(0 0 L * ? *)",
    "cron(0 0 LW * ? *)",
    "cron(0 0 3W * ? *)",
    "cron(0 0 ? * L *)",
    "cron(0 0 ? * 2#1 *)",
    "cron(0 0 1 JAN,FEB,MAR ? *)",
    "cron(0 0 1-15 * ? *)",
    "cron(1/10 * * * ? *)",
    "cron(*/10 * * * ? *)",
    "cron(0 0 1 1 ? 1970/10)",
    "cron(0 0 1 1 ? 2199)",
]

INVALID_EXPRESSIONS = [
    # localstack's AWS-validated test_put_rule_with_invalid_schedule_rate
    "rate(10 seconds)",
    "rate(10 years)",
    "rate(1 minutes)",
    "rate(1 hours)",
    "rate(1 days)",
    "rate(10 minute)",
    "rate(10 hour)",
    "rate(10 day)",
    "rate()",
    "rate(10)",
    "rate(10 minutess)",
    "rate(foo minutes)",
    "rate(0 minutes)",
    "rate(-10 minutes)",
    "rate(10 MINUTES)",
    "rate( 10 minutes )",
    " rate(10 minutes)",
    # localstack's AWS-validated tests_put_rule_with_invalid_schedule_cron
    "cron(0 1 * * * *)",  # day-of-month and day-of-week both given
    "cron(7 20 * * NOT *)",
    "cron(INVALID)",
    "cron(0 dummy ? * MON-FRI *)",
    "cron(71 8 1 * ? *)",
    # the reference's field table
    "cron(0 0 ? * ? *)",  # "?" in both
    "cron(0 0 * * ?)",  # 5 fields
    "cron(0 0 * * ? * *)",  # 7 fields
    "cron(60 0 * * ? *)",
    "cron(0 24 * * ? *)",
    "cron(0 0 0 * ? *)",
    "cron(0 0 32 * ? *)",
    "cron(0 0 1 13 ? *)",
    "cron(0 0 ? * 0 *)",
    "cron(0 0 ? * 8 *)",
    "cron(0 0 1 1 ? 1969)",
    "cron(0 0 1 1 ? 2200)",
    "cron(0 0 ? * 1/2 *)",  # no increments in day-of-week
    "cron(0 0 ? * 2W *)",  # W is day-of-month's
    "cron(0 0 1#2 * ? *)",  # # is day-of-week's
    "cron(0 0 ? * 2#6 *)",
    "cron(0 0 ? * 8#1 *)",
    "cron(0 0 ? MON * *)",  # day names are day-of-week's, month names month's
    "cron(0 0 1 MON ? *)",
    "cron(0 0 ? * JAN *)",
    "cron(0/0 * * * ? *)",
    "cron(0/61 * * * ? *)",
    "cron(0 0 L,1 * ? *)",
    "cron(0 0 32W * ? *)",
    "cron(0 22-2 * * ? *)",  # wrap-around ranges: refused (reference silent)
    "cron(0 0 1 * ? *",
    "cron (0 0 1 * ? *)",
    "cron(0  0 1 * ? *)",
    "cron( 0 0 1 * ? *)",
    "cron(0 0 1 * ? *) ",
    "cron(0 0 ? * mon *)",  # names in capitals, as the reference writes them
    "cron(0 0 1 * ? *)x",
    "cron(٣ 0 1 * ? *)",  # a non-ASCII digit
    "every minute",
    "",
]


@pytest.mark.parametrize("text", VALID)
def test_eventbridge_s_valid_expressions_parse(text):
    assert isinstance(parse_schedule(text), Rate | Cron)


@pytest.mark.parametrize("text", INVALID_EXPRESSIONS)
def test_invalid_expressions_are_refused_with_eventbridge_s_one_message(text):
    with pytest.raises(ScheduleError) as excinfo:
        parse_schedule(text)
    assert str(excinfo.value) == INVALID == "Parameter ScheduleExpression is not valid."


@pytest.mark.parametrize("value", [None, 5, ["rate(1 minute)"], {"rate": 1}])
def test_an_expression_that_is_not_text_is_refused(value):
    with pytest.raises(ScheduleError):
        parse_schedule(value)


@pytest.mark.parametrize(
    "text, interval",
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(90 minutes)", timedelta(minutes=90)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(36 hours)", timedelta(hours=36)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(400 days)", timedelta(days=400)),
    ],
)
def test_a_rate_is_its_interval(text, interval):
    assert parse_schedule(text) == Rate(interval)


ANCHOR = utc("2026-03-04T12:00:07")


@pytest.mark.parametrize(
    "text, after, expected",
    [
        pytest.param(
            "rate(1 minute)", ANCHOR, "2026-03-04T12:01:07", id="first-fire-one-interval-after-creation"
        ),
        pytest.param("rate(1 minute)", utc("2026-03-04T12:00:30"), "2026-03-04T12:01:07", id="mid-interval"),
        pytest.param(
            "rate(1 minute)", utc("2026-03-04T12:01:07"), "2026-03-04T12:02:07", id="exactly-on-an-instant"
        ),
        pytest.param(
            "rate(1 minute)", utc("2026-03-04T11:00:00"), "2026-03-04T12:01:07", id="before-creation"
        ),
        pytest.param("rate(5 minutes)", utc("2026-03-04T13:00:07"), "2026-03-04T13:05:07", id="five-minutes"),
        pytest.param("rate(1 day)", ANCHOR, "2026-03-05T12:00:07", id="a-day"),
        pytest.param("rate(2 hours)", utc("2026-03-31T23:59:59"), "2026-04-01T00:00:07", id="across-a-month"),
    ],
)
def test_a_rate_fires_every_interval_from_its_anchor(text, after, expected):
    assert parse_schedule(text).next_after(after, ANCHOR) == utc(expected)


@pytest.mark.parametrize(
    "text, after, expected",
    [
        pytest.param("cron(0 12 * * ? *)", "2026-03-04T12:00:00", "2026-03-05T12:00:00", id="daily-noon"),
        pytest.param("cron(0 12 * * ? *)", "2026-03-04T11:59:59", "2026-03-04T12:00:00", id="seconds-before"),
        pytest.param(
            "cron(0/15 * * * ? *)", "2026-03-04T12:07:00", "2026-03-04T12:15:00", id="quarter-hours"
        ),
        pytest.param("cron(0/15 * * * ? *)", "2026-03-04T23:59:30", "2026-03-05T00:00:00", id="midnight"),
        pytest.param(
            "cron(1/10 * * * ? *)", "2026-03-04T12:01:00", "2026-03-04T12:11:00", id="from-minute-1"
        ),
        pytest.param("cron(5,35 14 * * ? *)", "2026-03-04T14:05:00", "2026-03-04T14:35:00", id="list"),
        pytest.param("cron(0 8 1 * ? *)", "2026-03-04T12:00:00", "2026-04-01T08:00:00", id="first-of-month"),
        pytest.param("cron(0 0 31 * ? *)", "2026-04-01T00:00:00", "2026-05-31T00:00:00", id="31-skips-april"),
        pytest.param("cron(0 0 L * ? *)", "2026-02-01T00:00:00", "2026-02-28T00:00:00", id="last-day"),
        pytest.param("cron(0 0 L * ? *)", "2028-02-01T00:00:00", "2028-02-29T00:00:00", id="last-day-leap"),
        pytest.param("cron(0 0 LW * ? *)", "2026-05-01T00:00:00", "2026-05-29T00:00:00", id="last-weekday"),
        pytest.param(
            "cron(0 0 15W * ? *)", "2026-11-01T00:00:00", "2026-11-16T00:00:00", id="sunday-15-to-monday"
        ),
        pytest.param(
            "cron(0 0 1W * ? *)", "2026-07-31T00:00:00", "2026-08-03T00:00:00", id="saturday-1st-to-monday"
        ),
        pytest.param(
            "cron(0 0 31W * ? *)", "2026-10-01T00:00:00", "2026-10-30T00:00:00", id="saturday-31st-to-friday"
        ),
        pytest.param(
            "cron(0 0 31W * ? *)", "2026-06-01T00:00:00", "2026-07-31T00:00:00", id="31W-skips-june"
        ),
        pytest.param("cron(0 10 ? * 6L *)", "2026-03-01T00:00:00", "2026-03-27T10:00:00", id="last-friday"),
        pytest.param(
            "cron(0 2 ? * SAT#3 *)", "2026-03-04T12:00:00", "2026-03-21T02:00:00", id="third-saturday"
        ),
        pytest.param("cron(0 0 ? * 2#1 *)", "2026-03-04T12:00:00", "2026-04-06T00:00:00", id="first-monday"),
        pytest.param("cron(0 0 ? * L *)", "2026-03-04T12:00:00", "2026-03-07T00:00:00", id="L-is-saturday"),
        pytest.param("cron(0 2 ? * SAT *)", "2026-03-04T12:00:00", "2026-03-07T02:00:00", id="saturdays"),
        pytest.param(
            "cron(0 18 ? * MON-FRI *)", "2026-03-06T18:00:00", "2026-03-09T18:00:00", id="friday-to-monday"
        ),
        pytest.param("cron(0 0 ? * 1 *)", "2026-03-04T12:00:00", "2026-03-08T00:00:00", id="1-is-sunday"),
        pytest.param("cron(0 0 1 JAN ? *)", "2026-03-04T12:00:00", "2027-01-01T00:00:00", id="new-year"),
        pytest.param("cron(0 0 29 2 ? *)", "2026-03-04T12:00:00", "2028-02-29T00:00:00", id="leap-day"),
        pytest.param(
            "cron(0 0 1 1 ? 2026/2)", "2026-03-04T12:00:00", "2028-01-01T00:00:00", id="year-increment"
        ),
        pytest.param("cron(0 0 1 1 ? 2199)", "2198-06-01T00:00:00", "2199-01-01T00:00:00", id="last-year"),
        pytest.param(
            "cron(* * ? * SAT#3 *)", "2026-03-21T23:59:00", "2026-04-18T00:00:00", id="every-minute-3rd-sat"
        ),
    ],
)
def test_a_cron_fires_at_the_next_matching_minute_in_utc(text, after, expected):
    assert parse_schedule(text).next_after(utc(after), ANCHOR) == utc(expected)


@pytest.mark.parametrize(
    "text",
    [
        "cron(0 0 30 2 ? *)",  # 30 February
        "cron(15 10 ? * 6L 2002-2005)",  # years gone by
        "cron(0/5 5 ? JAN 1-5 2022)",
        "cron(0 0 1 1 ? 2199)",
    ],
)
def test_a_cron_with_no_firing_left_before_2200_never_fires(text):
    assert parse_schedule(text).next_after(utc("2199-06-01T00:00:00"), ANCHOR) is None
    assert (
        parse_schedule(text).latest_due(utc("2199-06-01T00:00:00"), utc("2199-12-31T23:59:00"), ANCHOR)
        is None
    )


def test_a_cron_reads_instants_of_any_offset_as_utc():
    paris = timezone(timedelta(hours=1))
    after = datetime(2026, 3, 4, 12, 30, 45, 999, tzinfo=paris)  # 11:30:45 UTC
    assert parse_schedule("cron(0 12 * * ? *)").next_after(after, ANCHOR) == utc("2026-03-04T12:00:00")


@pytest.mark.parametrize(
    "text, after, now, expected",
    [
        pytest.param("rate(1 minute)", ANCHOR, utc("2026-03-04T12:01:06"), None, id="rate-not-yet"),
        pytest.param(
            "rate(1 minute)", ANCHOR, utc("2026-03-04T12:01:07"), "2026-03-04T12:01:07", id="rate-due"
        ),
        pytest.param(
            "rate(1 minute)",
            utc("2026-03-04T12:01:07"),
            utc("2026-03-04T12:05:30"),
            "2026-03-04T12:05:07",
            id="rate-latest-of-missed",
        ),
        pytest.param(
            "rate(1 minute)", utc("2026-03-04T12:05:07"), utc("2026-03-04T12:05:30"), None, id="rate-done"
        ),
        pytest.param("rate(1 day)", ANCHOR, utc("2026-03-04T18:00:00"), None, id="rate-before-first"),
        pytest.param(
            "cron(* * * * ? *)",
            utc("2026-03-04T12:00:00"),
            utc("2026-03-07T08:30:59"),
            "2026-03-07T08:30:00",
            id="every-minute-after-days-down",
        ),
        pytest.param(
            "cron(0 0 1 JAN ? *)",
            utc("2020-01-01T00:00:00"),
            utc("2026-03-04T12:00:00"),
            "2026-01-01T00:00:00",
            id="yearly-after-years-down",
        ),
        pytest.param(
            "cron(0 0 1 JAN ? *)",
            utc("2026-01-01T00:00:00"),
            utc("2026-03-04T12:00:00"),
            None,
            id="yearly-done",
        ),
        pytest.param(
            "cron(0 12 * * ? *)",
            utc("2026-03-04T12:00:00"),
            utc("2026-03-04T12:00:00"),
            None,
            id="after-is-now",
        ),
    ],
)
def test_latest_due_is_the_last_instant_after_the_last_firing(text, after, now, expected):
    assert parse_schedule(text).latest_due(after, now, ANCHOR) == (utc(expected) if expected else None)


def brute_next(cron: Cron, after: datetime) -> datetime | None:
    """The next firing by trying every minute of each matching day (up to 40 days)."""
    at = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = at + timedelta(days=40)
    while at < end:
        if at.month not in cron.months or at.year not in cron.years or not cron._day_matches(at.date()):
            at = (at + timedelta(days=1)).replace(hour=0, minute=0)  # no minute of this day
        elif at.minute in cron.minutes and at.hour in cron.hours:
            return at
        else:
            at += timedelta(minutes=1)
    return None


@pytest.mark.parametrize("text", [t for t in VALID if t.startswith("cron")])
def test_next_after_agrees_with_trying_every_minute(text):
    """Seeded random instants (seed 7), 20 per expression; within 40 days."""
    cron = parse_schedule(text)
    assert isinstance(cron, Cron)
    rng = random.Random(7)
    for _ in range(20):
        after = utc("2026-01-01T00:00:00") + timedelta(seconds=rng.randrange(366 * 86400))
        found = cron.next_after(after)
        brute = brute_next(cron, after)
        if found is not None and found - after <= timedelta(days=39):
            assert found == brute
        else:
            assert brute is None or brute == found


def test_the_scheduled_event_is_eventbridge_s_envelope():
    arn = "arn:aws:events:eu-west-1:111111111111:rule/every-minute"
    event = scheduled_event("id-1", arn, "111111111111", "eu-west-1", utc("2026-03-04T12:01:00.250000"))
    assert event == {
        "version": "0",
        "id": "id-1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "111111111111",
        "time": "2026-03-04T12:01:00Z",
        "region": "eu-west-1",
        "resources": [arn],
        "detail": {},
    }
    assert fired_at(event) == (arn, utc("2026-03-04T12:01:00"))


@pytest.mark.parametrize(
    "event",
    [
        {
            "source": "shop",
            "detail-type": "Scheduled Event",
            "time": "2026-03-04T12:01:00Z",
            "resources": ["a"],
        },
        {"source": "aws.events", "detail-type": "Other", "time": "2026-03-04T12:01:00Z", "resources": ["a"]},
        {"source": "aws.events", "detail-type": "Scheduled Event", "time": "yesterday", "resources": ["a"]},
    ],
)
def test_fired_at_reads_scheduled_events_only(event):
    assert fired_at(event) is None


def test_a_rule_s_scheduled_pattern_matches_its_own_firings_only():
    mine, other = (f"arn:aws:events:us-east-1:123456789012:rule/{n}" for n in ("mine", "other"))
    pattern = compile_pattern(scheduled_pattern(mine))
    at = utc("2026-03-04T12:01:00")
    assert pattern.matches(scheduled_event("1", mine, "123456789012", "us-east-1", at))
    assert not pattern.matches(scheduled_event("2", other, "123456789012", "us-east-1", at))


class FakeRule:
    def __init__(self, schedule, pattern_text):
        self.schedule, self.pattern_text = schedule, pattern_text
        self.pattern_source = pattern_text
        self.matches_events = schedule is None or pattern_text is not None


@pytest.mark.parametrize(
    "schedule, pattern, expected",
    [
        (None, '{"source": ["a"]}', ['{"source": ["a"]}']),
        ("rate(1 minute)", None, [scheduled_pattern("ARN")]),
        ("rate(1 minute)", '{"source": ["a"]}', ['{"source": ["a"]}', scheduled_pattern("ARN")]),
    ],
)
def test_a_rule_is_indexed_by_its_pattern_and_its_schedule(schedule, pattern, expected):
    assert rule_patterns(FakeRule(schedule, pattern), "ARN") == expected
