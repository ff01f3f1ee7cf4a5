"""Connections and API destinations through unmodified boto3 against ``bus serve`` (issue 11),
written from the API reference and localstack's AWS-validated snapshots
(``test_api_destinations_and_connection.py``). Assertions marked ``# local-only`` hold for
the local bus and are not known for AWS (AWS takes HTTPS endpoints only, so the delivery
tests, to a 127.0.0.1 consumer, are local-only as a whole)."""

import base64
import json
import re

import botocore.exceptions
import pytest

from app.bus.dead_letter_source import LocalDeadLetters
from app.bus.definition import load_definition
from tests.bus.server_helpers import BusProcess, dead_letters, http_consumer, wait_for, write_definition
from tests.bus.test_server_api import client, error

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bus-server")]

DEFINITION = """\
bus: home-bus
endpoints:
  crm-webhook:
    description: Customer relations' webhook.
    url: http://127.0.0.1:9/crm
rules: []
"""
BASIC = {"BasicAuthParameters": {"Username": "user", "Password": "s3cret-pass"}}
API_KEY = {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret-key"}}
OAUTH = {
    "OAuthParameters": {
        "ClientParameters": {"ClientID": "client_id", "ClientSecret": "s3cret-client"},
        "AuthorizationEndpoint": "https://example.com/oauth",
        "HttpMethod": "POST",
    }
}
SECRETS = ("s3cret-pass", "s3cret-key", "s3cret-client", "s3cret-header")
CONNECTION_ARN = re.compile(r"^arn:aws:events:us-east-1:\d{12}:connection/[\w.-]+/[-A-Za-z0-9]+$")
DESTINATION_ARN = re.compile(r"^arn:aws:events:us-east-1:\d{12}:api-destination/[\w.-]+/[-A-Za-z0-9]+$")
SECRET_ARN = re.compile(r"^arn:aws:secretsmanager:us-east-1:\d{12}:secret:events!connection/[\w.-]+/.+$")


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("connections")
    process = BusProcess(tmp, write_definition(tmp, DEFINITION)).start()
    yield process
    process.stop()


def without_metadata(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


def assert_no_secret(answer: dict) -> None:
    text = json.dumps(answer, default=str)
    assert not any(secret in text for secret in SECRETS)


# -- connections ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, auth, state, shown",
    [
        ("BASIC", BASIC, "AUTHORIZED", {"BasicAuthParameters": {"Username": "user"}}),
        ("API_KEY", API_KEY, "AUTHORIZED", {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key"}}),
        (
            "OAUTH_CLIENT_CREDENTIALS",
            OAUTH,
            "AUTHORIZING",
            {
                "OAuthParameters": {
                    "ClientParameters": {"ClientID": "client_id"},
                    "AuthorizationEndpoint": "https://example.com/oauth",
                    "HttpMethod": "POST",
                }
            },
        ),
    ],
    ids=["basic", "api-key", "oauth"],
)
def test_create_and_describe_a_connection_answer_no_secret(bus, kind, auth, state, shown):
    events = client(bus)
    name = f"conn-{kind.lower().replace('_', '-')}"

    created = without_metadata(
        events.create_connection(Name=name, AuthorizationType=kind, AuthParameters=auth)
    )
    described = without_metadata(events.describe_connection(Name=name))

    assert set(created) == {"ConnectionArn", "ConnectionState", "CreationTime", "LastModifiedTime"}
    assert CONNECTION_ARN.match(created["ConnectionArn"])
    assert created["ConnectionState"] == state
    assert set(described) == {
        "ConnectionArn",
        "Name",
        "ConnectionState",
        "AuthorizationType",
        "SecretArn",
        "AuthParameters",
        "CreationTime",
        "LastModifiedTime",
        "LastAuthorizedTime",
    }
    assert (described["ConnectionArn"], described["Name"]) == (created["ConnectionArn"], name)
    assert (described["AuthorizationType"], described["ConnectionState"]) == (kind, state)
    assert described["AuthParameters"] == shown
    assert SECRET_ARN.match(described["SecretArn"])
    assert_no_secret(created)
    assert_no_secret(described)
    events.delete_connection(Name=name)


def test_a_secret_invocation_parameter_is_answered_without_its_value(bus):
    events = client(bus)
    headers = [
        {"Key": "x-tenant", "Value": "shop", "IsValueSecret": False},
        {"Key": "x-token", "Value": "s3cret-header", "IsValueSecret": True},
    ]
    auth = {**BASIC, "InvocationHttpParameters": {"HeaderParameters": headers}}
    events.create_connection(Name="conn-params", AuthorizationType="BASIC", AuthParameters=auth)

    shown = events.describe_connection(Name="conn-params")["AuthParameters"]["InvocationHttpParameters"]

    assert shown == {
        "HeaderParameters": [
            {"Key": "x-tenant", "Value": "shop", "IsValueSecret": False},
            {"Key": "x-token", "IsValueSecret": True},
        ]
    }
    events.delete_connection(Name="conn-params")


def test_list_connections_by_prefix_and_state(bus):
    events = client(bus)
    events.create_connection(Name="list-basic", AuthorizationType="BASIC", AuthParameters=BASIC)
    events.create_connection(
        Name="list-oauth", AuthorizationType="OAUTH_CLIENT_CREDENTIALS", AuthParameters=OAUTH
    )

    listed = events.list_connections(NamePrefix="list-")["Connections"]
    authorized = events.list_connections(NamePrefix="list-", ConnectionState="AUTHORIZED")["Connections"]

    assert [c["Name"] for c in listed] == ["list-basic", "list-oauth"]
    assert set(listed[0]) == {
        "ConnectionArn",
        "Name",
        "ConnectionState",
        "AuthorizationType",
        "CreationTime",
        "LastModifiedTime",
        "LastAuthorizedTime",
    }
    assert [c["Name"] for c in authorized] == ["list-basic"]
    for name in ("list-basic", "list-oauth"):
        events.delete_connection(Name=name)


def test_update_deauthorize_and_delete_a_connection(bus):
    events = client(bus)
    arn = events.create_connection(Name="conn-life", AuthorizationType="BASIC", AuthParameters=BASIC)[
        "ConnectionArn"
    ]

    updated = without_metadata(
        events.update_connection(
            Name="conn-life",
            AuthParameters={"BasicAuthParameters": {"Username": "new_user", "Password": "s3cret-pass"}},
        )
    )
    assert set(updated) == {
        "ConnectionArn",
        "ConnectionState",
        "CreationTime",
        "LastModifiedTime",
        "LastAuthorizedTime",
    }
    assert (updated["ConnectionArn"], updated["ConnectionState"]) == (arn, "AUTHORIZED")
    described = events.describe_connection(Name="conn-life")
    assert described["AuthParameters"]["BasicAuthParameters"] == {"Username": "new_user"}

    deauthorized = events.deauthorize_connection(Name="conn-life")
    assert deauthorized["ConnectionState"] == "DEAUTHORIZING"
    # local-only: AWS gets there after a while
    assert events.describe_connection(Name="conn-life")["ConnectionState"] == "DEAUTHORIZED"

    deleted = without_metadata(events.delete_connection(Name="conn-life"))
    assert (deleted["ConnectionArn"], deleted["ConnectionState"]) == (arn, "DELETING")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.describe_connection(Name="conn-life")
    assert error(excinfo) == (
        "ResourceNotFoundException",
        "Failed to describe the connection(s). Connection 'conn-life' does not exist.",
        400,
    )


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            {"Name": "bad-auth", "AuthorizationType": "INVALID_AUTH_TYPE", "AuthParameters": BASIC},
            "1 validation error detected: Value 'INVALID_AUTH_TYPE' at 'authorizationType' failed to "
            "satisfy constraint: Member must satisfy enum value set: "
            "[BASIC, OAUTH_CLIENT_CREDENTIALS, API_KEY]",
        ),
        (
            {"Name": "Invalid Name With Spaces!", "AuthorizationType": "BASIC", "AuthParameters": BASIC},
            "1 validation error detected: Value 'Invalid Name With Spaces!' at 'name' failed to satisfy "
            r"constraint: Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+",
        ),
    ],
    ids=["auth-type", "name"],
)
def test_create_connection_validation_errors(bus, arguments, message):
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(bus).create_connection(**arguments)
    assert error(excinfo) == ("ValidationException", message, 400)


