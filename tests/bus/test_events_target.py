"""The harness that points the API tests at real EventBridge (tests/bus/events_target.py),
checked here against moto's EventBridge (no AWS is reachable from the test machines): the
tests' names and the local account are translated both ways, List* answers show only the
run's resources, and the cleanup deletes everything the run created and nothing else."""

from __future__ import annotations

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from tests.bus.events_target import AwsEventBridge, Namespace

ACCOUNT = "111122223333"  # the "real" account: not the local bus's 123456789012
LOCAL = "arn:aws:events:us-east-1:123456789012"
REAL = f"arn:aws:events:us-east-1:{ACCOUNT}"


def test_requests_get_the_run_s_names_and_the_real_account():
    namespace = Namespace("vt-1-", ACCOUNT)
    request = {
        "Name": "orders",
        "EventBusName": "default",
        "NamePrefix": "page-",
        "EventSourceArn": f"{LOCAL}:event-bus/orders",
        "FilterArns": [f"{LOCAL}:rule/r", f"{LOCAL}:rule/orders/r", f"{LOCAL}:rule/default/r"],
        "Destination": {"Arn": f"{LOCAL}:archive/a"},
        "Targets": [{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:q", "Input": "orders"}],
        "Entries": [{"EventBusName": "orders", "Source": "orders", "Detail": "{}"}],
        "ResourceARN": f"{LOCAL}:connection/c/1234",
        "RoleArn": "arn:aws:iam::111111111111:role/r",
        "InputTransformer": {"InputPathsMap": {"Name": "$.detail.name"}, "InputTemplate": "<Name>"},
    }
    assert namespace.outbound(request) == {
        "Name": "vt-1-orders",
        "EventBusName": "default",
        "NamePrefix": "vt-1-page-",
        "EventSourceArn": f"{REAL}:event-bus/vt-1-orders",
        "FilterArns": [
            f"{REAL}:rule/vt-1-r",
            f"{REAL}:rule/vt-1-orders/vt-1-r",
            f"{REAL}:rule/default/vt-1-r",
        ],
        "Destination": {"Arn": f"{REAL}:archive/vt-1-a"},
        "Targets": [{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q", "Input": "orders"}],
        "Entries": [{"EventBusName": "vt-1-orders", "Source": "orders", "Detail": "{}"}],
        "ResourceARN": f"{REAL}:connection/vt-1-c/1234",
        "RoleArn": "arn:aws:iam::111111111111:role/r",
        "InputTransformer": {"InputPathsMap": {"Name": "$.detail.name"}, "InputTemplate": "<Name>"},
    }


def test_answers_lose_the_prefix_get_the_local_account_and_list_only_the_run_s():
    namespace = Namespace("vt-1-", ACCOUNT)
    answer = {
        "Rules": [
            {"Name": "vt-1-r", "Arn": f"{REAL}:rule/vt-1-r"},
            {"Name": "theirs", "Arn": f"{REAL}:rule/theirs"},
        ],
        "EventBuses": [{"Name": "default"}, {"Name": "prod"}, {"Name": "vt-1-orders"}],
        "RuleNames": ["theirs", "Events-Archive-vt-1-a"],
        "Error": {"Message": f"Rule vt-1-x does not exist on EventBus vt-1-orders ({ACCOUNT}).", "Code": "X"},
    }
    assert namespace.inbound(answer) == {
        "Rules": [{"Name": "r", "Arn": f"{LOCAL}:rule/r"}],
        "EventBuses": [{"Name": "default"}, {"Name": "orders"}],
        "RuleNames": ["Events-Archive-a"],
        # only an ARN's account is the local one: a bare 12-digit text stays as sent
        "Error": {"Message": f"Rule x does not exist on EventBus orders ({ACCOUNT}).", "Code": "X"},
    }


@pytest.fixture
def moto_account(monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    with mock_aws():
        yield boto3.client("events", region_name="us-east-1")


def test_a_run_sees_its_own_names_and_leaves_the_account_as_it_found_it(moto_account):
    raw = moto_account
    raw.create_event_bus(Name="prod")
    raw.put_rule(Name="theirs", EventPattern='{"source": ["a"]}')
    target = AwsEventBridge.connect("test-bus")
    events = target.client()
    assert events.create_event_bus(Name="orders")["EventBusArn"] == f"{LOCAL}:event-bus/orders"
    arn = events.put_rule(
        Name="r", EventPattern='{"source": ["a"]}', EventBusName=f"{LOCAL}:event-bus/orders"
    )
    assert arn["RuleArn"] == f"{LOCAL}:rule/orders/r"
    queue = "arn:aws:sqs:us-east-1:123456789012:q"
    events.put_targets(Rule="r", EventBusName="orders", Targets=[{"Id": "q", "Arn": queue}])
    assert events.list_targets_by_rule(Rule="r", EventBusName="orders")["Targets"][0]["Arn"] == queue
    events.put_rule(Name="d", EventPattern='{"source": ["a"]}')
    events.create_archive(ArchiveName="a", EventSourceArn=f"{LOCAL}:event-bus/orders")
    assert sorted(b["Name"] for b in events.list_event_buses()["EventBuses"]) == [
        "default",
        "orders",
        "test-bus",
    ]
    assert "theirs" not in [r["Name"] for r in events.list_rules()["Rules"]]
    assert events.describe_rule(Name="d")["Name"] == "d"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.describe_rule(Name="missing", EventBusName="orders")
    message = excinfo.value.response["Error"]["Message"]
    assert "missing" in message and target.namespace.prefix not in message  # errors are translated too

    prefix = target.namespace.prefix
    assert f"{prefix}orders" in [b["Name"] for b in raw.list_event_buses()["EventBuses"]]
    target.cleanup()
    assert sorted(b["Name"] for b in raw.list_event_buses()["EventBuses"]) == ["default", "prod"]
    assert [r["Name"] for r in raw.list_rules()["Rules"]] == ["theirs"]
    assert raw.list_archives()["Archives"] == []


def test_a_test_that_needs_another_account_s_key_is_skipped_against_aws(moto_account):
    target = AwsEventBridge.connect("test-bus")
    with pytest.raises(pytest.skip.Exception, match="account comes from the access key"):
        target.client(key="111111111111")
    target.cleanup()


def test_the_variable_is_a_test_setting_the_app_does_not_refuse():
    from app.settings import load_settings

    load_settings(environ={"VERTICALS_EVENTS_TARGET": "aws"})  # unknown VERTICALS_* names stop the app
