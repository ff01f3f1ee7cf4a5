"""The rule EventBridge manages for each archive: ``Events-Archive-<archive name>``.

EventBridge feeds an archive through a rule it creates on the archive's bus and deletes
with the archive. Here archives are fed directly (:meth:`LocalBus._route`), so the managed
rule is a *view* of each archive: ListRules and DescribeRule show it, ListTargetsByRule its
target, and changing it answers ``ManagedRuleException`` — it never delivers an event, so
an archive stores exactly what it stored before and no event is delivered twice.

What it looks like, per moto's ``events`` backend and tests (``ManagedBy``
``prod.vhs.events.aws.internal``, the archive's pattern with ``"replay-name": [{"exists":
false}]`` added, no description), which the AWS Toolkit for VS Code also reads from real
accounts to tell an archive's rule. The exception's words are another emulator's; the API
reference is silent on them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from app.bus.api import _page
from app.events import BusError, ValidationException

if TYPE_CHECKING:
    from app.bus.api import BusApi
    from app.bus.archive import Archive

PREFIX = "Events-Archive-"
MANAGED_BY = "prod.vhs.events.aws.internal"


class ManagedRuleException(BusError):
    code = "ManagedRuleException"
    status = 400


def _archive_of(api: BusApi, name: Any) -> Archive | None:
    """The archive whose managed rule ``name`` is (None: not a managed rule of this bus; a
    rule made through PutRule under such a name stays the user's)."""
    if not isinstance(name, str) or not name.startswith(PREFIX) or name in api.bus.rules:
        return None
    return api.bus.archives.archives.get(name.removeprefix(PREFIX))


def pattern_text(archive: Archive) -> str:
    return json.dumps({**(archive.pattern or {}), "replay-name": [{"exists": False}]})


def describe(api: BusApi, archive: Archive) -> dict:
    name = PREFIX + archive.name
    return {
        "Name": name,
        "Arn": api.bus.rule_arn(name),
        "EventPattern": pattern_text(archive),
        "State": "ENABLED",
        "EventBusName": api.bus.name,
        "ManagedBy": MANAGED_BY,
        "CreatedBy": api.bus.account,
    }


def _refuse(name: str, force: Any, has_force: bool) -> None:
    if force is True:
        raise ValidationException(
            f"{name} is the rule of an archive: the local bus keeps it as long as the archive "
            "exists (delete the archive instead)."
        )
    suffix = " Set 'force' parameter to true to override." if has_force else ""
    raise ManagedRuleException(f"{name} is a managed rule.{suffix}")


def call(api: BusApi, operation: str, request: dict) -> dict | None:
    """The answer when ``operation`` concerns a managed rule; None: the bus's API answers."""
    if operation == "ListRules":
        return _list_rules(api, request)
    key = "Rule" if operation in ("PutTargets", "RemoveTargets", "ListTargetsByRule") else "Name"
    if operation not in MANAGED_OPERATIONS:
        return None
    archive = _archive_of(api, request.get(key))
    if archive is None:
        return None
    name = PREFIX + archive.name
    if operation == "DescribeRule":
        return describe(api, archive)
    if operation == "ListTargetsByRule":
        return _page([_target(api, archive)], request, "Targets")
    _refuse(name, request.get("Force"), has_force=operation in ("DeleteRule", "RemoveTargets"))
    return None  # unreachable: _refuse raises


def _list_rules(api: BusApi, request: dict) -> dict:
    prefix = request.get("NamePrefix") or ""
    rules = {n: api.describe(r) for n, r in api.bus.rules.items()}
    for archive in api.bus.archives.archives.values():
        rules.setdefault(PREFIX + archive.name, describe(api, archive))
    return _page([rules[n] for n in sorted(rules) if n.startswith(prefix)], request, "Rules")


def _target(api: BusApi, archive: Archive) -> dict:
    # moto's shape of the managed rule's target (the archive's own id is left out).
    template = {
        "archive-arn": api._arn("archive", archive.name),
        "event": "<aws.events.event.json>",
        "ingestion-time": "<aws.events.event.ingestion-time>",
    }
    return {
        "Id": PREFIX + archive.name,
        "Arn": f"arn:aws:events:{api.bus.region}:::",
        "InputTransformer": {"InputPathsMap": {}, "InputTemplate": json.dumps(template)},
    }


MANAGED_OPERATIONS = (
    "DescribeRule",
    "ListTargetsByRule",
    "PutRule",
    "DeleteRule",
    "EnableRule",
    "DisableRule",
    "PutTargets",
    "RemoveTargets",
)
