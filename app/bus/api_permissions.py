"""PutPermission and RemovePermission: an event bus's resource policy, stored and shown.

Each bus's policy is kept in ``<state>/policies.json`` by bus ARN (it survives a restart;
a deleted bus loses it) and answered by DescribeEventBus as ``Policy``, a JSON string. The
local bus checks no signatures and has no IAM, so the policy is never enforced: any caller
may PutEvents to any bus of the account it names (docs/bus-api.md, "Permissions").

Shapes and behaviour follow localstack's AWS-validated snapshots (``test_events.py``
``test_put_permission``, ``test_remove_permission``, ``..._non_existing_sid``): each
StatementId is a statement of its own (one principal may have several), the same
StatementId again replaces its statement, a principal account becomes
``{"AWS": "arn:aws:iam::ACCOUNT:root"}``, and a whole ``Policy`` document replaces every
statement. Parameter checks follow the API reference's constraints.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.bus.api_archive import _constraint
from app.bus.definition import ResourceNotFoundException
from app.events import BusError, ValidationException

if TYPE_CHECKING:
    from app.bus.api_buses import EventsApi
    from app.bus.buses import Scope

PATTERN = "Member must satisfy regular expression pattern: "
PRINCIPAL = re.compile(r"^(\d{12}|\*)\Z")
STATEMENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}\Z")
ACTION = re.compile(r"^events:[a-zA-Z]+\Z")
BUS_NAME = re.compile(r"^[\.\-_A-Za-z0-9]{1,256}\Z")
MAX_POLICY_BYTES = 10_240  # a resource policy's size quota (eb-quota.html: 10 KB)


class PolicyLengthExceededException(BusError):
    code = "PolicyLengthExceededException"
    status = 400


class PolicyStore:
    """Resource policies by event bus ARN: ``<state>/policies.json``."""

    def __init__(self, path: Path):
        self.path = path
        self.policies: dict[str, dict] = json.loads(path.read_text()) if path.exists() else {}

    def get(self, arn: str) -> dict | None:
        return self.policies.get(arn)

    def set(self, arn: str, policy: dict | None) -> None:
        if policy is None or not policy.get("Statement"):
            self.policies.pop(arn, None)
        else:
            self.policies[arn] = policy
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.policies, indent=1))
        os.replace(tmp, self.path)

    def text(self, arn: str) -> str | None:
        policy = self.get(arn)
        return None if policy is None else json.dumps(policy)


def _bus_arn(api: EventsApi, request: dict, scope: Scope) -> str:
    """The request's bus (``EventBusName``: a name, as ``NonPartnerEventBusName`` is)."""
    name = request.get("EventBusName")
    if name is not None and (not isinstance(name, str) or not BUS_NAME.match(name)):
        raise _constraint(name, "eventBusName", PATTERN + r"[\.\-_A-Za-z0-9]+")
    return api.registry.get(scope, name).bus.arn


def _statement(request: dict, resource: str) -> dict:
    keys = ("Action", "Principal", "StatementId", "Condition")
    action, principal, sid, condition = (request.get(k) for k in keys)
    for key, value in (("action", action), ("principal", principal), ("statementId", sid)):
        if value is None:
            raise _constraint(None, key, "Member must not be null")
    if not isinstance(sid, str) or not STATEMENT_ID.match(sid):
        raise _constraint(sid, "statementId", PATTERN + "[a-zA-Z0-9-_]+")
    if not isinstance(principal, str) or not PRINCIPAL.match(principal):
        raise _constraint(principal, "principal", PATTERN + r"(\d{12}|\*)")
    if not isinstance(action, str) or not ACTION.match(action):
        raise _constraint(action, "action", PATTERN + "events:[a-zA-Z]+")
    if action != "events:PutEvents":
        raise ValidationException("Provided value in parameter 'action' is not supported.")
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": action,
        "Resource": resource,
    }
    if condition is not None:
        if principal != "*":
            raise ValidationException(
                "Value of the parameter 'principal' must be '*' when the parameter 'condition' is set."
            )
        if not isinstance(condition, dict) or any(not condition.get(k) for k in ("Type", "Key", "Value")):
            raise ValidationException("Parameter Condition must have Type, Key and Value.")
        # The API reference: StringEquals on aws:PrincipalOrgID is the only condition there is.
        if (condition["Type"], condition["Key"]) != ("StringEquals", "aws:PrincipalOrgID"):
            raise ValidationException(
                "Parameter Condition is not valid: "
                "only Type StringEquals with Key aws:PrincipalOrgID is supported."
            )
        statement["Condition"] = {condition["Type"]: {condition["Key"]: condition["Value"]}}
    return statement


def _policy_document(text: Any) -> dict:
    try:
        policy = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        policy = None
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), list):
        raise ValidationException("This policy contains invalid Json")
    return policy


def put_permission(api: EventsApi, request: dict, scope: Scope) -> dict:
    arn = _bus_arn(api, request, scope)
    if request.get("Policy") is not None:
        if any(request.get(k) is not None for k in ("Action", "Principal", "StatementId", "Condition")):
            raise ValidationException(
                "Parameter Policy cannot be combined with Action, Principal, StatementId or Condition."
            )
        policy = _policy_document(request["Policy"])
    else:
        statement = _statement(request, arn)
        current = api.policies.get(arn) or {"Version": "2012-10-17", "Statement": []}
        # The same StatementId again replaces its statement, where it stood.
        sids = [s.get("Sid") for s in current["Statement"]]
        statements = [s for s in current["Statement"] if s.get("Sid") != statement["Sid"]]
        index = sids.index(statement["Sid"]) if statement["Sid"] in sids else len(statements)
        statements.insert(index, statement)
        policy = {**current, "Statement": statements}
    if len(json.dumps(policy).encode()) > MAX_POLICY_BYTES:
        raise PolicyLengthExceededException("The policy is larger than the maximum of 10240 bytes.")
    api.policies.set(arn, policy)
    return {}


def remove_permission(api: EventsApi, request: dict, scope: Scope) -> dict:
    arn = _bus_arn(api, request, scope)
    if request.get("RemoveAllPermissions") is True:
        api.policies.set(arn, None)
        return {}
    sid = request.get("StatementId")
    if sid is None:
        raise ValidationException("Parameter StatementId is required.")
    policy = api.policies.get(arn) or {"Statement": []}
    kept = [s for s in policy["Statement"] if s.get("Sid") != sid]
    if len(kept) == len(policy["Statement"]):
        raise ResourceNotFoundException("Statement with the provided id does not exist.")
    api.policies.set(arn, {**policy, "Statement": kept})
    return {}


PERMISSION_OPERATIONS: dict[str, Callable[[EventsApi, dict, Scope], dict]] = {
    "PutPermission": put_permission,
    "RemovePermission": remove_permission,
}
