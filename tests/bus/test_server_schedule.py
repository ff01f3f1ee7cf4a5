"""Scheduled rules in ``bus serve`` (issue 11): PutRule's ScheduleExpression through boto3 and
the AWS CLI, and the scheduler firing Scheduled Events on time, driven by a test clock.

API assertions hold on real AWS too unless marked ``# local``: they follow localstack's
AWS-validated test_events_schedule.py and the EventBridge reference. Scheduler tests drive
time through ``ServerConfig.now`` and call the scheduler's tick themselves (no sleeping),
except the two that show the server's own loop (a few seconds at most).
"""

import json
import os
import shutil
import subprocess
import threading
from contextlib import contextmanager
from datetime import timedelta

import boto3
import botocore.exceptions
import pytest

from app.bus import scheduler as scheduler_module
from app.bus.server import BoundedHTTPServer, BusService, ServerConfig, handler_for
from tests.bus.server_helpers import BusProcess, http_consumer, wait_for, write_definition

# the API tests' client: a switch that points it at real AWS points these tests there too
from tests.bus.test_server_api import client, error
from tests.instant import NOW

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bus-server")]

SCOPE = ("123456789012", "us-east-1")  # what a client signing with key "x" is
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/{}"


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schedule-api")
    process = BusProcess(tmp, write_definition(tmp)).start()
    yield process
    process.stop()


# -- PutRule with ScheduleExpression ------------------------------------------------------
@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "cron(0 20 * * ? *)",
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(0 2 ? * SAT#3 *)",
    ],
)
def test_a_scheduled_rule_is_listed_and_described_with_its_expression_as_sent(bus, expression):
    events = client(bus)
    name = "sched-" + "".join(c for c in expression if c.isalnum())
    arn = events.put_rule(Name=name, ScheduleExpression=expression)["RuleArn"]
    assert arn.endswith(f":rule/{name}") and arn.startswith("arn:aws:events:us-east-1:")
    (listed,) = events.list_rules(NamePrefix=name)["Rules"]
    described = events.describe_rule(Name=name)
    for rule in (listed, described):
        assert {k: rule[k] for k in ("Name", "Arn", "EventBusName", "ScheduleExpression", "State")} == {
            "Name": name,
            "Arn": arn,
            "EventBusName": "default",
            "ScheduleExpression": expression,
            "State": "ENABLED",
        }
        assert "EventPattern" not in rule


@pytest.mark.parametrize(
    "expression",
    [
        # localstack's AWS-validated invalid rates and crons
        "rate(10 seconds)",
        "rate(10 years)",
        "rate(1 minutes)",
        "rate(10 minute)",
        "rate()",
        "rate(0 minutes)",
        "rate(-10 minutes)",
        "rate(10 MINUTES)",
        "rate( 10 minutes )",
        " rate(10 minutes)",
        "cron(0 1 * * * *)",
        "cron(7 20 * * NOT *)",
        "cron(INVALID)",
        "cron(0 dummy ? * MON-FRI *)",
        "cron(71 8 1 * ? *)",
    ],
)
def test_an_invalid_expression_is_eventbridge_s_validation_error(bus, expression):
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(bus).put_rule(Name="invalid-schedule", ScheduleExpression=expression)
    assert error(excinfo) == ("ValidationException", "Parameter ScheduleExpression is not valid.", 400)


def test_a_schedule_on_a_custom_bus_is_refused(bus):
    events = client(bus)
    events.create_event_bus(Name="schedule-custom")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.put_rule(Name="r", EventBusName="schedule-custom", ScheduleExpression="rate(1 minute)")
    # localstack's AWS snapshot tests_put_rule_with_schedule_custom_event_bus
    assert error(excinfo) == (
        "ValidationException",
        "ScheduleExpression is supported only on the default event bus.",
        400,
    )
    # local: the bus is checked before the expression (moto's order; AWS's is not recorded)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.put_rule(Name="r", EventBusName="schedule-custom", ScheduleExpression="rate(0 minutes)")
    assert error(excinfo)[1] == "ScheduleExpression is supported only on the default event bus."


