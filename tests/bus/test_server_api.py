"""``bus serve`` answers as EventBridge does (issue 11), checked through unmodified boto3:
errors and paging tokens, resources returned as created, event buses, accounts and regions."""

import json

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from tests.bus.server_helpers import BusProcess, write_definition

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


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    process = BusProcess(tmp, write_definition(tmp)).start()
    yield process
    process.stop()


def client(bus, region="us-east-1", key="x"):
    return boto3.client(
        "events",
        endpoint_url=bus.url,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}),
    )


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
