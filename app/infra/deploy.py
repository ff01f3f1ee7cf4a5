"""Stand the stack up, read its outputs, take it down — with boto3 clients passed in.

Deploy goes through a change set (CREATE or UPDATE), so an update shows what it will do
and an unchanged template is a no-op rather than an error
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html).
The rendered template is larger than the 51,200 bytes CreateChangeSet takes inline, so it
is uploaded to a template bucket first (created on first use, private and encrypted).
Progress comes back as the stack's events, oldest first, while the change runs.
Destroy deletes the stack; the lake and results buckets stay (DeletionPolicy Retain).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from app.aws.errors import AwsError, error_code
from app.aws.session import stack_outputs
from app.stack_names import stack_name_problems

MAX_INLINE_BODY = 51_200
CAPABILITIES = ["CAPABILITY_IAM"]
SUCCEEDED = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"})
FAILED = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "DELETE_FAILED",
        "UPDATE_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass(frozen=True)
class StackEvent:
    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str = ""

    def line(self) -> str:
        reason = f"  {self.reason}" if self.reason else ""
        return (
            f"{self.timestamp:%H:%M:%S}  {self.status:<28} {self.resource_type:<36} {self.logical_id}{reason}"
        )


@dataclass
class DeployResult:
    stack: str
    status: str
    changed: bool
    outputs: dict[str, str] = field(default_factory=dict)


# --- pure helpers ------------------------------------------------------------------------


def parse_parameter_overrides(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings from the command line."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise AwsError(f"--parameter {pair!r} is not KEY=VALUE")
        values[key.strip()] = value
    return values


def change_set_parameters(
    template: Mapping[str, Any], given: Mapping[str, str], previous: Collection[str] | None
) -> list[dict[str, Any]]:
    """CloudFormation Parameters: the given values; on an update (``previous``: the parameter
    keys the deployed stack has), the previous value of each of those not given, so NoEcho
    keys need not be typed again. A key the deployed stack lacks (the template gained it)
    takes its Default: CloudFormation refuses UsePreviousValue for a key "not in the
    previous template"."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise AwsError(f"the template has no parameter {', '.join(unknown)}; it has {', '.join(declared)}")
    kept = set(previous or ())
    missing = [
        k for k, spec in declared.items() if k not in given and k not in kept and "Default" not in spec
    ]
    if missing:
        first = "a first deploy" if previous is None else "this update (the template gained it)"
        raise AwsError(f"{first} needs a value for {', '.join(missing)}: pass --parameter {missing[0]}=…")
    listed: list[dict[str, Any]] = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in given.items()]
    listed += [
        {"ParameterKey": k, "UsePreviousValue": True} for k in declared if k in kept and k not in given
    ]
    return listed


# S3 refuses a lifecycle rule whose Glacier Instant Retrieval transition comes less than 30
# days after its Standard-IA one (objects stay 30 days in Standard-IA), and CloudFormation's
# Rules cannot compare numbers: checked here, before a change set is made, rather than by a
# rolled-back bucket update.
IA_DAYS, GLACIER_IR_DAYS = "LakeInfrequentAccessDays", "LakeGlacierInstantRetrievalDays"
DAYS_IN_IA = 30


def lifecycle_problem(
    template: Mapping[str, Any], given: Mapping[str, str], previous: Mapping[str, str]
) -> str | None:
    """One sentence when the lake's lifecycle days the stack would get (given, else the
    deployed stack's, else the template's default) are ones S3 refuses."""
    declared = template.get("Parameters", {})
    if IA_DAYS not in declared or GLACIER_IR_DAYS not in declared:
        return None

    def days(name: str) -> int | None:
        value = given.get(name, previous.get(name, declared[name].get("Default")))
        try:
            return int(str(value))
        except ValueError:
            return None  # CloudFormation refuses a Number parameter that is not one

    ia, glacier = days(IA_DAYS), days(GLACIER_IR_DAYS)
    if ia is None or glacier is None or glacier >= ia + DAYS_IN_IA:
        return None
    return (
        f"{GLACIER_IR_DAYS}={glacier} must be at least {DAYS_IN_IA} days after {IA_DAYS}={ia} "
        f"(S3 keeps objects {DAYS_IN_IA} days in Standard-IA): "
        f"give {GLACIER_IR_DAYS}={ia + DAYS_IN_IA} or more"
    )