def test_a_rule_needs_a_pattern_or_a_schedule(bus):
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(bus).put_rule(Name="neither")
    # moto's message for it (the reference: "A rule must contain at least an EventPattern or
    # ScheduleExpression")
    assert error(excinfo) == (
        "ValidationException",
        "Parameter(s) EventPattern or ScheduleExpression must be specified.",
        400,
    )


def test_a_rule_may_have_both_a_pattern_and_a_schedule_and_put_rule_replaces_both(bus):
    events = client(bus)
    pattern = '{"source": ["shop"]}'
    events.put_rule(Name="both", EventPattern=pattern, ScheduleExpression="rate(2 hours)")
    rule = events.describe_rule(Name="both")
    assert (rule["EventPattern"], rule["ScheduleExpression"]) == (pattern, "rate(2 hours)")
    # "If you omit arguments in PutRule, the old values for those arguments are not kept."
    events.put_rule(Name="both", EventPattern=pattern)
    assert "ScheduleExpression" not in events.describe_rule(Name="both")


def test_an_expression_over_256_characters_fails_the_length_constraint(bus):
    expression = "rate(1 minute)" + " " * 243
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(bus).put_rule(Name="long", ScheduleExpression=expression)
    assert error(excinfo) == (
        "ValidationException",
        f"1 validation error detected: Value '{expression}' at 'scheduleExpression' failed to satisfy "
        "constraint: Member must have length less than or equal to 256",
        400,
    )


# -- the scheduler, in-process with a test clock (local) ----------------------------------
class Clock:
    def __init__(self, at=NOW):
        self.at = at

    def __call__(self):
        return self.at

    def advance(self, **delta) -> None:
        self.at += timedelta(**delta)


@contextmanager
def service_at(tmp_path, clock, tick_s=3600.0):
    """A BusService on tmp_path's lake and state, its scheduler reading ``clock``; with the
    default tick the test fires due rules itself (``tick``)."""
    config = ServerConfig(
        lake=tmp_path / "lake",
        definition=write_definition(tmp_path),
        schedule_tick_s=tick_s,
        metrics_every_s=600,
        now=clock,
    )
    service = BusService(config)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def tick(service) -> int:
    with service.lock:
        return service.scheduler.tick()


def scheduled_rule(service, name, url, expression="rate(1 minute)", **target):
    service.call("PutRule", {"Name": name, "ScheduleExpression": expression}, SCOPE)
    service.call("PutTargets", {"Rule": name, "Targets": [{"Id": "t", "Arn": url, **target}]}, SCOPE)


def stamp(at) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_rate_rule_fires_a_scheduled_event_one_interval_after_creation(tmp_path):
    clock = Clock()
    with http_consumer(200) as consumer, service_at(tmp_path, clock) as service:
        scheduled_rule(service, "every-minute", consumer.url)
        clock.advance(seconds=59)
        assert tick(service) == 0 and consumer.bodies == []
        clock.advance(seconds=1)
        assert tick(service) == 1
        assert tick(service) == 0  # one instant, one firing
        (event,) = consumer.bodies
        assert event == {
            "version": "0",
            "id": event["id"],
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": stamp(NOW + timedelta(minutes=1)),
            "region": "us-east-1",
            "resources": [RULE_ARN.format("every-minute")],
            "detail": {},
        }
        clock.advance(minutes=1)
        assert tick(service) == 1
        assert [e["time"] for e in consumer.bodies] == [stamp(NOW + timedelta(minutes=m)) for m in (1, 2)]


def test_a_cron_rule_fires_at_its_utc_minute(tmp_path):
    clock = Clock()  # NOW is 12:00:00 UTC
    with http_consumer(200) as consumer, service_at(tmp_path, clock) as service:
        scheduled_rule(service, "quarter-past", consumer.url, "cron(15 12 * * ? *)")
        clock.advance(minutes=14, seconds=59)
        assert tick(service) == 0
        clock.advance(seconds=1)
        assert tick(service) == 1
        assert [e["time"] for e in consumer.bodies] == [stamp(NOW + timedelta(minutes=15))]


