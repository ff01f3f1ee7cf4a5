"""AWS failures as one sentence a user can act on (for the app and the CLI, never a traceback).

:func:`explain` turns what boto3/botocore raise into that sentence; :func:`aws_errors`
wraps a block so that those exceptions leave it as :class:`AwsError`. Only the failures a
user can fix get their own sentence (no credentials, an expired token, a missing
workgroup, stack or queue, a denied call, an unreachable endpoint); anything else still
becomes one line naming the call and AWS's own message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)

from app.errors import QueryError


class AwsError(QueryError):
    """An AWS call failed; the message is one sentence that says what to do.

    A :class:`QueryError` too, so that pages that already show a failed query's message
    show this one the same way.
    """


# https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html and the SDKs'
# list of "expired credentials" codes.
EXPIRED_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "TokenRefreshRequired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidToken",
    }
)
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "AuthorizationErrorException",
        "NotAuthorized",
    }
)
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "NoSuchBucket",
        "EntityNotFoundException",
        "QueueDoesNotExist",
    }
)
_WORKGROUP_MISSING = re.compile(r"WorkGroup (\S+) (?:is not found|does not exist)", re.I)
_STACK_MISSING = re.compile(r"Stack(?: with id)? (\S+) does not exist", re.I)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_throttling(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLING_CODES


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")).strip()


def _profile_hint(profile: str) -> str:
    return f"aws sso login --profile {profile}" if profile else "aws sso login (or refresh your keys)"


def _explain_client_error(exc: ClientError, profile: str, region: str) -> str:
    code, message, call = error_code(exc), _message(exc), exc.operation_name
    if code in EXPIRED_CODES:
        return (
            f"Your AWS credentials were rejected as expired or invalid ({code}): "
            f"renew them with `{_profile_hint(profile)}` and retry."
        )
    if code in DENIED_CODES:
        return (
            f"AWS denied {call} ({message or code}): the credentials in use lack this "
            "permission; use the stack's DashboardRole or ask an admin to grant it."
        )
    workgroup = _WORKGROUP_MISSING.search(message)
    if workgroup:
        return (
            f"The Athena workgroup {workgroup.group(1)} does not exist in {region or 'this region'}: "
            "deploy the stack (python -m app infra deploy) or set VERTICALS_ATHENA_WORKGROUP."
        )
    stack = _STACK_MISSING.search(message)
    if stack:
        return (
            f"The CloudFormation stack {stack.group(1)} does not exist in {region or 'this region'}: "
            "check VERTICALS_STACK and VERTICALS_REGION, or deploy it with python -m app infra deploy."
        )
    if code in NOT_FOUND_CODES:
        return f"{call} found nothing ({message or code}): check the stack outputs and the region {region}."
    if code in THROTTLING_CODES:
        return f"AWS throttled {call} even after retries: wait a minute and try again."
    return f"AWS {call} failed: {code}: {message}".rstrip(": ")


def explain(exc: BaseException, *, profile: str = "", region: str = "") -> str:
    """One sentence for an AWS failure."""
    if isinstance(exc, AwsError):
        return str(exc)
    if isinstance(exc, ClientError):
        return _explain_client_error(exc, profile, region)
    if isinstance(exc, ProfileNotFound):
        return (
            f"The AWS profile {profile or exc.kwargs.get('profile', '')!r} is not in ~/.aws/config: "
            "fix VERTICALS_AWS_PROFILE or run `aws configure --profile NAME`."
        )
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return (
            "No AWS credentials were found: set VERTICALS_AWS_PROFILE (or AWS_PROFILE), "
            "run `aws configure`, or run where an instance or task role is available."
        )
    if isinstance(exc, (TokenRetrievalError, SSOError)):
        return f"Your AWS SSO session has expired: run `{_profile_hint(profile)}` and retry."
    if isinstance(exc, NoRegionError):
        return "No AWS region is set: set VERTICALS_REGION (or AWS_REGION)."
    if isinstance(exc, EndpointConnectionError):
        return (
            f"Cannot reach the AWS endpoint {exc.kwargs.get('endpoint_url', '')}: "
            "check the network and VERTICALS_REGION."
        )
    if isinstance(exc, BotoCoreError):
        return f"The AWS SDK failed: {exc}"
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def aws_errors(*, profile: str = "", region: str = "") -> Iterator[None]:
    """Re-raise boto3/botocore failures inside the block as :class:`AwsError`."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(explain(exc, profile=profile, region=region)) from exc
