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