def test_only_the_rule_s_own_targets_get_its_scheduled_event(tmp_path):
    clock = Clock()
    with (
        http_consumer(200) as mine,
        http_consumer(200) as other,
        http_consumer(200) as watcher,
        service_at(tmp_path, clock) as service,
    ):
        scheduled_rule(service, "mine", mine.url)
        scheduled_rule(service, "hourly", other.url, "rate(1 hour)")
        # a rule whose pattern would match any Scheduled Event
        service.call("PutRule", {"Name": "watch", "EventPattern": '{"source": ["aws.events"]}'}, SCOPE)
        service.call("PutTargets", {"Rule": "watch", "Targets": [{"Id": "w", "Arn": watcher.url}]}, SCOPE)
        clock.advance(minutes=1)
        assert tick(service) == 1
        assert len(mine.bodies) == 1 and other.bodies == [] and watcher.bodies == []


def test_a_target_s_input_settings_apply_to_scheduled_events(tmp_path):
    clock = Clock()
    transformer = {"InputPathsMap": {"at": "$.time"}, "InputTemplate": '{"fired": <at>}'}
    with http_consumer(200) as consumer, service_at(tmp_path, clock) as service:
        service.call("PutRule", {"Name": "inputs", "ScheduleExpression": "rate(1 minute)"}, SCOPE)
        targets = [
            {"Id": "input", "Arn": consumer.url, "Input": '{"custom-value": "somecustominput"}'},
            {"Id": "path", "Arn": consumer.url, "InputPath": "$.resources"},
            {"Id": "transformer", "Arn": consumer.url, "InputTransformer": transformer},
        ]
        service.call("PutTargets", {"Rule": "inputs", "Targets": targets}, SCOPE)
        clock.advance(minutes=1)
        tick(service)
        assert sorted(consumer.bodies, key=json.dumps) == sorted(
            [
                {"custom-value": "somecustominput"},  # localstack's AWS snapshot
                [RULE_ARN.format("inputs")],
                {"fired": stamp(NOW + timedelta(minutes=1))},
            ],
            key=json.dumps,
        )


def test_a_disabled_rule_does_not_fire_and_is_not_caught_up_when_enabled(tmp_path):
    clock = Clock()
    with http_consumer(200) as consumer, service_at(tmp_path, clock) as service:
        scheduled_rule(service, "paused", consumer.url)
        service.call("DisableRule", {"Name": "paused"}, SCOPE)
        clock.advance(minutes=5, seconds=30)
        assert tick(service) == 0
        service.call("EnableRule", {"Name": "paused"}, SCOPE)
        assert tick(service) == 0  # 12:05 passed while disabled
        clock.advance(seconds=30)
        assert tick(service) == 1
        assert [e["time"] for e in consumer.bodies] == [stamp(NOW + timedelta(minutes=6))]


def test_a_deleted_rule_stops_firing(tmp_path):
    clock = Clock()
    with http_consumer(200) as consumer, service_at(tmp_path, clock) as service:
        scheduled_rule(service, "gone", consumer.url)
        service.call("DeleteRule", {"Name": "gone", "Force": True}, SCOPE)
        clock.advance(minutes=3)
        assert tick(service) == 0 and consumer.bodies == []


def test_a_restart_does_not_fire_an_instant_twice(tmp_path):
    clock = Clock(NOW + timedelta(minutes=1))
    with http_consumer(200) as consumer:
        with service_at(tmp_path, Clock()) as service:
            scheduled_rule(service, "once", consumer.url)
        with service_at(tmp_path, clock) as service:
            assert tick(service) == 1
        with service_at(tmp_path, clock) as service:  # started again within the same instant
            assert tick(service) == 0
        assert len(consumer.bodies) == 1