def test_create_connection_twice_and_missing_credentials(bus):
    events = client(bus)
    events.create_connection(Name="conn-twice", AuthorizationType="BASIC", AuthParameters=BASIC)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.create_connection(Name="conn-twice", AuthorizationType="BASIC", AuthParameters=BASIC)
    assert error(excinfo)[0] == "ResourceAlreadyExistsException"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.create_connection(Name="conn-none", AuthorizationType="BASIC", AuthParameters=API_KEY)
    assert error(excinfo)[0] == "ValidationException"
    events.delete_connection(Name="conn-twice")


def test_connections_belong_to_their_account_and_region(bus):
    events = client(bus)
    events.create_connection(Name="conn-scoped", AuthorizationType="BASIC", AuthParameters=BASIC)
    for other in (client(bus, region="eu-west-1"), client(bus, key="222222222222")):
        assert "conn-scoped" not in [c["Name"] for c in other.list_connections()["Connections"]]
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            other.describe_connection(Name="conn-scoped")
        assert error(excinfo)[0] == "ResourceNotFoundException"
    events.delete_connection(Name="conn-scoped")


# -- API destinations ----------------------------------------------------------------------
def test_api_destination_create_describe_list_update_delete(bus):
    events = client(bus)
    connection = events.create_connection(
        Name="dest-conn", AuthorizationType="API_KEY", AuthParameters=API_KEY
    )
    connection_arn = connection["ConnectionArn"]

    created = without_metadata(
        events.create_api_destination(
            Name="dest-one",
            Description="Test API destination",
            ConnectionArn=connection_arn,
            InvocationEndpoint="https://example.com/api",
            HttpMethod="POST",
        )
    )
    assert set(created) == {"ApiDestinationArn", "ApiDestinationState", "CreationTime", "LastModifiedTime"}
    assert DESTINATION_ARN.match(created["ApiDestinationArn"])
    assert created["ApiDestinationState"] == "ACTIVE"

    described = without_metadata(events.describe_api_destination(Name="dest-one"))
    assert described == {
        "ApiDestinationArn": created["ApiDestinationArn"],
        "Name": "dest-one",
        "Description": "Test API destination",
        "ApiDestinationState": "ACTIVE",
        "ConnectionArn": connection_arn,
        "InvocationEndpoint": "https://example.com/api",
        "HttpMethod": "POST",
        "InvocationRateLimitPerSecond": 300,
        "CreationTime": described["CreationTime"],
        "LastModifiedTime": described["LastModifiedTime"],
    }
    listed = events.list_api_destinations(NamePrefix="dest-")["ApiDestinations"]
    assert listed == [{k: v for k, v in described.items() if k != "Description"}]

    updated = without_metadata(
        events.update_api_destination(
            Name="dest-one",
            Description="Updated API destination",
            InvocationEndpoint="https://example.com/api/v2",
            HttpMethod="PUT",
        )
    )
    assert set(updated) == set(created)
    described = events.describe_api_destination(Name="dest-one")
    assert (described["Description"], described["InvocationEndpoint"], described["HttpMethod"]) == (
        "Updated API destination",
        "https://example.com/api/v2",
        "PUT",
    )

    assert without_metadata(events.delete_api_destination(Name="dest-one")) == {}
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.describe_api_destination(Name="dest-one")
    assert error(excinfo) == (
        "ResourceNotFoundException",
        "Failed to describe the api-destination(s). An api-destination 'dest-one' does not exist.",
        400,
    )
    events.delete_connection(Name="dest-conn")


