"""AWS failures become one sentence; settings and stack outputs become the backend's resources."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)

from app.aws.errors import AwsError, aws_errors, explain, is_throttling
from app.aws.session import make_session, resources_from
from app.settings import load_settings


def client_error(code: str, message: str, operation: str = "StartQueryExecution") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(NoCredentialsError(), "No AWS credentials were found", id="no-credentials"),
        pytest.param(
            ProfileNotFound(profile="analytics"),
            "The AWS profile 'analytics' is not in ~/.aws/config",
            id="unknown-profile",
        ),
        pytest.param(
            client_error("ExpiredTokenException", "The security token included in the request is expired"),
            "expired or invalid (ExpiredTokenException): renew them",
            id="expired-token",
        ),
        pytest.param(
            client_error("ExpiredToken", "token expired", "ListMetrics"),
            "expired or invalid",
            id="expired-token-sts-style",
        ),
        pytest.param(
            TokenRetrievalError(provider="sso", error_msg="expired"),
            "Your AWS SSO session has expired",
            id="sso-expired",
        ),
        pytest.param(
            client_error("InvalidRequestException", "WorkGroup analytics is not found."),
            "The Athena workgroup analytics does not exist in eu-west-1",
            id="missing-workgroup",
        ),
        pytest.param(
            client_error(
                "AccessDeniedException",
                "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: glue:GetTable",
            ),
            "AWS denied StartQueryExecution (User: arn:aws:sts::1:assumed-role/x is not authorized",
            id="denied",
        ),
        pytest.param(
            client_error("AccessDenied", "Access Denied", "GetObject"),
            "AWS denied GetObject (Access Denied)",
            id="s3-denied",
        ),
        pytest.param(
            client_error("ValidationError", "Stack with id prod does not exist", "DescribeStacks"),
            "The CloudFormation stack prod does not exist in eu-west-1",
            id="missing-stack",
        ),
        pytest.param(
            client_error(
                "AWS.SimpleQueueService.NonExistentQueue",
                "The specified queue does not exist.",
                "ReceiveMessage",
            ),
            "ReceiveMessage found nothing",
            id="missing-queue",
        ),
        pytest.param(
            EndpointConnectionError(endpoint_url="https://athena.eu-west-1.amazonaws.com"),
            "Cannot reach the AWS endpoint https://athena.eu-west-1.amazonaws.com",
            id="offline",
        ),
        pytest.param(
            client_error("InternalServerException", "boom"),
            "AWS StartQueryExecution failed: InternalServerException: boom",
            id="anything-else",
        ),
    ],
)
def test_explain_says_one_sentence(exc, expected):
    text = explain(exc, profile="analytics", region="eu-west-1")
    assert expected in text
    assert "\n" not in text and "Traceback" not in text


def test_aws_errors_turns_sdk_exceptions_into_aws_error():
    with pytest.raises(AwsError, match="No AWS credentials") as info, aws_errors():
        raise NoCredentialsError()
    assert isinstance(info.value.__cause__, NoCredentialsError)


def test_throttling_codes():
    assert is_throttling(client_error("ThrottlingException", "x"))
    assert is_throttling(client_error("TooManyRequestsException", "x"))
    assert not is_throttling(client_error("AccessDenied", "x"))


def test_an_unknown_profile_is_one_sentence_at_session_time():
    settings = load_settings({"VERTICALS_AWS_PROFILE": "nope"})
    with pytest.raises(AwsError, match=re.escape("The AWS profile 'nope' is not in ~/.aws/config")):
        make_session(settings)


OUTPUTS = {
    "AthenaWorkGroup": "wg",
    "GlueDatabase": "lake",
    "LakeBucket": "bucket-1",
    "EventBusName": "verticals",
    "DeadLetterQueueUrlCrmWebhookDlq": "https://sqs/1/verticals-crm-webhook-dlq",
}


@pytest.mark.parametrize(
    ("env", "outputs", "expected"),
    [
        pytest.param({"VERTICALS_STACK": "s"}, OUTPUTS, ("wg", "lake", "bucket-1"), id="from-stack"),
        pytest.param(
            {"VERTICALS_STACK": "s", "VERTICALS_ATHENA_WORKGROUP": "mine"},
            OUTPUTS,
            ("mine", "lake", "bucket-1"),
            id="explicit-wins",
        ),
        pytest.param(
            {
                "VERTICALS_ATHENA_WORKGROUP": "a",
                "VERTICALS_ATHENA_DATABASE": "b",
                "VERTICALS_LAKE_BUCKET": "c",
            },
            {},
            ("a", "b", "c"),
            id="no-stack",
        ),
    ],
)
def test_resources_from_settings_and_outputs(env, outputs, expected):
    resources = resources_from(load_settings(env), outputs, ["crm-webhook-dlq", "lake-dlq"])
    assert (resources.workgroup, resources.database, resources.lake_bucket) == expected
    if outputs:
        assert resources.dead_letter_queue_urls == {
            "crm-webhook-dlq": "https://sqs/1/verticals-crm-webhook-dlq"
        }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {},
            "set VERTICALS_STACK or VERTICALS_ATHENA_WORKGROUP, VERTICALS_ATHENA_DATABASE, "
            "VERTICALS_LAKE_BUCKET",
            id="nothing-set",
        ),
        pytest.param(
            {"VERTICALS_STACK": "s"}, "the stack s has no output for VERTICALS_LAKE_BUCKET", id="stack-lacks"
        ),
    ],
)
def test_resources_name_what_is_missing(env, message):
    outputs = {"AthenaWorkGroup": "wg", "GlueDatabase": "lake"} if env else {}
    with pytest.raises(AwsError, match=message):
        resources_from(load_settings(env), outputs, [])
