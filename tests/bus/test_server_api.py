"""``bus serve`` answers as EventBridge does (issue 11), checked through unmodified boto3:
errors and paging tokens, resources returned as created, event buses, accounts and regions."""

import json
from datetime import timedelta

import botocore.exceptions
import pytest

from tests.bus.events_target import local_only
from tests.instant import NOW

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bus-server")]

EVENT = {
    "id": "1",
    "account": "123456789012",
    "source": "shop",
    "time": "2026-12-06T10:00:00Z",
    "region": "us-east-1",
    "detail-type": "OrderPlaced",
    "detail": {},
}


# The `bus` fixture (tests/bus/conftest.py): `bus serve`, or real EventBridge when
# VERTICALS_EVENTS_TARGET=aws (docs/testing.md).
def client(bus, region="us-east-1", key="x"):
    return bus.client(region=region, key=key)


def error(excinfo) -> tuple[str, str, int]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


# -- 1. errors and tokens -----------------------------------------------------------------
@pytest.mark.parametrize(
    "operation, args",
    [
        ("list_rules", {}),
        ("list_targets_by_rule", {"Rule": "tokens"}),
        ("list_archives", {}),
        ("list_replays", {}),
    ],
)
@pytest.mark.parametrize("token", ["not-a-token", "99999", "-1"])
def test_an_invalid_next_token_is_a_validation_error_never_a_server_error(bus, operation, args, token):
    events = client(bus)
    events.put_rule(Name="tokens", EventPattern='{"source": ["a"]}')
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        getattr(events, operation)(NextToken=token, **args)
    assert error(excinfo) == ("ValidationException", "The NextToken provided is not valid.", 400)


