"""Boto3 sessions and the stack's resources, from settings.

Credentials come from boto3's default chain (environment, profile, SSO, instance or task
role); ``aws_profile`` only picks a profile. Nothing is created at import time: callers
build a session with :func:`make_session` and pass it (or clients) down.

The aws backend needs a workgroup, a Glue database and the lake bucket. Each is an
explicit setting, or else a named output of the CloudFormation stack that ``infra/``
deploys (:data:`app.stack_names.OUTPUT_KEYS`); explicit settings win.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
from botocore.config import Config

from app.aws.errors import AwsError, aws_errors
from app.settings import BY_NAME, Settings
from app.stack_names import OUTPUT_KEYS, dlq_output_key, queue_name

# botocore's standard mode retries transient network and 5xx errors and throttling
# (ThrottlingException, TooManyRequestsException …) up to 4 attempts on every client. The
# Athena engine retries a throttled call again with its own backoff (app/engines/athena.py),
# so a call throttled throughout is tried up to 4 × 6 times before its sentence.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=10, read_timeout=60)


def make_session(settings: Settings) -> boto3.Session:
    """A session for the configured profile (or the default chain) and region."""
    with aws_errors(profile=settings.aws_profile, region=settings.region):
        return boto3.Session(profile_name=settings.aws_profile or None, region_name=settings.region or None)


def client(session: boto3.Session, service: str) -> Any:
    return session.client(service, config=CLIENT_CONFIG)


BUFFER_PARAMETER = "FirehoseBufferSeconds"
DEFAULT_BUFFER_S = 300  # the parameter's default in app/infra/parameters.py (a test keeps them equal)


# "When dynamic partitioning is enabled … end-to-end delay of a batch of records might be
# 1.5 times of the configured buffering hint time" (Firehose: buffering.html).
DYNAMIC_PARTITIONING_DELAY = 1.5


def firehose_delay_s(buffer_s: int) -> int:
    """How far behind now the lake may be: 1.5 buffer intervals, as the lake's streams
    partition dynamically (app/infra/lake.py)."""
    return math.ceil(buffer_s * DYNAMIC_PARTITIONING_DELAY)


@dataclass(frozen=True)
class AwsResources:
    region: str
    workgroup: str
    database: str
    lake_bucket: str
    bus_name: str
    stack: str = ""
    audit_log_group: str = ""  # empty: the audit trail stays in the local file
    dead_letter_queue_urls: Mapping[str, str] = field(default_factory=dict)  # queue name -> URL
    # The newest seconds of the lake that may still be in Firehose's buffers
    # (:func:`firehose_delay_s` of the stack's FirehoseBufferSeconds).
    lake_delay_s: int = firehose_delay_s(DEFAULT_BUFFER_S)

    @property
    def location(self) -> str:
        """Where the data is, for the app's backend badge and cache keys."""
        return f"s3://{self.lake_bucket} ({self.stack or self.workgroup}, {self.region})"


def describe_stack(cloudformation: Any, stack: str) -> dict[str, Any]:
    return cloudformation.describe_stacks(StackName=stack)["Stacks"][0]


def outputs_of(described: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """The named outputs of a stack: {OutputKey: OutputValue}."""
    return outputs_of(describe_stack(cloudformation, stack))


def firehose_buffer_s(described: Mapping[str, Any]) -> int:
    """The stack's ``FirehoseBufferSeconds``: how far behind the lake is (the template's
    default when the stack does not list it)."""
    values = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    value = values.get(BUFFER_PARAMETER, "")
    return int(value) if value.isdigit() else DEFAULT_BUFFER_S


def dead_letter_queue_urls(outputs: Mapping[str, str], queue_names: list[str]) -> dict[str, str]:
    """DLQ name -> URL from the outputs, in the bus definition's order."""
    urls = {name: outputs.get(dlq_output_key(name), "") for name in queue_names}
    return {name: url for name, url in urls.items() if url}


def resources_from(settings: Settings, outputs: Mapping[str, str], queue_names: list[str]) -> AwsResources:
    """Explicit settings first, then stack outputs (the bus: the stack's unless set to
    another than the default); one clear error naming what is missing."""
    values = {name: getattr(settings, name) or outputs.get(key, "") for name, key in OUTPUT_KEYS.items()}
    # The template names the bus after the stack: the default bus name yields to the stack's.
    if settings.bus_name == BY_NAME["bus_name"].default and outputs.get(OUTPUT_KEYS["bus_name"]):
        values["bus_name"] = outputs[OUTPUT_KEYS["bus_name"]]
    missing = [name for name in ("athena_workgroup", "athena_database", "lake_bucket") if not values[name]]
    if missing:
        where = (
            f"the stack {settings.stack} has no output for" if settings.stack else "set VERTICALS_STACK or"
        )
        names = ", ".join("VERTICALS_" + m.upper() for m in missing)
        raise AwsError(f"The aws backend does not know its resources: {where} {names}.")
    return AwsResources(
        region=settings.region,
        workgroup=values["athena_workgroup"],
        database=values["athena_database"],
        lake_bucket=values["lake_bucket"],
        bus_name=values["bus_name"],
        stack=settings.stack,
        audit_log_group=values["audit_log_group"],
        dead_letter_queue_urls=dead_letter_queue_urls(outputs, queue_names),
    )


def queue_urls_by_name(sqs: Any, bus: str, queue_names: list[str]) -> dict[str, str]:
    """DLQ URLs without a stack: the template names them ``<bus>-<name>``; missing ones are skipped."""
    urls = {}
    for name in queue_names:
        try:
            urls[name] = sqs.get_queue_url(QueueName=queue_name(bus, name))["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            continue
    return urls


def resolve_resources(settings: Settings, session: boto3.Session, queue_names: list[str]) -> AwsResources:
    """Read the stack's outputs (when a stack is set) and merge the explicit settings."""
    outputs: dict[str, str] = {}
    delay = DEFAULT_BUFFER_S
    with aws_errors(profile=settings.aws_profile, region=settings.region):
        if settings.stack:
            described = describe_stack(client(session, "cloudformation"), settings.stack)
            outputs, delay = outputs_of(described), firehose_buffer_s(described)
        resources = resources_from(settings, outputs, queue_names)
        resources = replace(resources, lake_delay_s=firehose_delay_s(delay))
        if not resources.dead_letter_queue_urls:
            urls = queue_urls_by_name(client(session, "sqs"), resources.bus_name, queue_names)
            resources = replace(resources, dead_letter_queue_urls=urls)
    return resources
