"""Names the CloudFormation template gives things, shared by the renderer (:mod:`app.infra`)
and the code that reads a deployed stack (:mod:`app.aws`).

Neither package owns them: ``app.infra`` deploys through ``app.aws``'s sessions, so
``app.aws`` cannot import from ``app.infra``; both import from here.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9]+")

# Output key of the stack for each setting that may come from it (app/infra/render.py writes them).
OUTPUT_KEYS: dict[str, str] = {
    "athena_workgroup": "AthenaWorkGroup",
    "athena_database": "GlueDatabase",
    "lake_bucket": "LakeBucket",
    "bus_name": "EventBusName",
    "audit_log_group": "AuditLogGroupName",
}
DLQ_OUTPUT_PREFIX = "DeadLetterQueueUrl"  # one output per DLQ: DeadLetterQueueUrl<Name>


def logical_id(*parts: str) -> str:
    """A CloudFormation logical id (alphanumeric) from names such as ``crm-webhook-dlq``."""
    words = [w for part in parts for w in _WORD.findall(part)]
    return "".join(w[:1].upper() + w[1:] for w in words)


def dlq_output_key(queue: str) -> str:
    """The stack output that holds a dead-letter queue's URL."""
    return DLQ_OUTPUT_PREFIX + logical_id(queue)


def queue_name(bus: str, queue: str) -> str:
    """The SQS name of a target queue or DLQ of the bus: ``<bus>-<queue>`` (the template names
    the bus after the stack, so on AWS this is ``<stack>-<queue>``)."""
    return f"{bus}-{queue}"


# Every physical name the template gives is the stack's name plus a suffix, so that two
# stacks (staging beside production) never collide. The properties that name a resource,
# with the longest name each service takes.
STACK = "${AWS::StackName}"
NAME_PROPERTIES: dict[tuple[str, str], int] = {
    ("AWS::Events::EventBus", "Name"): 256,
    ("AWS::Events::Archive", "ArchiveName"): 48,
    ("AWS::SQS::Queue", "QueueName"): 80,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    ("AWS::Logs::ResourcePolicy", "PolicyName"): 255,
    ("AWS::KinesisFirehose::DeliveryStream", "DeliveryStreamName"): 64,
    ("AWS::Athena::WorkGroup", "Name"): 128,
    ("AWS::SNS::Topic", "TopicName"): 256,
    ("AWS::IAM::Role", "RoleName"): 64,
    ("AWS::Events::Connection", "Name"): 64,
    ("AWS::Events::ApiDestination", "Name"): 64,
    ("AWS::CloudWatch::Alarm", "AlarmName"): 255,
    ("AWS::KMS::Alias", "AliasName"): 256,
}


def stack_scoped_suffix(value: object) -> str | None:
    """``"-x"`` for ``{"Fn::Sub": "${AWS::StackName}-x"}``, ``""`` for ``{"Ref": "AWS::StackName"}``,
    None for a name that does not start with the stack's."""
    if value == {"Ref": "AWS::StackName"}:
        return ""
    if (
        isinstance(value, dict)
        and isinstance(value.get("Fn::Sub"), str)
        and value["Fn::Sub"].startswith(STACK)
    ):
        return value["Fn::Sub"][len(STACK) :]
    return None


def physical_names(template: dict) -> list[tuple[str, str, object, int]]:
    """(logical id, property, value, longest allowed) of every name the template gives."""
    found = []
    for rid, resource in template.get("Resources", {}).items():
        for (kind, prop), limit in NAME_PROPERTIES.items():
            if resource.get("Type") == kind and prop in resource.get("Properties", {}):
                found.append((rid, prop, resource["Properties"][prop], limit))
    return found


def stack_name_problems(stack: str, template: dict, *, glue_database_given: bool) -> list[str]:
    """Why ``stack`` cannot name this template's resources (empty: it can)."""
    suffixes = [
        (f"{rid}.{prop}", suffix, limit)
        for rid, prop, value, limit in physical_names(template)
        if (suffix := stack_scoped_suffix(value)) is not None
    ]
    problems = [
        f"{what} {stack}{suffix} would be longer than {limit} characters"
        for what, suffix, limit in suffixes
        if len(stack) + len(suffix) > limit
    ]
    if not glue_database_given and not re.fullmatch(r"[a-z][a-z0-9-]*", stack):
        problems.append(
            f"the Glue database is named after the stack ({stack.replace('-', '_')}) and Glue/Athena "
            "names are lower case: use a lower-case stack name or pass GlueDatabaseName=<name>"
        )
    return problems


def entity_rule_name(rule: str, table: str, detail_type: str) -> str:
    """The companion rule that feeds a lake rule's events of one detail type into its entity table."""
    return f"{rule}-{table}-{detail_type}"


def delivery_stream_name(stack: str, table: str) -> str:
    """The Firehose stream that writes a lake table: ``<stack>-<table>`` (app/infra/lake.py)."""
    return f"{stack}-{table}"


def firehose_errors_prefix(table: str) -> str:
    """Where a lake table's stream puts the records it could not convert or deliver."""
    return f"_firehose_errors/{table}/"
