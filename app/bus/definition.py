"""The bus definition (``infra/bus.yaml``): rules, their patterns, targets, retry policies.

Loaded and validated once, with EventBridge's limits
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html): at most 300
rules per bus and 5 targets per rule; ``MaximumRetryAttempts`` 0–185 and
``MaximumEventAgeInSeconds`` 60–86,400 (defaults 185 and 24 h). Archives: names of 1–48
letters, digits, '.', '-' or '_', a description of at most 512 characters, an optional
event pattern, ``retention_days`` 0 (for ever) or more
(https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_CreateArchive.html).
Both the local bus and the CloudFormation generator read this one definition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from app.events import BusError, ValidationException
from app.settings import REPO_ROOT

DEFAULT_DEFINITION = REPO_ROOT / "infra" / "bus.yaml"
MAX_RULES = 300
MAX_TARGETS = 5
NAME_RE = re.compile(r"^[\.\-_A-Za-z0-9]{1,64}\Z")
ARCHIVE_NAME_RE = re.compile(r"^[\.\-_A-Za-z0-9]{1,48}\Z")
MAX_DESCRIPTION = 512


class TargetKind(StrEnum):
    """Where a rule sends events; how the local bus delivers to each kind and names it in
    ARNs is :data:`app.bus.targets.TARGET_TYPES`."""

    LAKE = "lake"
    HTTP = "http"
    QUEUE = "queue"
    LOG = "log"


TARGET_KINDS = tuple(TargetKind)


class ResourceNotFoundException(BusError):
    code = "ResourceNotFoundException"
    status = 400


class LimitExceededException(BusError):
    code = "LimitExceededException"
    status = 400


class DefinitionError(ValueError):
    """``infra/bus.yaml`` is wrong; the message names the rule and the field."""


@dataclass(frozen=True)
class RetryPolicy:
    maximum_retry_attempts: int = 185
    maximum_event_age_s: int = 86_400

    @classmethod
    def from_aws(cls, raw: dict[str, Any] | None) -> RetryPolicy:
        raw = raw or {}
        attempts = raw.get("MaximumRetryAttempts", 185)
        age = raw.get("MaximumEventAgeInSeconds", 86_400)
        if not isinstance(attempts, int) or isinstance(attempts, bool) or not 0 <= attempts <= 185:
            raise ValueError(f"MaximumRetryAttempts must be an integer from 0 to 185, got {attempts!r}")
        if not isinstance(age, int) or isinstance(age, bool) or not 60 <= age <= 86_400:
            raise ValueError(f"MaximumEventAgeInSeconds must be an integer from 60 to 86400, got {age!r}")
        return cls(attempts, age)

    def to_aws(self) -> dict[str, int]:
        return {
            "MaximumRetryAttempts": self.maximum_retry_attempts,
            "MaximumEventAgeInSeconds": self.maximum_event_age_s,
        }


@dataclass(frozen=True)
class Target:
    id: str
    kind: str
    endpoint: str | None = None  # http: a name under `endpoints`
    queue: str | None = None
    log: str | None = None
    dead_letter_queue: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    input_path: str | None = None
    input_transformer: dict[str, Any] | None = None
    input: str | None = None  # constant JSON text sent instead of the event
    # As PutTargets gave them (None for bus.yaml's targets): ListTargetsByRule answers with
    # these, never with an ARN rebuilt from the kind.
    arn: str | None = None
    role_arn: str | None = None
    dead_letter_arn: str | None = None

    @property
    def queue_name(self) -> str:
        """A queue target's queue (default: the target id)."""
        return self.queue or self.id

    @property
    def log_name(self) -> str:
        """A log target's log (default: the target id)."""
        return self.log or self.id

    def input_transform(self):
        """The compiled Input/InputPath/InputTransformer (None: the target gets the event);
        raises ValidationException with PutTargets' message when one is wrong."""
        from app.bus.transform import compile_input

        if self.kind == TargetKind.LAKE and (self.input or self.input_path or self.input_transformer):
            raise ValidationException(
                f"Target {self.id}: the lake target takes whole events; "
                "Input, InputPath and InputTransformer are not supported on it."
            )
        return compile_input(
            self.id, input=self.input, input_path=self.input_path, input_transformer=self.input_transformer
        )


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: dict[str, Any]
    targets: tuple[Target, ...]
    description: str = ""
    state: str = "ENABLED"
    # The EventPattern text PutRule was given, byte for byte (None for bus.yaml's rules):
    # DescribeRule and ListRules answer with it, and the rule matches by it.
    pattern_text: str | None = None
    role_arn: str | None = None
    # PutRule's ScheduleExpression as sent (app.bus.schedule); a rule made with only a
    # schedule has pattern {} and no pattern_text, and matches no event.
    schedule: str | None = None

    @property
    def matches_events(self) -> bool:
        return self.schedule is None or self.pattern_text is not None

    @property
    def pattern_json(self) -> str:
        if self.pattern_text is not None:
            return self.pattern_text
        return json.dumps(self.pattern, separators=(",", ":"))

    @property
    def pattern_source(self) -> str | dict[str, Any]:
        """What the rule's pattern is compiled from: the text as given, else the data."""
        return self.pattern_text if self.pattern_text is not None else self.pattern


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    description: str = ""
    # An API destination made through the API (app.bus.connections): its HTTP method, its
    # connection's headers, and whether that connection is authorized (else not called).
    method: str = "POST"
    headers: tuple[tuple[str, str], ...] = ()
    active: bool = True


