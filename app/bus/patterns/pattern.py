"""Pattern, the compiled form of one event pattern, and compile_pattern, which builds it."""

from __future__ import annotations

import json
from typing import Any

from app.bus.patterns.compiler import RuleCompiler, SubRule
from app.bus.patterns.complexity import check_wildcard_complexity
from app.bus.patterns.errors import invalid
from app.bus.patterns.events import EventView
from app.bus.patterns.fields import FieldSpec
from app.bus.patterns.keys import Keys
from app.bus.patterns.matching import Step, StepRow, step_cost, subrule_matches
from app.bus.patterns.reading import (
    java_order,
    json_error_reason,
    parse_event_text,
    parse_pattern_text,
    tree_from_python,
    utf16_length,
)

# EventBridge quota "Event pattern size": 2048 characters (adjustable in AWS).
MAX_PATTERN_SIZE = 2048


class Pattern:
    """A compiled, validated event pattern.  Build it with compile_pattern()."""

    __slots__ = ("_rules", "_subrules", "text")

    def __init__(self, text: str, rules: list[SubRule]):
        self.text = text
        self._rules = rules
        self._subrules = tuple(self._compile_subrule(rule) for rule in rules)

    @staticmethod
    def _compile_subrule(rule: SubRule) -> tuple[StepRow, ...]:
        ordered = sorted(rule, key=java_order)
        steps = [Step(path, FieldSpec(rule[path]), rank) for rank, path in enumerate(ordered)]
        return tuple(step.row() for step in sorted(steps, key=step_cost))

    @property
    def paths(self) -> frozenset[str]:
        """Every field path the pattern looks at."""
        return frozenset(path for rule in self._rules for path in rule)

    @property
    def subrule_count(self) -> int:
        """How many alternatives the pattern's $or branches expand to."""
        return len(self._subrules)

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether the event (a dict, as json.loads returns it) matches."""
        return self._matches_view(EventView(event))

    def matches_json(self, text: str | bytes) -> bool:
        """Whether the event given as raw JSON text matches (duplicate keys: the last wins)."""
        return self._matches_view(EventView(parse_event_text(text)))

    def _matches_view(self, view: EventView) -> bool:
        for steps in self._subrules:  # noqa: SIM110 - the hot path: a loop beats any() over a generator
            if subrule_matches(steps, view):
                return True
        return False

    def _index_requirements(self) -> dict[str, Keys]:
        """Paths every alternative of the pattern constrains in an indexable way, with what a
        value there must look like.  An event without such a value at such a path cannot
        match, which is what lets PatternIndex skip the pattern."""
        required: dict[str, Keys] | None = None
        for rule in self._rules:
            keys = _indexable_keys(rule)
            if required is None:
                required = keys
            else:
                required = {path: required[path].union(keys[path]) for path in required.keys() & keys.keys()}
        return required or {}

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


def _indexable_keys(rule: SubRule) -> dict[str, Keys]:
    found = {path: FieldSpec(operands).index_keys() for path, operands in rule.items()}
    return {path: keys for path, keys in found.items() if keys is not None}


def compile_pattern(pattern: str | bytes | dict | Pattern, *, max_size: int = MAX_PATTERN_SIZE) -> Pattern:
    """Validate an event pattern (JSON text or Python data) once, for matching many events.

    Raises InvalidEventPatternException with the reason, as EventBridge's PutRule would.
    The size limit counts characters of the JSON text as given; Python data is measured in
    its most compact JSON form.
    """
    if isinstance(pattern, Pattern):
        return pattern
    try:
        text, tree = _read_pattern(pattern, max_size)
        rules = RuleCompiler().compile(tree)
        check_wildcard_complexity(rules)
    except RecursionError:
        raise invalid("the pattern is nested too deeply") from None
    return Pattern(text, rules)


def _read_pattern(pattern: Any, max_size: int) -> tuple[str, Any]:
    if isinstance(pattern, (bytes, bytearray)):
        try:
            pattern = pattern.decode("utf-8")
        except UnicodeDecodeError as error:
            raise invalid(f"the pattern is not UTF-8: {error}") from None
    if isinstance(pattern, str):
        _check_size(pattern, max_size)
        try:
            return pattern, parse_pattern_text(pattern)
        except ValueError as error:
            raise invalid(json_error_reason(pattern, error)) from None
    try:
        text = json.dumps(pattern, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise invalid(f"the pattern is not JSON data: {error}") from None
    _check_size(text, max_size)
    return text, tree_from_python(pattern)


def _check_size(text: str, max_size: int) -> None:
    size = utf16_length(text)
    if size > max_size:
        raise invalid(f"Event pattern is {size} characters long; the limit is {max_size}")
