"""infra deploy/outputs/destroy: the pure helpers, the change-set flow against the Stubber
(events, failures), and the command line against moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from app.__main__ import main
from app.aws.errors import AwsError
from app.bus.definition import load_definition
from app.infra import deploy as deploy_module
from app.infra import render
from app.infra.deploy import (
    MAX_INLINE_BODY,
    change_set_parameters,
    deploy,
    parse_parameter_overrides,
    template_source,
)
from tests.aws.cfn_moto import REGION, moto_variant

TEMPLATE = {
    "Parameters": {"Name": {"Type": "String", "Default": "x"}, "ApiKey": {"Type": "String", "NoEcho": True}},
    "Resources": {},
}


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        pytest.param(["A=1", "B=x=y"], {"A": "1", "B": "x=y"}, id="value-with-equals"),
        pytest.param(["A="], {"A": ""}, id="empty-value"),
        pytest.param([], {}, id="none"),
    ],
)
def test_parse_parameter_overrides(pairs, expected):
    assert parse_parameter_overrides(pairs) == expected


@pytest.mark.parametrize("pair", ["A", "=1"])
def test_parse_parameter_overrides_refuses(pair):
    with pytest.raises(AwsError, match="is not KEY=VALUE"):
        parse_parameter_overrides([pair])


def test_first_deploy_needs_every_parameter_without_default():
    with pytest.raises(AwsError, match="a first deploy needs a value for ApiKey"):
        change_set_parameters(TEMPLATE, {}, previous=None)
    assert change_set_parameters(TEMPLATE, {"ApiKey": "k"}, previous=None) == [
        {"ParameterKey": "ApiKey", "ParameterValue": "k"}
    ]


def test_update_keeps_previous_values_of_parameters_not_given():
    assert change_set_parameters(TEMPLATE, {"Name": "y"}, previous=["Name", "ApiKey"]) == [
        {"ParameterKey": "Name", "ParameterValue": "y"},
        {"ParameterKey": "ApiKey", "UsePreviousValue": True},
    ]


def test_update_gives_a_parameter_the_deployed_stack_lacks_its_default_not_its_previous_value():
    # CloudFormation refuses UsePreviousValue for a key "not in the previous template".
    assert change_set_parameters(TEMPLATE, {}, previous=["ApiKey"]) == [
        {"ParameterKey": "ApiKey", "UsePreviousValue": True}
    ]
    with pytest.raises(AwsError, match=r"this update \(the template gained it\) needs a value for ApiKey"):
        change_set_parameters(TEMPLATE, {}, previous=["Name"])


def test_unknown_parameter_is_named():
    with pytest.raises(AwsError, match="no parameter Nope"):
        change_set_parameters(TEMPLATE, {"Nope": "1"}, previous=None)


@mock_aws
def test_a_large_template_goes_through_the_template_bucket():
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="templates")
    assert template_source("{}", "s", s3, None, REGION) == {"TemplateBody": "{}"}
    big = json.dumps({"x": "y" * MAX_INLINE_BODY})
    source = template_source(big, "s", s3, "templates", REGION)
    key = source["TemplateURL"].split(".amazonaws.com/", 1)[1]
    assert source["TemplateURL"].startswith("https://templates.s3.us-east-1.amazonaws.com/templates/s/")
    assert s3.get_object(Bucket="templates", Key=key)["Body"].read().decode() == big
    with pytest.raises(AwsError, match="larger than 51,200 bytes"):
        template_source(big, "s", s3, None, REGION)


def _event(i: int, logical: str, kind: str, status: str, reason: str = "") -> dict:
    event = {
        "StackId": "arn:stack/s/1",
        "EventId": f"e{i}",
        "StackName": "s",
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "ResourceStatus": status,
        "Timestamp": datetime(2026, 3, 16, tzinfo=UTC) + timedelta(seconds=i),
    }
    return {**event, "ResourceStatusReason": reason} if reason else event


def test_a_failed_create_reports_its_events_in_order_and_one_sentence():
    cfn = boto3.client("cloudformation", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    seen = []
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id s does not exist")
        stub.add_response(
            "create_change_set",
            {"Id": "cs", "StackId": "arn:stack/s/1"},
            {
                "StackName": "s",
                "ChangeSetName": ANY,
                "ChangeSetType": "CREATE",
                "Capabilities": ["CAPABILITY_IAM"],
                "Parameters": [{"ParameterKey": "ApiKey", "ParameterValue": "k"}],
                "Description": ANY,
                "TemplateBody": "{}",
            },
        )
        stub.add_response(
            "describe_change_set", {"Status": "CREATE_PENDING"}, {"StackName": "s", "ChangeSetName": ANY}
        )
        stub.add_response(
            "describe_change_set",
            {
                "Status": "CREATE_COMPLETE",
                "Changes": [
                    {
                        "Type": "Resource",
                        "ResourceChange": {
                            "Action": "Add",
                            "LogicalResourceId": "Bus",
                            "ResourceType": "AWS::Events::EventBus",
                        },
                    }
                ],
            },
            {"StackName": "s", "ChangeSetName": ANY},
        )
        stub.add_response(
            "describe_stack_events",
            {"StackEvents": [_event(0, "s", "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS")]},
            {"StackName": "arn:stack/s/1"},
        )
        stub.add_response("execute_change_set", {}, {"StackName": "s", "ChangeSetName": ANY})
        # newest first, as CloudFormation lists them
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    _event(
                        2, "Bus", "AWS::Events::EventBus", "CREATE_FAILED", "Bus verticals already exists"
                    ),
                    _event(1, "s", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS"),
                    _event(0, "s", "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS"),
                ]
            },
            {"StackName": "arn:stack/s/1"},
        )
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "s",
                        "StackStatus": "ROLLBACK_IN_PROGRESS",
                        "CreationTime": datetime(2026, 3, 16),
                    }
                ]
            },
            {"StackName": "arn:stack/s/1"},
        )
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    _event(3, "s", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE"),
                    _event(
                        2, "Bus", "AWS::Events::EventBus", "CREATE_FAILED", "Bus verticals already exists"
                    ),
                ]
            },
            {"StackName": "arn:stack/s/1"},
        )
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "s",
                        "StackStatus": "ROLLBACK_COMPLETE",
                        "CreationTime": datetime(2026, 3, 16),
                    }
                ]
            },
            {"StackName": "arn:stack/s/1"},
        )
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": "arn:stack/s/1"})
        changes = []
        with pytest.raises(
            AwsError, match="ended ROLLBACK_COMPLETE; the events above say which resource failed"
        ):
            deploy(
                cfn,
                s3,
                "s",
                TEMPLATE,
                "{}",
                {"ApiKey": "k"},
                template_bucket=None,
                region=REGION,
                on_event=seen.append,
                on_change=changes.append,
                sleep=lambda s: None,
            )
        stub.assert_no_pending_responses()
    assert [(e.logical_id, e.status) for e in seen] == [
        ("s", "CREATE_IN_PROGRESS"),
        ("Bus", "CREATE_FAILED"),
        ("s", "ROLLBACK_COMPLETE"),
    ]
    assert "Bus verticals already exists" in seen[1].line()
    assert changes == [{"Action": "Add", "LogicalResourceId": "Bus", "ResourceType": "AWS::Events::EventBus"}]


def test_a_stack_that_failed_to_create_must_be_destroyed_first():
    cfn = boto3.client("cloudformation", region_name=REGION)
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "s",
                        "StackStatus": "ROLLBACK_COMPLETE",
                        "CreationTime": datetime(2026, 3, 16),
                    }
                ]
            },
            {"StackName": "s"},
        )
        with pytest.raises(AwsError, match="must be removed first: python -m app infra destroy --stack s"):
            deploy(cfn, None, "s", TEMPLATE, "{}", {}, template_bucket=None, region=REGION)


@pytest.mark.parametrize(
    ("stack", "parameters", "reason"),
    [
        pytest.param("Verticals", {}, "lower-case stack name", id="glue-name-from-an-upper-case-stack"),
        pytest.param("v" * 45, {"GlueDatabaseName": "v"}, "longer than 48", id="archive-name-too-long"),
    ],
)
def test_a_stack_name_that_cannot_name_the_resources_is_refused_before_anything_is_created(
    stack, parameters, reason
):
    template = render.render_template(load_definition())
    cfn = boto3.client("cloudformation", region_name=REGION)
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {stack} does not exist")
        with pytest.raises(AwsError, match=reason):
            deploy(cfn, None, stack, template, "{}", parameters, template_bucket=None, region=REGION)
        stub.assert_no_pending_responses()  # no change set was asked for


LIFECYCLE = {
    "Parameters": {
        "LakeInfrequentAccessDays": {"Type": "Number", "Default": 90},
        "LakeGlacierInstantRetrievalDays": {"Type": "Number", "Default": 365},
    }
}


@pytest.mark.parametrize(
    ("given", "previous", "refused"),
    [
        pytest.param({}, {}, False, id="defaults"),
        pytest.param({"LakeGlacierInstantRetrievalDays": "120"}, {}, False, id="thirty-days-after-exactly"),
        pytest.param({"LakeGlacierInstantRetrievalDays": "119"}, {}, True, id="twenty-nine-days-after"),
        pytest.param({"LakeInfrequentAccessDays": "400"}, {}, True, id="ia-after-the-default-glacier"),
        pytest.param(
            {"LakeGlacierInstantRetrievalDays": "220"}, {"LakeInfrequentAccessDays": "200"}, True, id="update"
        ),
        pytest.param(
            {},
            {"LakeInfrequentAccessDays": "200", "LakeGlacierInstantRetrievalDays": "230"},
            False,
            id="kept",
        ),
    ],
)
def test_lifecycle_days_s3_refuses_are_named(given, previous, refused):
    problem = deploy_module.lifecycle_problem(LIFECYCLE, given, previous)
    assert (problem is not None) == refused
    if refused:
        assert "must be at least 30 days after LakeInfrequentAccessDays" in problem


def test_a_lifecycle_s3_refuses_is_refused_before_a_change_set():
    template = render.render_template(load_definition())
    cfn = boto3.client("cloudformation", region_name=REGION)
    parameters = {"LakeInfrequentAccessDays": "90", "LakeGlacierInstantRetrievalDays": "100"}
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id verticals does not exist")
        with pytest.raises(AwsError, match="give LakeGlacierInstantRetrievalDays=120 or more"):
            deploy(cfn, None, "verticals", template, "{}", parameters, template_bucket=None, region=REGION)
        stub.assert_no_pending_responses()  # no change set was asked for


# --- the command line ---------------------------------------------------------------------


def test_render_check_says_the_committed_template_is_current(capsys):
    assert main(["infra", "render", "--check"]) == 0
    assert "is current" in capsys.readouterr().out


def test_render_writes_the_template(tmp_path, capsys):
    out = tmp_path / "t.yaml"
    assert main(["infra", "render", "--output", str(out)]) == 0
    assert out.read_text() == render.TEMPLATE_PATH.read_text()
    assert main(["infra", "render", "--check", "--output", str(tmp_path / "missing.yaml")]) == 1


def test_stack_commands_need_a_stack(capsys, monkeypatch):
    monkeypatch.delenv("VERTICALS_STACK", raising=False)
    assert main(["infra", "outputs"]) == 2
    assert capsys.readouterr().err.strip() == "error: no stack name: pass --stack NAME or set VERTICALS_STACK"


@mock_aws
def test_outputs_of_a_missing_stack_is_one_line(capsys):
    assert main(["infra", "outputs", "--stack", "nope", "--region", REGION]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: The CloudFormation stack nope does not exist in us-east-1: check VERTICALS_STACK and "
        "VERTICALS_REGION, or deploy it with python -m app infra deploy."
    )


@mock_aws
def test_deploy_outputs_and_destroy_from_the_command_line(capsys, monkeypatch):
    # moto cannot create the full template (see tests/aws/cfn_moto.py): deploy its moto variant.
    variant, _ = moto_variant(render.render_template(load_definition()))
    monkeypatch.setattr(render, "render_template", lambda definition: variant)
    args = ["--stack", "cli", "--region", REGION]
    assert main(["infra", "deploy", *args, "--parameter", "CrmWebhookApiKey=k1"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: a first deploy needs a value for CrmWebhookUrl, AttributionApiUrl, AttributionApiApiKey: "
        "pass --parameter CrmWebhookUrl=…"
    )
    assert (
        main(
            [
                "infra",
                "deploy",
                *args,
                "--parameter",
                "CrmWebhookApiKey=k1",
                "--parameter",
                "AttributionApiApiKey=k2",
                "--parameter",
                "CrmWebhookUrl=https://crm.example.com/e",
                "--parameter",
                "AttributionApiUrl=https://marketing.example.com/a",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "deploying stack cli in us-east-1" in out
        and "s3://verticals-cfn-templates-123456789012-us-east-1" in out
    )
    assert "Add      AWS::Events::EventBus" in out
    assert "cli: CREATE_COMPLETE" in out

    assert main(["infra", "destroy", *args, "--yes"]) == 0
    assert "cli: DELETE_COMPLETE; the lake and results buckets are retained" in capsys.readouterr().out

    boto3.client("cloudformation", region_name=REGION).create_stack(  # moto fills outputs on CreateStack only
        StackName="cli2",
        TemplateBody=render.to_json(variant),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[
            {"ParameterKey": k, "ParameterValue": "https://x.example.com/" if k.endswith("Url") else "k"}
            for k in ("CrmWebhookApiKey", "AttributionApiApiKey", "CrmWebhookUrl", "AttributionApiUrl")
        ],
    )
    assert main(["infra", "outputs", "--stack", "cli2", "--region", REGION, "--format", "env"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["VERTICALS_BACKEND=aws", "VERTICALS_STACK=cli2", "VERTICALS_REGION=us-east-1"]
    assert any(line.startswith("VERTICALS_LAKE_BUCKET=cli2-lakebucket-") for line in lines)


def test_destroy_asks_for_the_stack_name(monkeypatch, capsys):
    import argparse

    from app.cli.infra import cmd_destroy

    args = argparse.Namespace(stack="prod", region=REGION, profile=None, yes=False)
    assert cmd_destroy(args, ask=lambda prompt: "no") == 1
    assert capsys.readouterr().out.strip() == "not removed"


def test_every_page_of_a_large_change_set_is_shown():
    """DescribeChangeSet answers a page of changes and a NextToken for the rest (the stack
    has more resources than a page holds): every change is reported."""
    cfn = boto3.client("cloudformation", region_name="us-east-1")

    def change(i):
        return {"Type": "Resource", "ResourceChange": {"Action": "Add", "LogicalResourceId": f"R{i}"}}

    first = {"Status": "CREATE_COMPLETE", "Changes": [change(i) for i in range(100)], "NextToken": "t1"}
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_change_set",
            {"Changes": [change(i) for i in range(100, 158)]},
            {"StackName": "s", "ChangeSetName": "cs", "NextToken": "t1"},
        )
        changes = deploy_module._all_changes(cfn, "s", "cs", first)
        stub.assert_no_pending_responses()
    assert [c["ResourceChange"]["LogicalResourceId"] for c in changes] == [f"R{i}" for i in range(158)]
