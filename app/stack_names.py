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
    """The SQS name of a target queue or DLQ of the bus: ``<bus>-<queue>``."""
    return f"{bus}-{queue}"


def entity_rule_name(rule: str, table: str, detail_type: str) -> str:
    """The companion rule that feeds a lake rule's events of one detail type into its entity table."""
    return f"{rule}-{table}-{detail_type}"
