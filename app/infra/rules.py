"""The bus in the template: rules and their targets (for lake targets a companion rule per
detail type of each entity table), target queues and DLQs with their policies, API destinations, log groups.

:func:`deployed_rule_names` says which rules a definition becomes, for the aws backend's
metrics (they are named per rule)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from app.bus.definition import BusDefinition, Rule, Target, TargetKind
from app.bus.patterns import compile_pattern
from app.infra.cfn import ARN, RenderError, get_att, policy, ref, sub
from app.infra.lake import stream_id
from app.infra.records import entity_transformer
from app.lake.tables import EVENTS, TABLES, Table
from app.stack_names import entity_rule_name, logical_id, queue_name


def _allowed_detail_types(matchers: Any, types: Iterable[str]) -> list[str]:
    matcher = compile_pattern({"detail-type": matchers})
    return [t for t in types if matcher.matches({"detail-type": t})]


def restrict_to_detail_types(pattern: Mapping[str, Any], types: Iterable[str]) -> dict[str, Any] | None:
    """``pattern`` AND "detail-type is one of ``types``"; None when nothing could match."""
    allowed = list(types)
    if "detail-type" in pattern:
        allowed = _allowed_detail_types(pattern["detail-type"], allowed)
    if not allowed:
        return None
    narrowed = {**pattern, "detail-type": allowed}
    if "$or" in pattern:
        branches = []
        for branch in pattern["$or"]:
            if "detail-type" not in branch:
                branches.append(branch)
                continue
            kept = _allowed_detail_types(branch["detail-type"], allowed)
            if kept:
                branches.append({**branch, "detail-type": kept})
        if not branches:
            return None
        narrowed = _with_branches(narrowed, branches)
    compile_pattern(narrowed)  # still a valid pattern
    return narrowed


def _with_branches(pattern: dict[str, Any], branches: list[dict[str, Any]]) -> dict[str, Any]:
    """``$or`` needs two branches at least; one left over is merged into the pattern."""
    if len(branches) > 1:
        return {**pattern, "$or": branches}
    rest = {k: v for k, v in pattern.items() if k != "$or"}
    clash = sorted(set(rest) & set(branches[0]) - {"detail-type"})
    if clash:
        raise RenderError(f"cannot narrow a $or pattern that repeats {', '.join(clash)} outside its branches")
    return {**rest, **branches[0]}


# --- rules and their targets ---------------------------------------------------------------


def rule_id(name: str) -> str:
    return logical_id("Rule", name)


def queue_id(name: str) -> str:
    return logical_id("Queue", name)


def _target_common(target: Target, target_id: str | None = None) -> dict[str, Any]:
    common: dict[str, Any] = {"Id": target_id or target.id, "RetryPolicy": target.retry.to_aws()}
    if target.dead_letter_queue:
        common["DeadLetterConfig"] = {"Arn": get_att(queue_id(target.dead_letter_queue), "Arn")}
    if target.input_path:
        common["InputPath"] = target.input_path
    if target.input_transformer:
        common["InputTransformer"] = target.input_transformer
    return common


def _queue_arn(target: Target) -> dict[str, Any]:
    return {"Arn": get_att(queue_id(target.queue_name), "Arn")}


def _api_destination_arn(target: Target) -> dict[str, Any]:
    return {
        "Arn": get_att(logical_id("ApiDestination", target.endpoint or ""), "Arn"),
        "RoleArn": get_att("EventBridgeTargetsRole", "Arn"),
    }


def _log_group_arn(target: Target) -> dict[str, Any]:
    log_group = logical_id("LogGroup", target.log_name)
    return {"Arn": sub(f"{ARN}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:${{{log_group}}}")}


# What a target of each kind points at in the template; lake targets are :func:`lake_target`
# (one Firehose stream per table, so a lake rule fans out into companion rules).
TARGET_ARNS: dict[str, Callable[[Target], dict[str, Any]]] = {
    TargetKind.QUEUE: _queue_arn,
    TargetKind.HTTP: _api_destination_arn,
    TargetKind.LOG: _log_group_arn,
}


def target_spec(target: Target) -> dict[str, Any]:
    """A non-lake target of a rule, as ``AWS::Events::Rule`` Targets wants it."""
    arn = TARGET_ARNS.get(target.kind)
    if arn is None:
        raise RenderError(f"target {target.id}: kind {target.kind} has no template")
    return {**_target_common(target), **arn(target)}


def lake_target(target: Target, table: Table, detail_type: str | None = None) -> dict[str, Any]:
    """A lake target: the raw event to the events stream (no transformer: the stream's SerDe
    maps its keys), or one detail type's transformer into an entity table's stream."""
    common = _target_common(target, target.id if table is EVENTS else f"{target.id}-{table.name}"[:64])
    common.pop("InputPath", None)  # the lake decides what its streams receive
    common.pop("InputTransformer", None)
    spec = {
        **common,
        "Arn": get_att(stream_id(table), "Arn"),
        "RoleArn": get_att("EventBridgeTargetsRole", "Arn"),
    }
    if table is not EVENTS:
        if detail_type is None:
            raise RenderError(f"table {table.name}: an entity table's lake target needs its detail type")
        spec["InputTransformer"] = entity_transformer(table, detail_type)
    return spec


def rule_resource(
    name: str, description: str, pattern: Mapping[str, Any], state: str, targets: list[dict[str, Any]]
) -> dict[str, Any]:
    if len(name) > 64:
        raise RenderError(f"rule name {name!r} is longer than 64 characters")
    return {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "Name": name,
            "Description": description[:512],
            "EventBusName": get_att("EventBus", "Name"),
            "EventPattern": dict(pattern),
            "State": state,
            "Targets": targets,
        },
    }


def rules(definition: BusDefinition, tables: Mapping[str, Table]) -> dict[str, Any]:
    """Every rule of the definition, plus a companion rule per entity table for lake targets."""
    resources: dict[str, Any] = {}
    for rule in definition.rules:
        lake = [t for t in rule.targets if t.kind == TargetKind.LAKE]
        specs = [target_spec(t) for t in rule.targets if t.kind != TargetKind.LAKE]
        specs += [lake_target(t, tables["events"]) for t in lake]
        resources[rule_id(rule.name)] = rule_resource(
            rule.name, rule.description, rule.pattern, rule.state, specs
        )
        if lake:
            for name, table, detail_type, pattern in entity_rules(rule, tables):
                description = f"{rule.description} ({detail_type} into the {table.name} table)"
                resources[rule_id(name)] = rule_resource(
                    name, description, pattern, rule.state, [lake_target(t, table, detail_type) for t in lake]
                )
    return resources


def entity_tables(tables: Mapping[str, Table]) -> list[Table]:
    return [table for name, table in tables.items() if name != EVENTS.name]


def entity_rules(rule: Rule, tables: Mapping[str, Table]) -> list[tuple[str, Table, str, dict[str, Any]]]:
    """A lake rule's companion rules: (name, entity table, detail type, the rule's pattern
    narrowed to that detail type) for each detail type of each entity table the pattern can
    feed. One rule per detail type, so that each transformer places only the fields its
    events always carry (:mod:`app.infra.records`)."""
    companions = []
    for table in entity_tables(tables):
        for detail_type in table.detail_types:
            pattern = restrict_to_detail_types(rule.pattern, [detail_type])
            if pattern is not None:
                companions.append(
                    (entity_rule_name(rule.name, table.name, detail_type), table, detail_type, pattern)
                )
    return companions


def deployed_rule_names(definition: BusDefinition, tables: Mapping[str, Table] = TABLES) -> tuple[str, ...]:
    """The rules the template creates: each rule, and its companion rules when it feeds the lake."""
    names = []
    for rule in definition.rules:
        names.append(rule.name)
        if any(t.kind == TargetKind.LAKE for t in rule.targets):
            names += [name for name, *_ in entity_rules(rule, tables)]
    return tuple(names)


def rules_using(
    definition: BusDefinition,
    tables: Mapping[str, Table],
    *,
    queue: str | None = None,
    dlq: str | None = None,
) -> list[str]:
    """Logical ids of the rules that send to a queue or dead-letter to it."""
    users = []
    for rule in definition.rules:
        if any(
            (queue and t.kind == TargetKind.QUEUE and t.queue_name == queue)
            or (dlq and t.dead_letter_queue == dlq)
            for t in rule.targets
        ):
            users.append(rule_id(rule.name))
            if dlq and any(t.kind == TargetKind.LAKE and t.dead_letter_queue == dlq for t in rule.targets):
                users += [rule_id(name) for name, *_ in entity_rules(rule, tables)]
    return users


def queue_names(definition: BusDefinition) -> list[str]:
    targets = [t.queue_name for r in definition.rules for t in r.targets if t.kind == TargetKind.QUEUE]
    return list(dict.fromkeys(targets))


def queues(definition: BusDefinition, tables: Mapping[str, Table]) -> dict[str, Any]:
    """Target queues and DLQs, and one policy per queue that lets its rules send."""
    resources: dict[str, Any] = {}
    for name, is_dlq in [(q, False) for q in queue_names(definition)] + [
        (q, True) for q in definition.dead_letter_queues
    ]:
        retention = 1_209_600 if is_dlq else 345_600  # 14 days for dead letters, 4 for work queues
        resources[queue_id(name)] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": sub(queue_name("${AWS::StackName}", name)),
                "SqsManagedSseEnabled": True,
                "MessageRetentionPeriod": retention,
            },
        }
        senders = rules_using(definition, tables, **({"dlq": name} if is_dlq else {"queue": name}))
        if senders:
            resources[logical_id("QueuePolicy", name)] = queue_policy(name, senders)
    return resources


def queue_policy(name: str, senders: list[str]) -> dict[str, Any]:
    """EventBridge may send, and only for these rules
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html#eb-dlq-perms)."""
    return {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [ref(queue_id(name))],
            "PolicyDocument": policy(
                {
                    "Sid": "EventBridgeSends",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": get_att(queue_id(name), "Arn"),
                    "Condition": {
                        "ArnEquals": {"aws:SourceArn": [get_att(r, "Arn") for r in sorted(set(senders))]}
                    },
                }
            ),
        },
    }


