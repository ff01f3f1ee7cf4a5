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