def test_a_destination_on_an_oauth_connection_is_inactive(bus):
    events = client(bus)
    arn = events.create_connection(
        Name="dest-oauth", AuthorizationType="OAUTH_CLIENT_CREDENTIALS", AuthParameters=OAUTH
    )["ConnectionArn"]
    created = events.create_api_destination(
        Name="dest-inactive",
        ConnectionArn=arn,
        InvocationEndpoint="https://example.com/api",
        HttpMethod="POST",
    )
    assert created["ApiDestinationState"] == "INACTIVE"
    events.delete_api_destination(Name="dest-inactive")
    events.delete_connection(Name="dest-oauth")


def test_create_api_destination_reports_every_invalid_parameter(bus):
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(bus).create_api_destination(
            Name="dest-bad",
            ConnectionArn="invalid-connection-arn",
            InvocationEndpoint="https://example.com/api",
            HttpMethod="INVALID_METHOD",
        )
    assert error(excinfo) == (
        "ValidationException",
        "2 validation errors detected: Value 'invalid-connection-arn' at 'connectionArn' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        r"^arn:aws([a-z]|\-)*:events:([a-z]|\d|\-)*:([0-9]{12})?:"
        r"connection\/[\.\-_A-Za-z0-9]+\/[\-A-Za-z0-9]+$; "
        "Value 'INVALID_METHOD' at 'httpMethod' failed to satisfy constraint: Member must satisfy enum "
        "value set: [HEAD, POST, PATCH, DELETE, PUT, GET, OPTIONS]",
        400,
    )


