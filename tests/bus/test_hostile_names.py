"""Names that become paths, sent as an attacker would through boto3 to ``bus serve``: each
is refused with one sentence, or stored under a name that cannot leave the bus's state
folder; a walk of the file system around the bus finds nothing new outside the lake and
state folders."""

import json
import os
from pathlib import Path

import botocore.exceptions
import pytest

from tests.bus.server_helpers import running_bus, write_definition

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bus-server")]

BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/test-bus"
HOSTILE_QUEUES = ["../../escaped", "a/b", "..", "x" * 81, "q.jsonl", "", "q\x00"]


def files_under(root: Path) -> set[Path]:
    return {Path(folder, name) for folder, _, names in os.walk(root) for name in names}


def outside(root: Path, files: set[Path]) -> set[Path]:
    allowed = (root / "lake", root / "bus")
    return {f for f in files if not any(a == f or a in f.parents for a in allowed)}


def test_hostile_queue_and_archive_names_stay_inside_the_state_folder(tmp_path):
    definition = write_definition(tmp_path)
    with running_bus(tmp_path, definition) as bus:
        events = bus.client()
        before = files_under(tmp_path)
        events.put_rule(Name="r", EventBusName="test-bus", EventPattern=json.dumps({"source": ["shop"]}))
        for queue in HOSTILE_QUEUES:
            arn = f"arn:aws:sqs:us-east-1:123456789012:{queue}"
            with pytest.raises(botocore.exceptions.ClientError) as refused:
                events.put_targets(
                    Rule="r",
                    EventBusName="test-bus",
                    Targets=[{"Id": "t", "Arn": arn, "DeadLetterConfig": {"Arn": arn}}],
                )
            assert refused.value.response["Error"]["Code"] == "ValidationException"
            assert "is not an SQS queue ARN" in refused.value.response["Error"]["Message"]
        for name in ("..", "."):  # names EventBridge's own pattern allows
            events.create_archive(ArchiveName=name, EventSourceArn=BUS_ARN)
            events.put_events(Entries=[{"Source": "shop", "DetailType": "OrderPlaced", "Detail": "{}"}])
            events.delete_archive(ArchiveName=name)
        events.put_events(Entries=[{"Source": "shop", "DetailType": "OrderPlaced", "Detail": "{}"}])
        assert bus.process is not None and bus.process.poll() is None
        new = files_under(tmp_path) - before
    assert not outside(tmp_path, new), sorted(map(str, outside(tmp_path, new)))
    assert definition.exists()  # DeleteArchive of ".." removed nothing above the archives


def _signed(bus, operation: str, body: dict, region: str) -> tuple[int, dict]:
    """A request whose SigV4 credential scope names ``region`` (botocore checks a region's
    spelling; an attacker does not use botocore)."""
    import requests

    answer = requests.post(
        bus.url,
        data=json.dumps(body),
        headers={
            "X-Amz-Target": f"AWSEvents.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=AKID/20261206/{region}/events/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
        timeout=10,
    )
    return answer.status_code, answer.json()


def test_bus_names_of_dots_and_hostile_regions_stay_inside_the_bus_state(tmp_path):
    definition = write_definition(tmp_path)
    with running_bus(tmp_path, definition) as bus:
        events = bus.client()
        events.put_rule(Name="r", EventBusName="test-bus", EventPattern=json.dumps({"source": ["shop"]}))
        state = tmp_path / "bus"
        kept = {p for p in files_under(state) if "buses" not in p.parts}  # the journal, rules, …
        for name in ("..", ".", "b" * 256):  # names EventBridge's own pattern allows
            events.create_event_bus(Name=name)  # 256 letters: a 500 before (too long for a folder)
            events.put_rule(Name="own", EventBusName=name, EventPattern=json.dumps({"source": ["x"]}))
            assert [r["Name"] for r in events.list_rules(EventBusName=name)["Rules"]] == ["own"]
            events.delete_event_bus(Name=name)
        for region in ("..", ".", "r" * 256, "a\x00b", "US-EAST-1"):
            for operation, body in (("CreateEventBus", {"Name": ".."}), ("ListEventBuses", {})):
                status, answer = _signed(bus, operation, body, region)
                assert status == 400 and answer["__type"] == "InvalidSignatureException", (region, answer)
                assert "valid region" in answer["message"]
        arn = "arn:aws:events:" + "r" * 300 + ":123456789012:event-bus/default"
        status, answer = _signed(bus, "PutRule", {"Name": "x", "EventBusName": arn}, "us-east-1")
        assert status == 400 and "valid region" in answer["message"]
        for name in ("x\n", "r\n"):  # a trailing newline passed ^…$
            with pytest.raises(botocore.exceptions.ClientError):
                events.create_event_bus(Name=name)
        assert kept <= files_under(state), sorted(map(str, kept - files_under(state)))
        assert [r["Name"] for r in events.list_rules(EventBusName="test-bus")["Rules"]] == ["r"]
        assert definition.exists()
    # The state it left starts a server again (a bad region in buses.json stopped every start).
    with running_bus(tmp_path, definition) as bus:
        assert [r["Name"] for r in bus.client().list_rules(EventBusName="test-bus")["Rules"]] == ["r"]