def endpoints_used(definition: BusDefinition) -> list[str]:
    """The endpoints the rules' HTTP targets call, sorted (each becomes an API destination)."""
    targets = [t for r in definition.rules for t in r.targets]
    return sorted({t.endpoint for t in targets if t.kind == TargetKind.HTTP and t.endpoint})


def http_resources(definition: BusDefinition) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for endpoint in (definition.endpoints[n] for n in endpoints_used(definition)):
        key = logical_id(endpoint.name)
        resources[logical_id("Connection", endpoint.name)] = {
            "Type": "AWS::Events::Connection",
            "Properties": {
                "Description": f"{endpoint.name}: {endpoint.description}"[:512],
                "AuthorizationType": "API_KEY",
                "AuthParameters": {
                    "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": ref(f"{key}ApiKey")}
                },
            },
        }
        resources[logical_id("ApiDestination", endpoint.name)] = {
            "Type": "AWS::Events::ApiDestination",
            "Properties": {
                "ConnectionArn": get_att(logical_id("Connection", endpoint.name), "Arn"),
                "HttpMethod": "POST",
                "InvocationEndpoint": ref(f"{key}Url"),
                "InvocationRateLimitPerSecond": 50,
            },
        }
    return resources


def log_resources(definition: BusDefinition) -> dict[str, Any]:
    logs = sorted({t.log_name for r in definition.rules for t in r.targets if t.kind == TargetKind.LOG})
    resources: dict[str, Any] = {
        logical_id("LogGroup", name): {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": sub(f"/aws/events/${{AWS::StackName}}/{name}"),
                "RetentionInDays": 90,
            },
        }
        for name in logs
    }
    if logs:
        # EventBridge writes to log groups under a resource policy, not a role.
        region_account = "${AWS::Region}:${AWS::AccountId}"
        document = json.dumps(
            policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{ARN}:logs:{region_account}:log-group:/aws/events/${{AWS::StackName}}/*:*",
                    "Condition": {
                        "ArnLike": {
                            "aws:SourceArn": f"{ARN}:events:{region_account}:rule/${{AWS::StackName}}/*"
                        }
                    },
                }
            )
        )
        resources["EventsLogPolicy"] = {
            "Type": "AWS::Logs::ResourcePolicy",
            "Properties": {
                "PolicyName": sub("${AWS::StackName}-events-to-logs"),
                "PolicyDocument": sub(document),
            },
        }
    return resources