def test_the_definitions_endpoints_are_listed_read_only_in_its_account_and_region(bus):
    # local-only: infra/bus.yaml's endpoints as API destinations
    events = client(bus)
    described = events.describe_api_destination(Name="crm-webhook")
    assert described["ApiDestinationArn"].endswith(":api-destination/crm-webhook")
    assert (described["InvocationEndpoint"], described["ApiDestinationState"]) == (
        "http://127.0.0.1:9/crm",
        "ACTIVE",
    )
    assert "crm-webhook" in [d["Name"] for d in events.list_api_destinations()["ApiDestinations"]]
    for change in (events.delete_api_destination, events.update_api_destination):
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            change(Name="crm-webhook")
        assert error(excinfo)[0] == "ValidationException"
    other_region = client(bus, region="eu-west-1")
    assert "crm-webhook" not in [d["Name"] for d in other_region.list_api_destinations()["ApiDestinations"]]


# -- delivery (local-only: AWS calls HTTPS endpoints only) ---------------------------------
def setup_delivery(events, bus_name: str, url: str, method: str = "POST") -> str:
    """A BASIC connection with a header parameter, a destination at ``url``, and a rule on
    ``bus_name`` sending ``shop`` events to it; the destination's ARN."""
    auth = {**BASIC, "InvocationHttpParameters": {"HeaderParameters": [{"Key": "x-tenant", "Value": "shop"}]}}
    connection = events.create_connection(Name="deliver", AuthorizationType="BASIC", AuthParameters=auth)
    arn = events.create_api_destination(
        Name="deliver", ConnectionArn=connection["ConnectionArn"], InvocationEndpoint=url, HttpMethod=method
    )["ApiDestinationArn"]
    events.put_rule(Name="to-destination", EventPattern='{"source": ["shop"]}', EventBusName=bus_name)
    events.put_targets(Rule="to-destination", Targets=[{"Id": "api", "Arn": arn}], EventBusName=bus_name)
    return arn


def publish(events, bus_name: str, detail: dict) -> None:
    entry = {
        "Source": "shop",
        "DetailType": "OrderPlaced",
        "Detail": json.dumps(detail),
        "EventBusName": bus_name,
    }
    answer = events.put_events(Entries=[entry])
    assert answer["FailedEntryCount"] == 0