@dataclass(frozen=True)
class ArchiveSpec:
    """An archive of the bus's events (``archives:`` in the definition)."""

    name: str
    pattern: dict[str, Any] | None = None  # None: every event of the bus
    retention_days: int = 0  # 0: kept for ever
    description: str = ""


@dataclass(frozen=True)
class BusDefinition:
    bus: str
    rules: tuple[Rule, ...]
    endpoints: Mapping[str, Endpoint]  # a dict; for `bus serve`, a view with API destinations too
    dead_letter_queues: tuple[str, ...]
    archives: tuple[ArchiveSpec, ...] = ()

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise ResourceNotFoundException(f"Rule {name} does not exist on EventBus {self.bus}.")


def _target(raw: dict[str, Any], rule: str, endpoints: dict, queues: tuple[str, ...]) -> Target:
    where = f"rule {rule!r} target {raw.get('id')!r}"
    if not isinstance(raw.get("id"), str) or not NAME_RE.match(raw["id"]):
        raise DefinitionError(f"{where}: id must be 1-64 letters, digits, '.', '-' or '_'")
    if raw.get("kind") not in TARGET_KINDS:
        raise DefinitionError(f"{where}: kind must be one of {', '.join(TARGET_KINDS)}")
    if raw["kind"] == TargetKind.HTTP and raw.get("endpoint") not in endpoints:
        raise DefinitionError(f"{where}: endpoint {raw.get('endpoint')!r} is not defined under endpoints")
    dlq = raw.get("dead_letter_queue")
    if dlq is not None and dlq not in queues:
        raise DefinitionError(f"{where}: dead_letter_queue {dlq!r} is not listed under dead_letter_queues")
    try:
        retry = RetryPolicy.from_aws(raw.get("retry"))
    except ValueError as exc:
        raise DefinitionError(f"{where}: {exc}") from None
    target = Target(
        id=raw["id"],
        kind=raw["kind"],
        endpoint=raw.get("endpoint"),
        queue=raw.get("queue"),
        log=raw.get("log"),
        dead_letter_queue=dlq,
        retry=retry,
        input_path=raw.get("input_path"),
        input_transformer=raw.get("input_transformer"),
        input=raw.get("input"),
    )
    try:
        target.input_transform()
    except ValidationException as exc:
        raise DefinitionError(f"{where}: {exc.message}") from None
    return target


def _rule(raw: dict[str, Any], endpoints: dict, queues: tuple[str, ...]) -> Rule:
    from app.bus.patterns import InvalidEventPatternException, compile_pattern

    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise DefinitionError(f"rule name {name!r}: must be 1-64 letters, digits, '.', '-' or '_'")
    pattern: Any = raw.get("pattern")  # YAML data of any shape: compile_pattern says what is wrong
    try:
        compile_pattern(pattern)
    except InvalidEventPatternException as exc:
        raise DefinitionError(f"rule {name!r}: invalid event pattern: {exc}") from None
    targets = raw.get("targets") or []
    if len(targets) > MAX_TARGETS:
        raise DefinitionError(f"rule {name!r}: {len(targets)} targets, EventBridge allows {MAX_TARGETS}")
    return Rule(
        name=name,
        pattern=raw["pattern"],
        description=raw.get("description", ""),
        state=raw.get("state", "ENABLED"),
        targets=tuple(_target(t, name, endpoints, queues) for t in targets),
    )


def _archive(raw: Any) -> ArchiveSpec:
    from app.bus.patterns import InvalidEventPatternException, compile_pattern

    name = raw.get("name") if isinstance(raw, dict) else None
    if not isinstance(name, str) or not ARCHIVE_NAME_RE.match(name):
        raise DefinitionError(f"archive name {name!r}: must be 1-48 letters, digits, '.', '-' or '_'")
    pattern, retention, description = (
        raw.get("pattern"),
        raw.get("retention_days", 0),
        raw.get("description", ""),
    )
    if pattern is not None:
        try:
            compile_pattern(pattern)
        except InvalidEventPatternException as exc:
            raise DefinitionError(f"archive {name!r}: invalid event pattern: {exc}") from None
    if not isinstance(retention, int) or isinstance(retention, bool) or retention < 0:
        raise DefinitionError(
            f"archive {name!r}: retention_days must be an integer >= 0 (0: for ever), got {retention!r}"
        )
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise DefinitionError(
            f"archive {name!r}: description must be text of at most {MAX_DESCRIPTION} characters"
        )
    return ArchiveSpec(name, pattern, retention, description)


def _archives(raw: Any) -> tuple[ArchiveSpec, ...]:
    archives = tuple(_archive(a) for a in raw or [])
    names = [a.name for a in archives]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise DefinitionError(f"archive {duplicate!r} is defined twice")
    return archives


def parse_definition(raw: dict[str, Any]) -> BusDefinition:
    endpoints = {
        name: Endpoint(name, spec["url"], spec.get("description", ""))
        for name, spec in (raw.get("endpoints") or {}).items()
    }
    queues = tuple(raw.get("dead_letter_queues") or ())
    rules = tuple(_rule(r, endpoints, queues) for r in raw.get("rules") or [])
    if len(rules) > MAX_RULES:
        raise DefinitionError(f"{len(rules)} rules, EventBridge allows {MAX_RULES} per bus")
    names = [r.name for r in rules]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise DefinitionError(f"rule {duplicate!r} is defined twice")
    return BusDefinition(
        raw.get("bus", "verticals"), rules, endpoints, queues, _archives(raw.get("archives"))
    )


def load_definition(path: Path = DEFAULT_DEFINITION) -> BusDefinition:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"cannot read bus definition {path}: {exc}") from None
    return parse_definition(raw or {})
