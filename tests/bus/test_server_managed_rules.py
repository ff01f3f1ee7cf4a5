"""The managed rule ``Events-Archive-<archive>`` of every archive, through unmodified boto3
against ``bus serve`` (issue 11). Its shape follows moto's events backend and tests (the
rule's ``ManagedBy``, its pattern: the archive's with ``"replay-name": [{"exists": false}]``
added); ``ManagedRuleException`` is the API reference's error for changing a managed rule.
Assertions marked ``# local-only`` hold for the local bus and are not known for AWS."""

import json

import botocore.exceptions
import pytest

from tests.bus.server_helpers import BusProcess, http_consumer, wait_for, write_definition
from tests.bus.test_server_api import client, error

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bus-server")]

PATTERN = '{"source": ["shop"]}'
REPLAY_NAME_ABSENT = {"replay-name": [{"exists": False}]}


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("managed")
    process = BusProcess(tmp, write_definition(tmp)).start()
    yield process
    process.stop()


def test_create_archive_makes_its_managed_rule_on_the_archives_bus(bus):
    events = client(bus)
    bus_arn = events.describe_event_bus()["Arn"]
    events.create_archive(ArchiveName="managed-a", EventSourceArn=bus_arn, EventPattern=PATTERN)

    described = events.describe_rule(Name="Events-Archive-managed-a")
    listed = events.list_rules(NamePrefix="Events-Archive-managed-a")["Rules"]

    assert described["Name"] == "Events-Archive-managed-a"
    assert described["Arn"] == bus_arn.replace("event-bus/default", "rule/Events-Archive-managed-a")
    assert described["ManagedBy"] == "prod.vhs.events.aws.internal"
    assert described["State"] == "ENABLED"
    assert described["EventBusName"] == "default"
    assert json.loads(described["EventPattern"]) == {**json.loads(PATTERN), **REPLAY_NAME_ABSENT}
    assert "Description" not in described
    # ListRules' Rule has DescribeRule's fields but CreatedBy (API reference)
    assert listed == [{k: v for k, v in described.items() if k not in ("ResponseMetadata", "CreatedBy")}]
    events.delete_archive(ArchiveName="managed-a")


def test_an_archive_of_every_event_and_one_on_a_custom_bus(bus):
    events = client(bus)
    events.create_event_bus(Name="managed-custom")
    custom_arn = events.describe_event_bus(Name="managed-custom")["Arn"]
    events.create_archive(ArchiveName="managed-all", EventSourceArn=custom_arn)

    described = events.describe_rule(Name="Events-Archive-managed-all", EventBusName="managed-custom")

    assert json.loads(described["EventPattern"]) == REPLAY_NAME_ABSENT
    assert described["EventBusName"] == "managed-custom"
    assert described["Arn"].endswith(":rule/managed-custom/Events-Archive-managed-all")
    assert "Events-Archive-managed-all" not in [r["Name"] for r in events.list_rules()["Rules"]]
    events.delete_archive(ArchiveName="managed-all")
    events.delete_event_bus(Name="managed-custom")


def test_delete_archive_removes_its_managed_rule(bus):
    events = client(bus)
    events.create_archive(ArchiveName="managed-gone", EventSourceArn=events.describe_event_bus()["Arn"])
    events.delete_archive(ArchiveName="managed-gone")

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.describe_rule(Name="Events-Archive-managed-gone")

    assert error(excinfo)[0] == "ResourceNotFoundException"
    assert events.list_rules(NamePrefix="Events-Archive-managed-gone")["Rules"] == []


@pytest.mark.parametrize(
    "operation, arguments",
    [
        ("delete_rule", {"Name": "Events-Archive-managed-b"}),
        (
            "put_targets",
            {
                "Rule": "Events-Archive-managed-b",
                "Targets": [{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"}],
            },
        ),
        ("remove_targets", {"Rule": "Events-Archive-managed-b", "Ids": ["Events-Archive-managed-b"]}),
        ("put_rule", {"Name": "Events-Archive-managed-b", "EventPattern": PATTERN}),
        ("disable_rule", {"Name": "Events-Archive-managed-b"}),
    ],
)
def test_changing_a_managed_rule_is_a_managed_rule_exception(bus, operation, arguments):
    events = client(bus)
    events.create_archive(ArchiveName="managed-b", EventSourceArn=events.describe_event_bus()["Arn"])
    try:
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            getattr(events, operation)(**arguments)
        code, message, status = error(excinfo)
        assert (code, status) == ("ManagedRuleException", 400)
        assert message.startswith("Events-Archive-managed-b is a managed rule.")  # local-only wording
        assert events.describe_rule(Name="Events-Archive-managed-b")["State"] == "ENABLED"
    finally:
        events.delete_archive(ArchiveName="managed-b")


def test_force_on_a_managed_rule_is_refused_while_the_archive_exists(bus):
    # local-only: EventBridge deletes the rule (and the archive stops receiving events)
    events = client(bus)
    events.create_archive(ArchiveName="managed-f", EventSourceArn=events.describe_event_bus()["Arn"])
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.delete_rule(Name="Events-Archive-managed-f", Force=True)
    assert error(excinfo)[0] == "ValidationException"
    assert events.describe_rule(Name="Events-Archive-managed-f")["ManagedBy"]
    events.delete_archive(ArchiveName="managed-f")


def test_the_managed_rule_neither_changes_the_archive_nor_delivers_twice(tmp_path):
    # local-only: the consumer is a 127.0.0.1 URL target
    with http_consumer(200) as consumer:
        process = BusProcess(tmp_path, write_definition(tmp_path)).start()
        try:
            events = client(process)
            events.create_archive(
                ArchiveName="managed-count",
                EventSourceArn=events.describe_event_bus()["Arn"],
                EventPattern=PATTERN,
            )
            events.put_rule(Name="to-consumer", EventPattern=PATTERN)
            events.put_targets(Rule="to-consumer", Targets=[{"Id": "c", "Arn": consumer.url}])
            targets = events.list_targets_by_rule(Rule="Events-Archive-managed-count")["Targets"]
            assert [t["Id"] for t in targets] == ["Events-Archive-managed-count"]

            entries = [
                {"Source": "shop", "DetailType": "OrderPlaced", "Detail": json.dumps({"n": n})}
                for n in range(3)
            ]
            assert events.put_events(Entries=entries)["FailedEntryCount"] == 0

            assert wait_for(lambda: events.describe_archive(ArchiveName="managed-count")["EventCount"] == 3)
            assert wait_for(lambda: len(consumer.bodies) == 3)
            # A later event that reaches the consumer proves the first three were all it got.
            events.put_events(Entries=[{**entries[0], "Detail": json.dumps({"n": "last"})}])
            assert wait_for(lambda: len(consumer.bodies) == 4)
            assert sorted(str(b["detail"]["n"]) for b in consumer.bodies) == ["0", "1", "2", "last"]
            assert events.describe_archive(ArchiveName="managed-count")["EventCount"] == 4
        finally:
            process.stop()