# The account's default bus, and the definition's bus (opened before the API destinations).
@pytest.mark.parametrize("bus_name", ["default", "test-bus"])
def test_a_destination_made_through_the_api_is_a_rule_target_with_its_connections_auth(tmp_path, bus_name):
    # local-only: a 127.0.0.1 consumer and a restart of `bus serve`
    with http_consumer(200) as consumer, http_consumer(200) as second:
        process = BusProcess(tmp_path, write_definition(tmp_path)).start()
        try:
            events = client(process)
            arn = setup_delivery(events, bus_name, consumer.url, method="PUT")
            targets = events.list_targets_by_rule(Rule="to-destination", EventBusName=bus_name)["Targets"]
            assert targets[0]["Arn"] == arn

            publish(events, bus_name, {"n": 1})
            assert wait_for(lambda: len(consumer.bodies) == 1)
            method, headers = consumer.requests[0]
            token = base64.b64encode(b"user:s3cret-pass").decode()
            assert (method, headers["Authorization"], headers["x-tenant"]) == (
                "PUT",
                f"Basic {token}",
                "shop",
            )
            assert consumer.bodies[0]["detail"] == {"n": 1}

            # A changed destination is used from the next delivery on.
            events.update_api_destination(Name="deliver", InvocationEndpoint=second.url, HttpMethod="POST")
            publish(events, bus_name, {"n": 2})
            assert wait_for(lambda: len(second.bodies) == 1)
            assert second.requests[0][0] == "POST"
        finally:
            process.stop()
        # The secrets are kept for deliveries in a file only its owner may read.
        assert (tmp_path / "bus" / "connections.json").stat().st_mode & 0o777 == 0o600

        # After a restart the rule still reaches the destination, with its credentials.
        process.start()
        try:
            publish(client(process), bus_name, {"n": 3})
            assert wait_for(lambda: len(second.bodies) == 2)
            assert second.requests[1][1]["Authorization"] == f"Basic {token}"
            assert len(consumer.bodies) == 1
        finally:
            process.stop()


def test_put_targets_with_an_unknown_api_destination_is_resource_not_found(bus):
    events = client(bus)
    events.put_rule(Name="to-nowhere", EventPattern='{"source": ["shop"]}')
    arn = "arn:aws:events:us-east-1:123456789012:api-destination/nowhere/0a1b2c3d"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.put_targets(Rule="to-nowhere", Targets=[{"Id": "api", "Arn": arn}])
    assert error(excinfo)[0] == "ResourceNotFoundException"  # local-only: the reference is silent


def test_bus_redrive_delivers_a_dead_letter_again_to_its_api_destination(tmp_path):
    # local-only: `bus redrive` opens the definition's bus without the server
    with http_consumer(400) as consumer:
        definition = write_definition(tmp_path)
        process = BusProcess(tmp_path, definition).start()
        try:
            events = client(process)
            setup_delivery(events, "test-bus", consumer.url)
            dlq = "arn:aws:sqs:us-east-1:123456789012:deliver-dlq"
            (target,) = events.list_targets_by_rule(Rule="to-destination", EventBusName="test-bus")["Targets"]
            target = {
                "Id": "api",
                "Arn": target["Arn"],
                "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60},
                "DeadLetterConfig": {"Arn": dlq},
            }
            events.put_targets(Rule="to-destination", EventBusName="test-bus", Targets=[target])
            publish(events, "test-bus", {"n": "dead"})
            assert wait_for(lambda: dead_letters(tmp_path, "deliver-dlq"))
        finally:
            process.stop()

        consumer.status = 200
        letters = LocalDeadLetters.for_lake(process.lake, load_definition(definition))
        result = letters.redrive("deliver-dlq", [m.message_id for m in letters.peek("deliver-dlq")])

        assert (len(result.sent), result.failed) == (1, {})
        headers = consumer.requests[-1][1]
        assert headers["Authorization"] == "Basic " + base64.b64encode(b"user:s3cret-pass").decode()
        assert consumer.bodies[-1]["detail"] == {"n": "dead"}


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(
            {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "☃"}}, id="a-snowman-key"
        ),
        pytest.param(
            {"ApiKeyAuthParameters": {"ApiKeyName": "x api key", "ApiKeyValue": "k"}},
            id="a-name-no-header-has",
        ),
        pytest.param(
            {"BasicAuthParameters": {"Username": "u", "Password": "a\r\nX-Evil: 1"}}, id="a-line-break"
        ),
    ],
)
def test_credentials_no_http_header_can_carry_are_refused(bus, auth):
    kind = "API_KEY" if "ApiKeyAuthParameters" in auth else "BASIC"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(bus).create_connection(Name="conn-unfit", AuthorizationType=kind, AuthParameters=auth)
    code, message, status = error(excinfo)
    assert (code, status) == ("ValidationException", 400) and "cannot be sent in an HTTP header" in message
