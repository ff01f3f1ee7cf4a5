"""Wildcard complexity (event-ruler's MachineComplexityEvaluator, simplified): the wildcard
patterns that share one field's byte machine become one NFA; the score is the largest
number of wildcard patterns reachable from the states a single value can occupy at once."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from app.bus.patterns.compiler import SubRule
from app.bus.patterns.errors import invalid
from app.bus.patterns.matchers import Wildcard
from app.bus.patterns.operands import WildcardText
from app.bus.patterns.reading import java_order

# EventBridge rejects wildcard patterns that are "too complex" (see eb-filtering-wildcard-
# matching-complexity in
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html).
# Complexity is event-ruler's MachineComplexityEvaluator measure: how many wildcard-pattern
# prefixes one worst-case value can keep alive at once.  AWS does not publish its threshold;
# at most 10 fits an observed case (three "*:stack/<name>/*" wildcards on one field,
# complexity 9, were accepted; four, complexity 12, were refused).
MAX_WILDCARD_COMPLEXITY = 10

_TOO_COMPLEX = (
    "Rule is too complex - try using fewer wildcard characters or fewer "
    "repeating character sequences after a wildcard character"
)

_STAR = None  # token for '*'

_Key = TypeVar("_Key", bound=Hashable)


class _NfaState:
    __slots__ = ("any", "literal", "patterns")

    def __init__(self) -> None:
        self.literal: dict[str, set[int]] = {}
        self.any: set[int] = set()
        self.patterns: set[int] = set()


def _wildcard_tokens(wildcard: Wildcard) -> list[str | None]:
    tokens: list[str | None] = ['"']
    for number, segment in enumerate(wildcard.segments):
        if number:
            tokens.append(_STAR)
        tokens.extend(segment)
    tokens.append('"')
    return tokens


def _build_nfa(wildcards: list[Wildcard]) -> list[_NfaState]:
    """States of the byte machine: the determinate prefix (up to the first '*') and that
    first '*' are shared between patterns; what follows a '*' is per pattern."""
    states = [_NfaState()]
    shared_literal: dict[tuple[int, str], int] = {}
    shared_star: dict[int, int] = {}

    def new_state() -> int:
        states.append(_NfaState())
        return len(states) - 1

    for number, wildcard in enumerate(wildcards):
        current, before_star, determinate, after_star = 0, 0, True, False
        for token in _wildcard_tokens(wildcard):
            if token is _STAR:
                star = _shared(shared_star, current, new_state) if determinate else new_state()
                states[current].any.add(star)
                states[star].any.add(star)
                before_star, current, determinate, after_star = current, star, False, True
            else:
                target = _shared(shared_literal, (current, token), new_state) if determinate else new_state()
                states[current].literal.setdefault(token, set()).add(target)
                if after_star:  # '*' may match nothing: step over it from the state before
                    states[before_star].literal.setdefault(token, set()).add(target)
                current, after_star = target, False
            states[current].patterns.add(number)
    return states


def _shared(table: dict[_Key, int], key: _Key, new_state: Callable[[], int]) -> int:
    number = table.get(key)
    if number is None:
        number = table[key] = new_state()
    return number


def _wildcard_complexity(wildcards: list[Wildcard], limit: int = MAX_WILDCARD_COMPLEXITY + 1) -> int:
    """The worst number of live wildcard prefixes, capped at ``limit``."""
    if not wildcards:
        return 0
    states = _build_nfa(wildcards)
    alphabet = {char for state in states for char in state.literal} | {""}
    pending = [frozenset([0])]
    seen: set[frozenset[int]] = set()
    worst = 0
    while pending:
        if len(seen) > 4096:  # the machine is too large to be cheap: treat it as too complex
            return limit
        active = pending.pop()
        for char in alphabet:
            following = _step_nfa(states, active, char)
            if not following:
                continue
            worst = max(worst, _live_prefixes(states, following))
            if worst >= limit:
                return limit
            if following not in seen:
                seen.add(following)
                pending.append(following)
    return worst


def _step_nfa(states: list[_NfaState], active: frozenset[int], char: str) -> frozenset[int]:
    following: set[int] = set()
    for number in active:
        state = states[number]
        following |= state.any
        if char:
            following |= state.literal.get(char, set())
    return frozenset(following)


def _live_prefixes(states: list[_NfaState], active: frozenset[int]) -> int:
    # A value matching "foo" also matches "foo*", so a '*' state one step ahead counts too.
    total = 0
    for number in active:
        total += len(states[number].patterns)
        for star in states[number].any:
            if star not in active:
                total += len(states[star].patterns)
    return total


def check_wildcard_complexity(rules: list[SubRule]) -> None:
    """Sub-rules that share every earlier field (the same written value list, as $or
    copies make them) share a byte machine for the next one, as in event-ruler."""
    machines: dict[tuple[Any, ...], list[Wildcard]] = {}
    for rule in rules:
        earlier: tuple[tuple[str, int], ...] = ()
        for path in sorted(rule, key=java_order):
            operands = rule[path]
            # anything-but wildcards are not counted: event-ruler's evaluator skips them.
            wildcards = [operand.wildcard for operand in operands if isinstance(operand, WildcardText)]
            if wildcards:
                machine = machines.setdefault((earlier, path), [])
                machine.extend(w for w in wildcards if all(w.text != m.text for m in machine))
            earlier += ((path, id(operands)),)
    for wildcards in machines.values():
        if _wildcard_complexity(wildcards) > MAX_WILDCARD_COMPLEXITY:
            raise invalid(_TOO_COMPLEX)