def template_key(stack: str, body: str) -> str:
    return f"templates/{stack}/{hashlib.sha256(body.encode()).hexdigest()[:16]}.json"


def events_from(raw: Sequence[Mapping[str, Any]]) -> list[StackEvent]:
    return [
        StackEvent(
            e["Timestamp"],
            e["LogicalResourceId"],
            e["ResourceType"],
            e["ResourceStatus"],
            e.get("ResourceStatusReason", ""),
        )
        for e in raw
    ]


# --- calls ---------------------------------------------------------------------------------


def describe_stack(cfn: Any, stack: str) -> dict[str, Any] | None:
    """The stack, or None when there is none (or only an empty REVIEW_IN_PROGRESS shell)."""
    try:
        found = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            return None
        raise
    return None if found["StackStatus"] == "REVIEW_IN_PROGRESS" else found


def template_bucket_name(sts: Any, region: str) -> str:
    return f"verticals-cfn-templates-{sts.get_caller_identity()['Account']}-{region}"


def ensure_template_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **config)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )


def template_source(body: str, stack: str, s3: Any, bucket: str | None, region: str) -> dict[str, str]:
    """``TemplateBody`` when it fits, else upload and ``TemplateURL``."""
    if len(body.encode()) <= MAX_INLINE_BODY:
        return {"TemplateBody": body}
    if not bucket:
        raise AwsError("the template is larger than 51,200 bytes and no template bucket was given")
    key = template_key(stack, body)
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    return {"TemplateURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}"}


class StackWatcher:
    """Polls a stack until it settles, reporting each new event once."""

    def __init__(
        self,
        cfn: Any,
        stack_id: str,
        on_event: Callable[[StackEvent], None],
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 5.0,
        timeout_s: float = 3600.0,
    ):
        self.cfn, self.stack_id, self.on_event = cfn, stack_id, on_event
        self.sleep, self.poll_s, self.timeout_s = sleep, poll_s, timeout_s
        self.seen: set[str] = set()
        self.since = datetime.now(UTC)

    def mark_seen(self) -> None:
        """Events so far belong to earlier operations."""
        self.seen |= {e["EventId"] for e in self._raw_events()}

    def wait(self) -> str:
        waited = 0.0
        while True:
            self._report()
            status = self.cfn.describe_stacks(StackName=self.stack_id)["Stacks"][0]["StackStatus"]
            if status in SUCCEEDED or status in FAILED:
                self._report()
                return status
            if waited >= self.timeout_s:
                raise AwsError(
                    f"the stack is still {status} after {self.timeout_s:.0f} s; watch it in the console"
                )
            self.sleep(self.poll_s)
            waited += self.poll_s

    def _raw_events(self) -> list[dict[str, Any]]:
        pages = self.cfn.get_paginator("describe_stack_events").paginate(StackName=self.stack_id)
        return [e for page in pages for e in page["StackEvents"]]

    def _report(self) -> None:
        fresh = [e for e in self._raw_events() if e["EventId"] not in self.seen]
        self.seen |= {e["EventId"] for e in fresh}
        for event in sorted(events_from(fresh), key=lambda e: e.timestamp):
            self.on_event(event)


def _wait_for_change_set(
    cfn: Any, stack: str, name: str, sleep: Callable[[float], None]
) -> dict[str, Any] | None:
    """The created change set, or None when it holds no changes."""
    while True:
        described = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
        status = described["Status"]
        if status in ("CREATE_COMPLETE",):
            return described
        if status == "FAILED":
            reason = described.get("StatusReason", "")
            if any(text in reason for text in NO_CHANGES):
                cfn.delete_change_set(StackName=stack, ChangeSetName=name)
                return None
            raise AwsError(f"CloudFormation refused the change: {reason}")
        sleep(2.0)


