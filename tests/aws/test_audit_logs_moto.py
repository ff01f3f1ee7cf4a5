"""The audit trail on the aws backend: entries in the stack's CloudWatch Logs group (moto),
read back newest first; the backend picks that sink, the local backend the file; a write
that fails warns and the action it records stands."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws

from app import audit, ui
from app.auth import User
from app.aws.audit_logs import DAY_MS, CloudWatchLogsSink, stream_name
from app.backends.aws import build_aws_parts
from app.services.context import build_local_context
from app.settings import load_settings
from tests.aws.cfn_moto import REGION
from tests.aws.test_aws_backend_moto import aws_settings  # noqa: F401 (a fixture)
from tests.instant import NOW

GROUP = "prod-audit"
# CloudWatch takes events of the last 14 days only, by its own clock: the `logs` fixture sets
# moto's clock to a day after WALL, and the sink's wall clock is moved by each test.
WALL = NOW.replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
WALL_MS = int(WALL.timestamp() * 1000)


class Wall:
    """A wall clock the test moves."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def entry(action: str, what: str, count: int | None = None, **fields) -> audit.Entry:
    return audit.make_entry(
        user="oli", roles="ops", via="alb", action=action, what=what, count=count, **fields
    )


@pytest.fixture
def logs(monkeypatch):
    monkeypatch.setattr("moto.logs.models.utcnow", lambda: (WALL + timedelta(days=1)).replace(tzinfo=None))
    with mock_aws():
        client = boto3.client("logs", region_name=REGION)
        client.create_log_group(logGroupName=GROUP)
        yield client


def test_entries_are_written_as_json_and_read_back_newest_first(logs):
    wall = Wall(WALL_MS - 3 * DAY_MS)
    sink = CloudWatchLogsSink(logs, GROUP, wall_ms=wall)
    sink.write(entry("sign-in", "alb"))
    wall.ms += 1000
    sink.write(entry("redrive", "crm-webhook-dlq", 3))
    wall.ms = WALL_MS  # three days later: a stream for that day
    sink.write(entry("replay", "verticals-all", 120))
    sink.write(entry("redrive", "ops-dlq", 1, outcome="refused"))  # the same millisecond

    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=GROUP)["logStreams"]]
    assert sorted(streams) == [stream_name(WALL_MS - 3 * DAY_MS), stream_name(WALL_MS)]
    assert stream_name(WALL_MS) == WALL.strftime("%Y/%m/%d")
    event = logs.get_log_events(logGroupName=GROUP, logStreamName=stream_name(WALL_MS))["events"][0]
    assert json.loads(event["message"]) == json.loads(audit.to_json(entry("replay", "verticals-all", 120)))

    entries = sink.read()
    assert [(e.action, e.what, e.count, e.outcome) for e in entries] == [
        ("redrive", "ops-dlq", 1, "refused"),
        ("replay", "verticals-all", 120, "done"),
        ("redrive", "crm-webhook-dlq", 3, "done"),
        ("sign-in", "alb", None, "done"),
    ]
    assert [e.action for e in sink.read(limit=2)] == ["redrive", "replay"]
    assert sink.where == f"CloudWatch Logs {GROUP}"


def test_reading_widens_the_window_until_the_limit_is_found_and_skips_what_does_not_parse(logs):
    old = WALL_MS - 12 * DAY_MS  # outside the first two windows (a day, a week)
    wall = Wall(old)
    sink = CloudWatchLogsSink(logs, GROUP, wall_ms=wall)
    sink.write(entry("sign-in", "old"))
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream_name(old),
        logEvents=[{"timestamp": old + 1, "message": "not json"}],
    )
    reader = CloudWatchLogsSink(logs, GROUP, wall_ms=Wall(WALL_MS))
    assert [e.what for e in reader.read()] == ["old"]
    wall.ms = WALL_MS - 60_000
    sink.write(entry("sign-in", "new"))
    assert [e.what for e in reader.read(limit=1)] == ["new"]
    assert [e.what for e in reader.read()] == ["new", "old"]


def test_a_missing_group_is_one_sentence_not_a_lost_exception(logs):
    sink = CloudWatchLogsSink(logs, "no-such-group", wall_ms=Wall(WALL_MS))
    with pytest.raises(audit.AuditError, match=r"no-such-group|not exist|ResourceNotFound"):
        sink.write(entry("sign-in", "alb"))
    with pytest.raises(audit.AuditError):
        sink.read()


def test_the_aws_backend_keeps_the_trail_in_the_stacks_log_group(aws_settings):  # noqa: F811
    settings, outputs = aws_settings
    assert outputs["AuditLogGroupName"] == GROUP
    parts = build_aws_parts(settings)
    assert isinstance(parts.audit, CloudWatchLogsSink) and parts.audit.group == GROUP
    retention = boto3.client("logs", region_name=REGION).describe_log_groups(logGroupNamePrefix=GROUP)
    assert [g.get("retentionInDays") for g in retention["logGroups"]] == [400]
    parts.audit.write(entry("redrive", "crm-webhook-dlq", 3))
    assert [(e.user, e.what, e.count) for e in parts.audit.read()] == [("oli", "crm-webhook-dlq", 3)]

    # The setting names another group; without either the trail stays in the local file.
    other = build_aws_parts(settings.replace(audit_log_group="elsewhere"))
    assert isinstance(other.audit, CloudWatchLogsSink) and other.audit.group == "elsewhere"
    bare = build_aws_parts(settings.replace(stack="", lake_bucket=outputs["LakeBucket"]))
    assert bare.audit == audit.FileSink(audit.audit_path(settings))


def test_the_local_backend_keeps_the_trail_in_the_file(tmp_path):
    settings = load_settings({"VERTICALS_LAKE": str(tmp_path / "lake")})
    ctx = build_local_context(settings)
    assert ctx.audit == audit.FileSink(tmp_path / "bus" / "audit.jsonl")


@dataclass(frozen=True)
class Redriven:
    sentence: str


def test_a_failed_write_warns_and_the_action_stands(logs, monkeypatch, tmp_path):
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(ui.st, "warning", lambda text, **_: shown.append(("warning", text)))
    monkeypatch.setattr(ui.st, "error", lambda text, **_: shown.append(("error", text)))
    monkeypatch.setattr(ui, "current_user", lambda: User("oli", frozenset({"ops"}), "alb"))
    ctx = build_local_context(load_settings({"VERTICALS_LAKE": str(tmp_path / "lake")}))
    ctx = replace(ctx, audit=CloudWatchLogsSink(logs, "no-such-group", wall_ms=Wall(WALL_MS)))
    done = []

    def redrive(_ctx, queue):
        done.append(queue)
        return Redriven("3 of 3 messages delivered again.")

    result = ui.act_as(
        "redrive",
        "redrive",
        redrive,
        ctx,
        "crm-webhook-dlq",
        what="redrive",
        target="crm-webhook-dlq",
        count=3,
    )
    assert result == Redriven("3 of 3 messages delivered again.") and done == ["crm-webhook-dlq"]
    assert [kind for kind, _ in shown] == ["warning"]
    assert shown[0][1].startswith("The audit trail could not be written: ")


def test_an_entry_cloudwatch_rejects_is_an_error_not_silence(logs):
    sink = CloudWatchLogsSink(logs, GROUP, wall_ms=Wall(WALL_MS - 30 * DAY_MS))  # older than 14 days
    with pytest.raises(audit.AuditError, match="rejected the entry for prod-audit"):
        sink.write(entry("sign-in", "alb"))