def test_firings_missed_while_down_are_not_backfilled_the_latest_fires_once(tmp_path, caplog):
    with http_consumer(200) as consumer:
        with service_at(tmp_path, Clock()) as service:
            scheduled_rule(service, "down", consumer.url)
        clock = Clock(NOW + timedelta(minutes=5, seconds=30))  # 12:01 … 12:05 passed while down
        with service_at(tmp_path, clock) as service:
            assert tick(service) == 1
            assert tick(service) == 0
        assert [e["time"] for e in consumer.bodies] == [stamp(NOW + timedelta(minutes=5))]
        first, latest = ((NOW + timedelta(minutes=m)).isoformat() for m in (1, 5))
        assert f"missed its firings from {first} to {latest}" in caplog.text


def test_a_crash_between_journaling_and_recording_a_firing_delivers_it_once(tmp_path, monkeypatch):
    clock = Clock()
    with http_consumer(200) as consumer:
        with service_at(tmp_path, clock) as service:
            scheduled_rule(service, "crash", consumer.url)
            clock.advance(minutes=1)

            def crash(self, name, at):
                raise RuntimeError("killed after the journal write")

            with monkeypatch.context() as patch:
                patch.setattr(scheduler_module.BusSchedules, "fired", crash)
                with pytest.raises(RuntimeError):
                    tick(service)
            assert consumer.bodies == []
        with service_at(tmp_path, clock) as service:  # the journal re-delivers it
            assert wait_for(lambda: consumer.bodies, timeout_s=10)
            assert tick(service) == 0  # and the scheduler knows it fired
        assert [e["time"] for e in consumer.bodies] == [stamp(NOW + timedelta(minutes=1))]


# -- the server's own loop, and the AWS CLI -----------------------------------------------
@contextmanager
def serving(tmp_path, clock):
    """``bus serve`` in this process (its scheduler ticking every 20 ms on ``clock``)."""
    with service_at(tmp_path, clock, tick_s=0.02) as service:
        server = BoundedHTTPServer(("127.0.0.1", 0), handler_for(service))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()


def scheduled_events(consumer) -> list[dict]:
    return [b for b in consumer.bodies if isinstance(b, dict) and b.get("detail-type") == "Scheduled Event"]


def test_the_server_loop_fires_when_the_clock_reaches_the_instant(tmp_path):
    clock = Clock()
    with http_consumer(200) as consumer, serving(tmp_path, clock) as url:
        events = boto3.client(
            "events",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        events.put_rule(Name="loop", ScheduleExpression="rate(1 minute)")
        events.put_targets(Rule="loop", Targets=[{"Id": "t", "Arn": consumer.url}])
        clock.advance(minutes=1)
        assert wait_for(lambda: scheduled_events(consumer), timeout_s=5)


def aws_cli() -> str | None:
    found = shutil.which("aws")
    if found is None and os.environ.get("CI"):
        pytest.fail("the AWS CLI (aws) is not on PATH, and CI is set")
    if found is None:
        pytest.skip("the AWS CLI (aws) is not on PATH")
    return found


def test_the_unmodified_aws_cli_makes_a_rate_rule_whose_scheduled_event_reaches_its_target(tmp_path):
    cli = aws_cli()
    config, credentials = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text("")
    credentials.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    }
    clock = Clock()
    with http_consumer(200) as consumer, serving(tmp_path, clock) as url:

        def aws(*args: str) -> dict:
            command = [
                cli,
                "events",
                *args,
                "--endpoint-url",
                url,
                "--region",
                "us-east-1",
                "--output",
                "json",
            ]
            done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout or "{}")

        put = aws("put-rule", "--name", "every-minute", "--schedule-expression", "rate(1 minute)")
        assert put["RuleArn"] == RULE_ARN.format("every-minute")
        aws(
            "put-targets",
            "--rule",
            "every-minute",
            "--targets",
            json.dumps([{"Id": "1", "Arn": consumer.url}]),
        )
        described = aws("describe-rule", "--name", "every-minute")
        assert described["ScheduleExpression"] == "rate(1 minute)"
        clock.advance(minutes=1)  # in real time: within about a minute
        found = wait_for(lambda: scheduled_events(consumer), timeout_s=5)
        assert found and found[0]["resources"] == [put["RuleArn"]]
        assert found[0]["time"] == stamp(NOW + timedelta(minutes=1))