def _all_changes(cfn: Any, stack: str, name: str, described: dict[str, Any]) -> list[dict[str, Any]]:
    """Every change of the change set: DescribeChangeSet answers a page of them (about a
    hundred; the stack has more resources) and a ``NextToken`` for the rest."""
    changes = list(described.get("Changes", []))
    token = described.get("NextToken")
    while token:
        page = cfn.describe_change_set(StackName=stack, ChangeSetName=name, NextToken=token)
        changes += page.get("Changes", [])
        token = page.get("NextToken")
    return changes


def deploy(
    cfn: Any,
    s3: Any,
    stack: str,
    template: Mapping[str, Any],
    body: str,
    parameters: Mapping[str, str],
    *,
    template_bucket: str | None,
    region: str,
    on_event: Callable[[StackEvent], None] = lambda e: None,
    on_change: Callable[[dict], None] = lambda c: None,
    sleep: Callable[[float], None] = time.sleep,
) -> DeployResult:
    """Create or update ``stack`` through a change set, follow it, return its outputs."""
    existing = describe_stack(cfn, stack)
    previous = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in (existing or {}).get("Parameters", [])
    }
    glue_named = bool(parameters.get("GlueDatabaseName") or previous.get("GlueDatabaseName"))
    problems = stack_name_problems(stack, dict(template), glue_database_given=glue_named)
    if problems:
        raise AwsError(f"the stack name {stack} cannot name its resources: " + "; ".join(problems))
    lifecycle = lifecycle_problem(template, parameters, previous if existing else {})
    if lifecycle:
        raise AwsError(f"the stack {stack} would get a lake lifecycle S3 refuses: {lifecycle}")
    if existing and existing["StackStatus"] == "ROLLBACK_COMPLETE":
        raise AwsError(
            f"the stack {stack} failed to create and must be removed first: python -m app infra destroy "
            f"--stack {stack}"
        )
    updating = existing is not None
    name = f"verticals-{datetime.now(UTC):%Y%m%d%H%M%S}"
    try:
        created = cfn.create_change_set(
            StackName=stack,
            ChangeSetName=name,
            ChangeSetType="UPDATE" if updating else "CREATE",
            Capabilities=CAPABILITIES,
            Parameters=change_set_parameters(
                template,
                parameters,
                [p["ParameterKey"] for p in existing.get("Parameters", [])] if existing else None,
            ),
            Description="python -m app infra deploy",
            **template_source(body, stack, s3, template_bucket, region),
        )
    except ClientError as exc:
        if existing is not None and any(text in str(exc) for text in NO_CHANGES):
            return DeployResult(
                stack, existing["StackStatus"], changed=False, outputs=stack_outputs(cfn, stack)
            )
        raise
    described = _wait_for_change_set(cfn, stack, name, sleep)
    if described is None:
        # No changes: only an update can have none (a create always adds the stack's resources).
        status = existing["StackStatus"] if existing else "UNKNOWN"
        return DeployResult(stack, status, changed=False, outputs=stack_outputs(cfn, stack))
    for change in _all_changes(cfn, stack, name, described):
        on_change(change.get("ResourceChange", {}))
    watcher = StackWatcher(cfn, created["StackId"], on_event, sleep)
    watcher.mark_seen()
    cfn.execute_change_set(StackName=stack, ChangeSetName=name)
    status = watcher.wait()
    if status not in SUCCEEDED:
        raise AwsError(
            f"the stack {stack} ended {status}; the events above say which resource failed and why"
        )
    return DeployResult(stack, status, changed=True, outputs=stack_outputs(cfn, stack))


def destroy(
    cfn: Any,
    stack: str,
    *,
    on_event: Callable[[StackEvent], None] = lambda e: None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Delete the stack (the retained buckets stay) and follow it to the end."""
    existing = describe_stack(cfn, stack)
    if existing is None:
        raise AwsError(f"there is no stack {stack} to remove")
    watcher = StackWatcher(cfn, existing["StackId"], on_event, sleep)
    watcher.mark_seen()
    cfn.delete_stack(StackName=stack)
    status = watcher.wait()
    if status != "DELETE_COMPLETE":
        raise AwsError(f"the stack {stack} ended {status}; the events above say what could not be removed")
    return status
