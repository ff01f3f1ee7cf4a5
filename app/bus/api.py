"""EventBridge's API over the local bus: operations take and return EventBridge's JSON shapes.

The HTTP server (:mod:`app.bus.server`) maps ``X-Amz-Target: AWSEvents.<Op>`` to
:meth:`BusApi.call`. Request and response fields follow the API reference
(https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Operations.html); errors
are :class:`~app.events.BusError` subclasses carrying EventBridge's exception names.

Rules created or changed through the API are kept in ``<state>/rules.json``
(:mod:`app.bus.rule_store`) and laid over ``infra/bus.yaml``'s rules at start, so they
survive a restart. Archives and replays
(:mod:`app.bus.api_archive`, :mod:`app.bus.archive`) are kept beside them.

Target ``Arn`` kinds the local bus understands: ``arn:aws:firehose:…`` (the lake),
``arn:aws:sqs:…:<queue>``, ``arn:aws:logs:…:log-group:<name>``,
``arn:aws:events:…:api-destination/<endpoint>`` (an ``endpoints`` entry of bus.yaml) and —
a local extension — a plain ``http://`` URL for an HTTP consumer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from app import clock
from app.bus.api_archive import ArchiveOperations, RunReplay
from app.bus.definition import (
    MAX_TARGETS,
    NAME_RE,
    LimitExceededException,
    ResourceNotFoundException,
    RetryPolicy,
    Rule,
    Target,
    TargetKind,
)
from app.bus.dlq import QUEUE_NAME
from app.bus.local import DEFAULT_BUS, LocalBus
from app.bus.patterns import compile_pattern
from app.bus.patterns.errors import InvalidEventPatternException
from app.bus.rule_store import RuleStore
from app.bus.schedule import MAX_LENGTH, ScheduleError, parse_schedule
from app.bus.targets import target_fields_from_arn
from app.events import ValidationException, is_text

Deliver = Callable[[list[dict], datetime], None]
# TestEventPattern's mandatory envelope fields (API_TestEventPattern.html, less ``resources``).
EVENT_MANDATORY_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


class BusApi(ArchiveOperations):
    """``deliver`` routes accepted PutEvents entries and ``run_replay`` runs a started replay;
    both default to doing it at once (the server hands them to its worker threads)."""

    def __init__(
        self,
        bus: LocalBus,
        store: RuleStore,
        deliver: Deliver | None = None,
        run_replay: RunReplay | None = None,
        bus_exists: Callable[[str], bool] | None = None,
    ):
        """``bus_exists``: whether an event bus ARN names a bus of the account (StartReplay's
        cross-bus check; default: only this bus)."""
        self.bus = bus
        self.bus_exists = bus_exists or (lambda arn: arn == bus.arn)
        self.store = store
        self.deliver = deliver or (lambda events, now: bus.publish(events, ingested_at=now))
        self.run_replay = run_replay or bus.run_replay
        self.yaml_rules = {r.name for r in bus.definition.rules}
        _, self.deleted = store.load()

    @staticmethod
    def page(items: list[dict], request: dict, key: str) -> dict:
        return _page(items, request, key)

    def call(self, operation: str, request: dict) -> dict:
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise UnknownOperationException(f"Operation {operation} is not supported by the local bus.")
        if not isinstance(request, dict):
            raise SerializationException("The request body must be a JSON object.")
        return handler(self, request)

    # -- helpers -----------------------------------------------------------------------
    def _check_bus(self, name: Any) -> None:
        """A request's EventBusName, by name or ARN: this bus (None: the caller chose it, as
        :mod:`app.bus.api_buses` does for every request)."""
        if name in (None, self.bus.name) or name == self.bus.arn:
            return
        raise ResourceNotFoundException(f"Event bus {str(name).rsplit('/', 1)[-1]} does not exist.")

    def _bus_arn(self) -> str:
        return f"arn:aws:events:{self.bus.region}:{self.bus.account}:event-bus/{self.bus.name}"

    def _rule(self, request: dict, key: str = "Name") -> Rule:
        self._check_bus(request.get("EventBusName"))
        name = _required(request, key)
        rule = self.bus.rules.get(name)
        if rule is None:
            raise ResourceNotFoundException(f"Rule {name} does not exist on EventBus {self.bus.name}.")
        return rule

    def _save(self, rule: Rule | None, name: str) -> None:
        if rule is None:
            self.bus.remove_rule(name)
            if name in self.yaml_rules:
                self.deleted.add(name)
        else:
            self.bus.add_rule(rule)
            self.deleted.discard(name)
        changed = [
            r
            for r in self.bus.rules.values()
            if r.name not in self.yaml_rules or r != self.bus.definition.rule(r.name)
        ]
        self.store.save(changed, self.deleted)

    def describe(self, rule: Rule) -> dict:
        out = {
            "Name": rule.name,
            "Arn": self.bus.rule_arn(rule.name),
            "State": rule.state,
            "EventBusName": self.bus.name,
            "CreatedBy": self.bus.account,
        }
        if rule.matches_events:
            out["EventPattern"] = rule.pattern_json
        if rule.schedule:
            out["ScheduleExpression"] = rule.schedule
        if rule.description:
            out["Description"] = rule.description
        if rule.role_arn:
            out["RoleArn"] = rule.role_arn
        return out

    def target_to_aws(self, target: Target) -> dict:
        arn = (
            target.endpoint
            if target.kind == TargetKind.HTTP and _is_url(target.endpoint)
            else self.bus.target_arn(target)
        )
        out: dict[str, Any] = {"Id": target.id, "Arn": arn, "RetryPolicy": target.retry.to_aws()}
        if target.role_arn:
            out["RoleArn"] = target.role_arn
        if target.dead_letter_queue:
            out["DeadLetterConfig"] = {
                "Arn": target.dead_letter_arn
                or f"arn:aws:sqs:{self.bus.region}:{self.bus.account}:{target.dead_letter_queue}"
            }
        if target.input_path:
            out["InputPath"] = target.input_path
        if target.input_transformer:
            out["InputTransformer"] = target.input_transformer
        if target.input is not None:
            out["Input"] = target.input
        return out

    def target_from_aws(self, raw: dict) -> Target:
        target_id = _required(raw, "Id")
        if not isinstance(target_id, str) or not NAME_RE.match(target_id):
            raise ValidationException(
                f"Target Id {target_id!r} must be 1-64 letters, digits, '.', '-' or '_'."
            )
        arn = _required(raw, "Arn")
        kind, fields = self._kind_of(arn)
        try:
            retry = RetryPolicy.from_aws(raw.get("RetryPolicy"))
        except ValueError as exc:
            raise ValidationException(str(exc)) from None
        dlq_arn = (raw.get("DeadLetterConfig") or {}).get("Arn")
        if dlq_arn is not None and not (
            str(dlq_arn).startswith("arn:aws:sqs:") and QUEUE_NAME.match(str(dlq_arn).rsplit(":", 1)[-1])
        ):
            raise ValidationException(f"DeadLetterConfig Arn {str(dlq_arn)[:300]} is not an SQS queue ARN.")
        target = Target(
            id=target_id,
            kind=kind,
            retry=retry,
            input_path=raw.get("InputPath"),
            input_transformer=raw.get("InputTransformer"),
            input=raw.get("Input"),
            dead_letter_queue=dlq_arn.rsplit(":", 1)[-1] if dlq_arn else None,
            arn=None if _is_url(arn) else arn,  # a URL target answers with its URL (endpoint)
            role_arn=raw.get("RoleArn"),
            dead_letter_arn=dlq_arn,
            **fields,
        )
        target.input_transform()  # raises PutTargets' ValidationException
        return target

    def _kind_of(self, arn: str) -> tuple[str, dict]:
        if _is_url(arn):
            if not _reachable_url(arn):  # a URL the delivery cannot parse failed every later rule
                raise ValidationException(f"Target Arn {arn[:300]!r} is not a URL a request can go to.")
            return TargetKind.HTTP, {"endpoint": arn}
        parts = str(arn).split(":", 5)
        if len(parts) < 6 or parts[0] != "arn":
            raise ValidationException(
                f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
            )
        fields = target_fields_from_arn(service=parts[2], resource=parts[5])
        if fields is not None and "log" in fields and not LOG_GROUP.match(str(fields["log"])):
            raise ValidationException(
                f"Target Arn {arn[:300]!r} is not valid: a log group name is 1-512 letters, digits, "
                "'.', '-', '_', '/' or '#'."
            )
        if fields is not None:
            kind = fields.pop("kind")
            if kind == TargetKind.HTTP and fields["endpoint"] not in self.bus.definition.endpoints:
                raise ResourceNotFoundException(f"API destination {fields['endpoint']} does not exist.")
            return kind, fields
        raise ValidationException(
            f"Target Arn {arn} is not a target kind the local bus supports "
            "(firehose, sqs, logs, events api-destination, or an http:// URL)."
        )

    # -- operations --------------------------------------------------------------------
    def put_events(self, request: dict) -> dict:
        now = clock.now()
        response, accepted = self.bus.accept_entries(_required(request, "Entries"), now)
        if accepted:
            self.deliver(accepted, now)
        return response

    def put_rule(self, request: dict) -> dict:
        self._check_bus(request.get("EventBusName"))
        name = _required(request, "Name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ValidationException(f"Rule name {name!r} must be 1-64 letters, digits, '.', '-' or '_'.")
        text, schedule = request.get("EventPattern"), request.get("ScheduleExpression")
        if not text and not schedule:
            raise ValidationException("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        if schedule:
            check_schedule(schedule, self.bus.name)
        if text:
            if isinstance(text, str) and not is_text(text):  # half a UTF-16 pair: no file can hold it
                raise InvalidEventPatternException(
                    "Event pattern is not valid. Reason: it is not valid Unicode."
                )
            compile_pattern(text)  # raises InvalidEventPatternException
        state = request.get("State", "ENABLED")
        if state not in ("ENABLED", "DISABLED"):
            raise ValidationException(f"State {state!r} must be ENABLED or DISABLED.")
        existing = self.bus.rules.get(name)
        if existing is None and len(self.bus.rules) >= 300:
            raise LimitExceededException("The requested resource exceeds the maximum number allowed.")
        targets = existing.targets if existing else ()
        rule = Rule(
            name,
            json.loads(text) if text else {},
            targets,
            request.get("Description", ""),
            state,
            pattern_text=text or None,
            role_arn=request.get("RoleArn"),
            schedule=schedule or None,
        )
        self._save(rule, name)
        return {"RuleArn": self.bus.rule_arn(name)}

    def describe_rule(self, request: dict) -> dict:
        return self.describe(self._rule(request))

    def list_rules(self, request: dict) -> dict:
        self._check_bus(request.get("EventBusName"))
        prefix = request.get("NamePrefix") or ""
        names = sorted(n for n in self.bus.rules if n.startswith(prefix))
        return _page([self.describe(self.bus.rules[n]) for n in names], request, "Rules")

    def delete_rule(self, request: dict) -> dict:
        self._check_bus(request.get("EventBusName"))
        rule = self.bus.rules.get(_required(request, "Name"))
        if rule is None:  # EventBridge answers 200 for a rule that does not exist
            return {}
        if rule.targets and not request.get("Force"):
            raise ValidationException("Rule can't be deleted since it has targets.")
        self._save(None, rule.name)
        return {}

    def enable_rule(self, request: dict) -> dict:
        rule = self._rule(request)
        self._save(replace(rule, state="ENABLED"), rule.name)
        return {}

    def disable_rule(self, request: dict) -> dict:
        rule = self._rule(request)
        self._save(replace(rule, state="DISABLED"), rule.name)
        return {}

    def put_targets(self, request: dict) -> dict:
        rule = self._rule(request, "Rule")
        raw_targets = _required(request, "Targets")
        if not isinstance(raw_targets, list) or not raw_targets:
            raise ValidationException("Targets must be a non-empty list.")
        new = [self.target_from_aws(t) for t in raw_targets]
        merged = {t.id: t for t in rule.targets} | {t.id: t for t in new}
        if len(merged) > MAX_TARGETS:
            raise LimitExceededException(
                f"The requested resource exceeds the maximum number allowed: {MAX_TARGETS} targets per rule."
            )
        self._save(replace(rule, targets=tuple(merged.values())), rule.name)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def remove_targets(self, request: dict) -> dict:
        rule = self._rule(request, "Rule")
        ids = set(_required(request, "Ids"))
        self._save(replace(rule, targets=tuple(t for t in rule.targets if t.id not in ids)), rule.name)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def list_targets_by_rule(self, request: dict) -> dict:
        rule = self._rule(request, "Rule")
        return _page([self.target_to_aws(t) for t in rule.targets], request, "Targets")

    def list_rule_names_by_target(self, request: dict) -> dict:
        """The rules (by name) with a target of that ARN, as ListTargetsByRule answers it."""
        self._check_bus(request.get("EventBusName"))
        arn = _required(request, "TargetArn")
        names = sorted(
            r.name
            for r in self.bus.rules.values()
            if any(self.target_to_aws(t)["Arn"] == arn for t in r.targets)
        )
        return _page(names, request, "RuleNames")

    def test_event_pattern(self, request: dict) -> dict:
        pattern = compile_pattern(_required(request, "EventPattern"))
        text = _required(request, "Event")
        try:
            event = json.loads(text)
        except (TypeError, ValueError, RecursionError):
            event = None
        # The envelope fields the API reference makes mandatory; ``resources`` is listed there
        # too, but EventBridge accepts events without it (localstack's AWS-validated tests).
        if not isinstance(event, dict) or any(field not in event for field in EVENT_MANDATORY_FIELDS):
            raise ValidationException("Parameter Event is not valid.")
        # Match the text itself: number spelling and duplicate keys count as EventBridge reads them.
        return {"Result": bool(pattern.matches_json(text))}


class UnknownOperationException(ValidationException):
    code = "UnknownOperationException"


def _reachable_url(url: str) -> bool:
    """An http(s) URL with a host name DNS can spell (labels of 1-63 characters) and a port."""
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # .port raises for a port that is no number
        if parts.scheme not in ("http", "https") or not host:
            return False
        host.encode("idna")  # an empty or over-long label
        requests.Request("POST", url).prepare()
    except (ValueError, UnicodeError, requests.RequestException):
        return False
    return True


# CloudWatch Logs' log group name (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html).
LOG_GROUP = re.compile(r"^[\.\-_/#A-Za-z0-9]{1,512}\Z")


class SerializationException(ValidationException):
    code = "SerializationException"


def _required(request: dict, key: str) -> Any:
    if request.get(key) is None:
        raise ValidationException(
            f"1 validation error detected: Value null at '{key}' failed to satisfy "
            "constraint: Member must not be null"
        )
    return request[key]


def check_schedule(text: Any, bus: str) -> None:
    """PutRule's ScheduleExpression: its length (the API reference's constraint), then the bus
    (moto's order, localstack's AWS snapshot for the message), then the expression."""
    if isinstance(text, str) and len(text) > MAX_LENGTH:
        raise ValidationException(
            f"1 validation error detected: Value '{text}' at 'scheduleExpression' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_LENGTH}"
        )
    if bus != DEFAULT_BUS:
        raise ValidationException("ScheduleExpression is supported only on the default event bus.")
    try:
        parse_schedule(text)
    except ScheduleError as exc:
        raise ValidationException(str(exc)) from None


def _is_url(text: Any) -> bool:
    return isinstance(text, str) and text.startswith(("http://", "https://"))


def _page(items: list, request: dict, key: str) -> dict:
    """Every List* operation's paging: ``Limit`` items (1-100, default 100) from ``NextToken``.

    A token is the offset of the next item, as text; one the bus did not give (not such an
    offset, or past the end) is a ValidationException — never a server error, which botocore
    would retry."""
    token, limit = request.get("NextToken"), request.get("Limit")
    if limit is None:
        limit = 100
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        raise ValidationException(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
            "Member must have value between 1 and 100"
        )
    start = 0
    if token is not None:
        if (
            not isinstance(token, str)
            or not token.isascii()
            or not token.isdigit()
            or int(token) > len(items)
        ):
            raise ValidationException("The NextToken provided is not valid.")
        start = int(token)
    out: dict[str, Any] = {key: items[start : start + limit]}
    if start + limit < len(items):
        out["NextToken"] = str(start + limit)
    return out


OPERATIONS: dict[str, Callable[[BusApi, dict], dict]] = {
    "PutEvents": BusApi.put_events,
    "PutRule": BusApi.put_rule,
    "DescribeRule": BusApi.describe_rule,
    "ListRules": BusApi.list_rules,
    "DeleteRule": BusApi.delete_rule,
    "EnableRule": BusApi.enable_rule,
    "DisableRule": BusApi.disable_rule,
    "PutTargets": BusApi.put_targets,
    "RemoveTargets": BusApi.remove_targets,
    "ListTargetsByRule": BusApi.list_targets_by_rule,
    "ListRuleNamesByTarget": BusApi.list_rule_names_by_target,
    "TestEventPattern": BusApi.test_event_pattern,
    "CreateArchive": BusApi.create_archive,
    "DescribeArchive": BusApi.describe_archive,
    "ListArchives": BusApi.list_archives,
    "UpdateArchive": BusApi.update_archive,
    "DeleteArchive": BusApi.delete_archive,
    "StartReplay": BusApi.start_replay,
    "DescribeReplay": BusApi.describe_replay,
    "ListReplays": BusApi.list_replays,
    "CancelReplay": BusApi.cancel_replay,
}