def test_tokens_the_bus_gives_page_through_every_rule(bus):
    events = client(bus)
    for name in ("page-a", "page-b", "page-c"):
        events.put_rule(Name=name, EventPattern='{"source": ["a"]}')
    names, token = [], None
    while True:
        page = events.list_rules(NamePrefix="page-", Limit=2, **({"NextToken": token} if token else {}))
        names += [r["Name"] for r in page["Rules"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == ["page-a", "page-b", "page-c"]


def test_delete_rule_of_an_unknown_rule_answers_200(bus):
    response = client(bus).delete_rule(Name="never-created")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize(
    "pattern, reason",
    [
        (
            "{'bad': 'quotation'}",
            "Unexpected character (''' (code 39)): was expecting double-quote to start field name",
        ),
        ('{"not": closed mark"', "Unrecognized token 'closed'"),
        ("this is valid json but not a dict", "Unrecognized token 'this'"),
        ('["not", "a", "dict"]', "Filter is not an object"),
    ],
)
def test_an_invalid_json_pattern_is_worded_as_eventbridge_words_it(bus, pattern, reason):
    for call in (
        lambda: client(bus).put_rule(Name="bad", EventPattern=pattern),
        lambda: client(bus).test_event_pattern(EventPattern=pattern, Event=json.dumps(EVENT)),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            call()
        code, message, status = error(excinfo)
        assert (code, status) == ("InvalidEventPatternException", 400)
        assert message.startswith("Event pattern is not valid. Reason: ") and reason in message
        assert "Expecting" not in message and "char " not in message  # no Python json text


def test_eleven_entries_are_refused_with_eventbridge_s_message(bus):
    entry = {"Source": "shop", "DetailType": "OrderPlaced", "Detail": '{"a": 1}'}
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(bus).put_events(Entries=[entry] * 11)
    code, message, status = error(excinfo)
    listed = ", ".join(
        [
            "PutEventsRequestEntry(time=null, source=shop, resources=null, detailType=OrderPlaced, "
            'detail={"a": 1}, eventBusName=null, traceHeader=null, kmsKeyIdentifier=null, '
            "internalMetadata=null)"
        ]
        * 11
    )
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        f"1 validation error detected: Value '[{listed}]' at 'entries' failed to satisfy "
        "constraint: Member must have length less than or equal to 10"
    )


@pytest.mark.parametrize("missing", ["id", "account", "source", "time", "region", "detail-type"])
def test_test_event_pattern_needs_the_mandatory_event_fields(bus, missing):
    event = {k: v for k, v in EVENT.items() if k != missing}
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(bus).test_event_pattern(EventPattern='{"source": ["shop"]}', Event=json.dumps(event))
    assert error(excinfo) == ("ValidationException", "Parameter Event is not valid.", 400)


def test_test_event_pattern_accepts_an_event_without_resources(bus):
    event = {k: v for k, v in EVENT.items() if k != "resources"}
    result = client(bus).test_event_pattern(EventPattern='{"source": ["shop"]}', Event=json.dumps(event))
    assert result["Result"] is True
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(bus).test_event_pattern(EventPattern='{"source": ["shop"]}', Event='"plain string"')
    assert error(excinfo) == ("ValidationException", "Parameter Event is not valid.", 400)


# -- 2. resources come back as they were created ------------------------------------------
def test_rules_targets_and_archives_come_back_byte_for_byte(bus):
    events = client(bus)
    pattern = '{"key": ["value"],  "n": [1.50]}'
    events.put_rule(
        Name="as-sent",
        EventPattern=pattern,
        Description="kept as sent",
        RoleArn="arn:aws:iam::111111111111:role/r",
    )
    described = events.describe_rule(Name="as-sent")
    assert (described["EventPattern"], described["Description"], described["RoleArn"]) == (
        pattern,
        "kept as sent",
        "arn:aws:iam::111111111111:role/r",
    )
    listed = next(r for r in events.list_rules(NamePrefix="as-sent")["Rules"])
    assert listed["EventPattern"] == pattern
    targets = [
        {
            "Id": "q",
            "Arn": "arn:aws:sqs:us-west-2:111111111111:q1",
            "RoleArn": "arn:aws:iam::111111111111:role/t",
            "DeadLetterConfig": {"Arn": "arn:aws:sqs:eu-west-1:222222222222:dlq"},
            "InputPath": "$.detail",
        },
        {"Id": "log", "Arn": "arn:aws:logs:us-east-1:123456789012:log-group:/my/app-logs"},
        {"Id": "lake", "Arn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/my-stream"},
        {"Id": "c", "Arn": "arn:aws:sqs:us-east-1:123456789012:c", "Input": '{"a": 1}'},
    ]
    events.put_targets(Rule="as-sent", Targets=targets)
    got = {t["Id"]: t for t in events.list_targets_by_rule(Rule="as-sent")["Targets"]}
    for sent in targets:
        assert {k: got[sent["Id"]][k] for k in sent} == sent
    events.remove_targets(Rule="as-sent", Ids=[t["Id"] for t in targets])

    archive_pattern = '{"source": [ "shop" ]}'
    events.create_archive(
        ArchiveName="as-sent",
        EventSourceArn="arn:aws:events:us-east-1:123456789012:event-bus/test-bus",
        EventPattern=archive_pattern,
    )
    assert events.describe_archive(ArchiveName="as-sent")["EventPattern"] == archive_pattern
    events.update_archive(ArchiveName="as-sent", EventPattern='{"source":  ["b"]}')
    assert events.describe_archive(ArchiveName="as-sent")["EventPattern"] == '{"source":  ["b"]}'
    events.delete_archive(ArchiveName="as-sent")


def test_a_rule_matches_by_the_text_it_was_given(bus):
    # Duplicate keys: the last one wins, as EventBridge reads the text (json.loads would too,
    # but a pattern re-serialized from data could not keep both).
    events = client(bus)
    events.put_rule(Name="dupes", EventPattern='{"source": ["a"], "source": ["shop"]}')
    assert events.describe_rule(Name="dupes")["EventPattern"] == '{"source": ["a"], "source": ["shop"]}'


# -- 3. event buses -----------------------------------------------------------------------
def test_the_default_bus_exists_and_custom_buses_come_and_go(bus):
    events = client(bus)
    default = events.describe_event_bus()
    assert (default["Name"], default["Arn"]) == (
        "default",
        "arn:aws:events:us-east-1:123456789012:event-bus/default",
    )
    assert events.describe_event_bus(Name=default["Arn"])["Name"] == "default"
    names = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert {"default", "test-bus"} <= set(names) and names == sorted(names)

    arn = events.create_event_bus(Name="orders-bus", Description="orders")["EventBusArn"]
    assert arn == "arn:aws:events:us-east-1:123456789012:event-bus/orders-bus"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.create_event_bus(Name="orders-bus")
    assert error(excinfo) == ("ResourceAlreadyExistsException", "Event bus orders-bus already exists.", 400)
    assert events.describe_event_bus(Name="orders-bus")["Description"] == "orders"
    assert [b["Name"] for b in events.list_event_buses(NamePrefix="orders")["EventBuses"]] == ["orders-bus"]
    events.update_event_bus(Name="orders-bus", Description="all orders")
    assert events.describe_event_bus(Name=arn)["Description"] == "all orders"

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.delete_event_bus(Name="default")
    assert error(excinfo) == ("ValidationException", "Cannot delete event bus default.", 400)
    events.delete_event_bus(Name="orders-bus")
    events.delete_event_bus(Name="orders-bus")  # 200 for a bus that does not exist
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.describe_event_bus(Name="orders-bus")
    assert error(excinfo) == ("ResourceNotFoundException", "Event bus orders-bus does not exist.", 400)


def test_rule_arns_have_eventbridge_s_shape_and_every_operation_takes_a_bus_by_name_or_arn(bus):
    events = client(bus)
    arn = events.create_event_bus(Name="shapes")["EventBusArn"]
    assert events.put_rule(Name="on-default", EventPattern='{"source": ["a"]}')["RuleArn"] == (
        "arn:aws:events:us-east-1:123456789012:rule/on-default"
    )
    assert events.put_rule(Name="on-custom", EventPattern='{"source": ["a"]}', EventBusName=arn)[
        "RuleArn"
    ] == ("arn:aws:events:us-east-1:123456789012:rule/shapes/on-custom")
    described = events.describe_rule(Name="on-custom", EventBusName="shapes")
    assert (described["EventBusName"], described["Arn"]) == (
        "shapes",
        "arn:aws:events:us-east-1:123456789012:rule/shapes/on-custom",
    )
    assert [r["Name"] for r in events.list_rules(EventBusName=arn)["Rules"]] == ["on-custom"]
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.describe_rule(Name="on-custom")  # not on the default bus
    assert error(excinfo) == (
        "ResourceNotFoundException",
        "Rule on-custom does not exist on EventBus default.",
        400,
    )
    events.disable_rule(Name="on-custom", EventBusName=arn)
    assert events.describe_rule(Name="on-custom", EventBusName=arn)["State"] == "DISABLED"
    events.delete_rule(Name="on-custom", EventBusName=arn)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.list_rules(EventBusName="no-such-bus")
    assert error(excinfo) == ("ResourceNotFoundException", "Event bus no-such-bus does not exist.", 400)


@local_only("its targets are http:// URLs, a local extension")
def test_put_events_honours_each_entry_s_bus(bus, tmp_path):
    import time

    from tests.bus.server_helpers import http_consumer

    events = client(bus)
    events.create_event_bus(Name="routed")
    with http_consumer(200) as on_default, http_consumer(200) as on_custom:
        events.put_rule(Name="route-d", EventPattern='{"source": ["route"]}')
        events.put_targets(Rule="route-d", Targets=[{"Id": "c", "Arn": on_default.url}])
        events.put_rule(Name="route-c", EventPattern='{"source": ["route"]}', EventBusName="routed")
        events.put_targets(Rule="route-c", EventBusName="routed", Targets=[{"Id": "c", "Arn": on_custom.url}])
        entry = {"Source": "route", "DetailType": "t", "Detail": "{}"}
        response = events.put_events(
            Entries=[
                {**entry, "Detail": '{"n": 1}'},
                {**entry, "Detail": '{"n": 2}', "EventBusName": "routed"},
                {**entry, "Detail": '{"n": 3}', "EventBusName": "no-such-bus"},
                {**entry, "Detail": "{broken", "EventBusName": "no-such-bus"},
            ]
        )
        # An entry for a bus that does not exist gets an EventId and goes nowhere (as EventBridge).
        assert response["FailedEntryCount"] == 1
        assert [("EventId" in e, e.get("ErrorCode")) for e in response["Entries"]] == [
            (True, None),
            (True, None),
            (True, None),
            (False, "MalformedDetail"),
        ]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (on_default.bodies and on_custom.bodies):
            time.sleep(0.1)
        time.sleep(0.5)
        assert [b["detail"]["n"] for b in on_default.bodies] == [1]
        assert [b["detail"]["n"] for b in on_custom.bodies] == [2]
    events.remove_targets(Rule="route-d", Ids=["c"])


# -- 4. accounts and regions --------------------------------------------------------------
@local_only("the account comes from the access key (the local convention)")
def test_accounts_and_regions_come_from_the_request_and_are_isolated(bus):
    frankfurt = client(bus, region="eu-central-1", key="111111111111")
    assert (
        frankfurt.describe_event_bus()["Arn"] == "arn:aws:events:eu-central-1:111111111111:event-bus/default"
    )
    assert frankfurt.put_rule(Name="fra", EventPattern='{"source": ["a"]}')["RuleArn"] == (
        "arn:aws:events:eu-central-1:111111111111:rule/fra"
    )
    assert [b["Name"] for b in frankfurt.list_event_buses()["EventBuses"]] == ["default"]
    # The same account elsewhere, another account in the same region: none of it.
    for other in (client(bus, region="us-west-2", key="111111111111"), client(bus, region="eu-central-1")):
        assert "fra" not in [r["Name"] for r in other.list_rules()["Rules"]]
    # A key that is not 12 digits is the default account.
    assert client(bus, region="eu-central-1", key="AKIDEXAMPLE").describe_event_bus()["Arn"] == (
        "arn:aws:events:eu-central-1:123456789012:event-bus/default"
    )

    archive = frankfurt.create_archive(
        ArchiveName="fra-archive", EventSourceArn="arn:aws:events:eu-central-1:111111111111:event-bus/default"
    )["ArchiveArn"]
    assert archive == "arn:aws:events:eu-central-1:111111111111:archive/fra-archive"
    now = NOW
    replay = frankfurt.start_replay(
        ReplayName="fra-replay",
        EventSourceArn=archive,
        EventStartTime=now - timedelta(minutes=5),
        EventEndTime=now,
        Destination={"Arn": "arn:aws:events:eu-central-1:111111111111:event-bus/default"},
    )
    assert replay["ReplayArn"] == "arn:aws:events:eu-central-1:111111111111:replay/fra-replay"
    assert [a["ArchiveName"] for a in frankfurt.list_archives()["Archives"]] == ["fra-archive"]
    assert "fra-archive" not in [a["ArchiveName"] for a in client(bus).list_archives()["Archives"]]


def test_start_replay_checks_in_eventbridge_s_order(bus):
    events = client(bus)
    events.create_event_bus(Name="replay-other")
    default = "arn:aws:events:us-east-1:123456789012:event-bus/default"
    archive = events.create_archive(ArchiveName="order-checks", EventSourceArn=default)["ArchiveArn"]
    now = NOW
    window = {"EventStartTime": now - timedelta(minutes=1), "EventEndTime": now}

    def refused(**request):
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            events.start_replay(**{"ReplayName": "checks", "EventSourceArn": archive, **window, **request})
        return error(excinfo)[:2]

    # The window before the destination: an empty window to another bus is about the window.
    assert refused(
        EventStartTime=now, EventEndTime=now - timedelta(seconds=10), Destination={"Arn": "x"}
    ) == (
        "ValidationException",
        "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.",
    )
    assert refused(
        EventSourceArn="arn:aws:events:us-east-1:123456789012:archive/missing", Destination={"Arn": default}
    ) == (
        "ValidationException",
        "Parameter EventSourceArn is not valid. Reason: Archive missing does not exist.",
    )
    assert refused(Destination={"Arn": "arn:aws:events:us-east-1:123456789012:event-bus/nope"}) == (
        "ResourceNotFoundException",
        "Event bus nope does not exist.",
    )
    assert refused(Destination={"Arn": "arn:aws:events:us-east-1:123456789012:event-bus/replay-other"}) == (
        "ValidationException",
        "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.",
    )
    events.start_replay(ReplayName="checks", EventSourceArn=archive, Destination={"Arn": default}, **window)
    # A replay of that name, whatever else is wrong.
    assert refused(Destination={"Arn": "x"}, EventSourceArn="x") == (
        "ResourceAlreadyExistsException",
        "Replay checks already exists.",
    )


# -- 5. replay lifecycle ------------------------------------------------------------------
@local_only("the replay timings are ServerConfig.replay_starting_s; EventBridge's take minutes")
def test_a_replay_can_be_seen_starting_and_cancelling(bus):
    import time

    events = client(bus)
    default = "arn:aws:events:us-east-1:123456789012:event-bus/default"
    archive = events.create_archive(ArchiveName="lifecycle", EventSourceArn=default)["ArchiveArn"]
    now = NOW
    window = {"EventStartTime": now - timedelta(minutes=1), "EventEndTime": now}
    started = events.start_replay(
        ReplayName="lifecycle", EventSourceArn=archive, Destination={"Arn": default}, **window
    )
    assert started["State"] == "STARTING"
    assert events.describe_replay(ReplayName="lifecycle")["State"] == "STARTING"
    assert events.cancel_replay(ReplayName="lifecycle")["State"] == "CANCELLING"
    assert events.describe_replay(ReplayName="lifecycle")["State"] == "CANCELLING"
    deadline = time.monotonic() + 10
    while (
        events.describe_replay(ReplayName="lifecycle")["State"] != "CANCELLED" and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert events.describe_replay(ReplayName="lifecycle")["State"] == "CANCELLED"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.cancel_replay(ReplayName="lifecycle")
    assert error(excinfo)[0] == "IllegalStatusException"

    events.start_replay(
        ReplayName="runs-through", EventSourceArn=archive, Destination={"Arn": default}, **window
    )
    deadline = time.monotonic() + 10
    while (
        events.describe_replay(ReplayName="runs-through")["State"] != "COMPLETED"
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert events.describe_replay(ReplayName="runs-through")["State"] == "COMPLETED"


def test_list_rule_names_by_target(bus):
    events = client(bus)
    queue = "arn:aws:sqs:us-west-2:111111111111:by-target"
    for name in ("by-target-b", "by-target-a", "by-target-none"):
        events.put_rule(Name=name, EventPattern='{"source": ["a"]}')
    for name in ("by-target-b", "by-target-a"):
        events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": queue}])
    assert events.list_rule_names_by_target(TargetArn=queue)["RuleNames"] == ["by-target-a", "by-target-b"]
    page = events.list_rule_names_by_target(TargetArn=queue, Limit=1)
    assert page["RuleNames"] == ["by-target-a"]
    rest = events.list_rule_names_by_target(TargetArn=queue, NextToken=page["NextToken"])
    assert rest["RuleNames"] == ["by-target-b"]
    for name in ("by-target-b", "by-target-a"):
        events.remove_targets(Rule=name, Ids=["q"])


def test_rules_and_buses_take_tags(bus):
    events = client(bus)
    rule_arn = events.put_rule(
        Name="tagged", EventPattern='{"source": ["a"]}', Tags=[{"Key": "team", "Value": "crm"}]
    )["RuleArn"]
    events.tag_resource(ResourceARN=rule_arn, Tags=[{"Key": "tier", "Value": "1"}])
    assert events.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [
        {"Key": "team", "Value": "crm"},
        {"Key": "tier", "Value": "1"},
    ]
    events.untag_resource(ResourceARN=rule_arn, TagKeys=["team"])
    assert events.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [{"Key": "tier", "Value": "1"}]
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.tag_resource(
            ResourceARN=rule_arn, Tags=[{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]
        )
    assert error(excinfo)[:2] == (
        "ValidationException",
        "Invalid parameter: Duplicated keys are not allowed.",
    )
    events.delete_rule(Name="tagged")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.list_tags_for_resource(ResourceARN=rule_arn)
    assert error(excinfo)[:2] == (
        "ResourceNotFoundException",
        "Rule tagged does not exist on EventBus default.",
    )

    bus_arn = events.create_event_bus(Name="tagged-bus", Tags=[{"Key": "env", "Value": "dev"}])["EventBusArn"]
    assert events.list_tags_for_resource(ResourceARN=bus_arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    events.delete_event_bus(Name="tagged-bus")
    events.create_event_bus(Name="tagged-bus")
    assert events.list_tags_for_resource(ResourceARN=bus_arn)["Tags"] == []  # not the deleted bus's
    events.delete_event_bus(Name="tagged-bus")
