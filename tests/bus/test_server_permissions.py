"""PutPermission, RemovePermission and DescribeEventBus's ``Policy`` through unmodified boto3
against ``bus serve`` (issue 11), written from the API reference and localstack's
AWS-validated snapshots (``test_put_permission``, ``test_remove_permission``,
``test_remove_permission_non_existing_sid``, ``test_put_permission_non_existing_event_bus``).
Assertions marked ``# local-only`` hold for the local bus and are not known for AWS."""

import contextlib
import json

import botocore.exceptions
import pytest

from tests.bus.server_helpers import BusProcess, write_definition
from tests.bus.test_server_api import client, error

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bus-server")]

ACCOUNT, OTHER = "111111111111", "222222222222"


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("permissions")
    process = BusProcess(tmp, write_definition(tmp)).start()
    yield process
    process.stop()


def policy_of(events, name: str) -> dict | None:
    answer = events.describe_event_bus(Name=name)
    return json.loads(answer["Policy"]) if "Policy" in answer else None


@pytest.fixture
def events(bus):
    """A client of an account of its own for each test: each test starts without a policy."""
    events = client(bus, key=ACCOUNT)
    with contextlib.suppress(botocore.exceptions.ClientError):  # AWS may refuse when there is none
        events.remove_permission(EventBusName="default", RemoveAllPermissions=True)
    return events


def test_put_permission_adds_a_statement_per_statement_id_and_describe_event_bus_shows_it(events):
    assert (
        events.put_permission(
            EventBusName="default", Action="events:PutEvents", Principal=ACCOUNT, StatementId="one"
        )["ResponseMetadata"]["HTTPStatusCode"]
        == 200
    )
    events.put_permission(Action="events:PutEvents", Principal=ACCOUNT, StatementId="two")
    events.put_permission(Action="events:PutEvents", Principal=OTHER, StatementId="three")
    bus_arn = events.describe_event_bus()["Arn"]

    policy = policy_of(events, "default")

    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{principal}:root"},
                "Action": "events:PutEvents",
                "Resource": bus_arn,
            }
            for sid, principal in (("one", ACCOUNT), ("two", ACCOUNT), ("three", OTHER))
        ],
    }


def test_the_same_statement_id_again_replaces_its_statement(events):
    for _ in range(2):
        events.put_permission(Action="events:PutEvents", Principal="*", StatementId="everyone")

    statements = policy_of(events, "default")["Statement"]

    assert [(s["Sid"], s["Principal"]) for s in statements] == [("everyone", "*")]


def test_a_condition_goes_into_the_statement_with_the_principal_star(events):
    condition = {"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-1234567890"}
    events.put_permission(Action="events:PutEvents", Principal="*", StatementId="org", Condition=condition)

    (statement,) = policy_of(events, "default")["Statement"]

    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-1234567890"}}


def test_a_policy_document_replaces_every_statement(events):
    events.put_permission(Action="events:PutEvents", Principal=ACCOUNT, StatementId="old")
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "list",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "events:ListRules",
                "Resource": "*",
            }
        ],
    }

    events.put_permission(EventBusName="default", Policy=json.dumps(document))

    assert policy_of(events, "default") == document


def test_remove_permission_by_statement_id_then_all(events):
    events.put_permission(Action="events:PutEvents", Principal=ACCOUNT, StatementId="one")
    events.put_permission(Action="events:PutEvents", Principal=OTHER, StatementId="two")

    events.remove_permission(EventBusName="default", StatementId="one", RemoveAllPermissions=False)
    assert [s["Sid"] for s in policy_of(events, "default")["Statement"]] == ["two"]

    events.remove_permission(EventBusName="default", RemoveAllPermissions=True)
    assert "Policy" not in events.describe_event_bus(Name="default")


@pytest.mark.parametrize("policy_exists", [True, False])
def test_removing_an_unknown_statement_id_is_resource_not_found(events, policy_exists):
    if policy_exists:
        events.put_permission(Action="events:PutEvents", Principal=ACCOUNT, StatementId="there")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.remove_permission(EventBusName="default", StatementId="non-existing-sid")
    assert error(excinfo) == (
        "ResourceNotFoundException",
        "Statement with the provided id does not exist.",
        400,
    )


def test_put_permission_on_a_bus_that_does_not_exist(events):
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.put_permission(
            EventBusName="no-such-bus", Action="events:PutEvents", Principal="*", StatementId="s"
        )
    assert error(excinfo) == ("ResourceNotFoundException", "Event bus no-such-bus does not exist.", 400)


@pytest.mark.parametrize(
    "arguments",
    [
        {"Action": "events:PutEvents", "Principal": "not-an-account", "StatementId": "s"},
        {"Action": "events:PutEvents", "Principal": "12345", "StatementId": "s"},
        {"Action": "events:ListRules", "Principal": "*", "StatementId": "s"},
        {"Action": "events:PutEvents", "Principal": "*", "StatementId": "no spaces"},
        {
            "Action": "events:PutEvents",
            "Principal": ACCOUNT,
            "StatementId": "s",
            "Condition": {"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-1"},
        },
        {
            "Action": "events:PutEvents",
            "Principal": "*",
            "StatementId": "s",
            "Condition": {"Type": "StringLike", "Key": "aws:PrincipalOrgID", "Value": "o-1"},
        },
        {"Policy": "{not json"},
    ],
    ids=[
        "principal-text",
        "principal-short",
        "action",
        "statement-id",
        "condition-account",
        "condition-type",
        "policy",
    ],
)
def test_invalid_arguments_are_validation_errors_and_change_nothing(events, arguments):
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.put_permission(EventBusName="default", **arguments)
    assert error(excinfo)[0] == "ValidationException"
    assert error(excinfo)[2] == 400
    assert "Policy" not in events.describe_event_bus()


def test_a_custom_bus_has_its_own_policy_and_another_account_sees_neither(events, bus):
    events.create_event_bus(Name="perm-custom")
    events.put_permission(
        EventBusName="perm-custom", Action="events:PutEvents", Principal=OTHER, StatementId="other"
    )

    (statement,) = policy_of(events, "perm-custom")["Statement"]
    assert statement["Resource"] == events.describe_event_bus(Name="perm-custom")["Arn"]
    assert "Policy" not in events.describe_event_bus(Name="default")
    other = client(bus, key=OTHER)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        other.describe_event_bus(Name="perm-custom")
    assert error(excinfo)[0] == "ResourceNotFoundException"

    events.delete_event_bus(Name="perm-custom")
    events.create_event_bus(Name="perm-custom")
    assert "Policy" not in events.describe_event_bus(Name="perm-custom")  # a new bus, no policy
    events.delete_event_bus(Name="perm-custom")


def test_removing_all_permissions_of_a_bus_without_a_policy_answers_200(events):
    # local-only: the reference is silent, localstack's test notes AWS may answer an error
    answer = events.remove_permission(EventBusName="default", RemoveAllPermissions=True)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_the_policy_survives_a_restart(tmp_path):
    # local-only: a restart of `bus serve`
    process = BusProcess(tmp_path, write_definition(tmp_path)).start()
    try:
        events = client(process, key=ACCOUNT)
        events.put_permission(Action="events:PutEvents", Principal=OTHER, StatementId="kept")
        before = events.describe_event_bus()["Policy"]
    finally:
        process.stop()
    process.start()
    try:
        assert client(process, key=ACCOUNT).describe_event_bus()["Policy"] == before
    finally:
        process.stop()
