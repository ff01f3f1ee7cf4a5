"""Matching a sub-rule against an event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

from app.bus.patterns.events import EventView, Fields, Membership, plan_of
from app.bus.patterns.fields import FieldSpec, Test, field_test


class Step:
    """One path of a sub-rule, and the test its values must pass."""

    __slots__ = ("absent_ok", "cost", "exact_strings", "path", "plan", "rank", "test")

    def __init__(self, path: str, spec: FieldSpec, rank: int):
        self.path = path
        self.plan = plan_of(path)
        self.test = field_test(spec)
        # Set when the test is only a look-up in these strings (see PatternIndex).
        self.exact_strings = spec.exact_strings()
        self.absent_ok = spec.absent
        self.rank = rank  # position in event-ruler's (Java String) path order
        # Cheap and selective first: exact values before other operators, short paths first.
        self.cost = (self.plan.depth, not spec.is_exact_only(), rank)

    def row(self) -> StepRow:
        return (self.path, self.plan.collect, self.test, self.absent_ok, self)


# A step as subrule_matches reads it: (path, collect, test, absent_ok, step).  A plain
# tuple, because this loop is the hot path of every match, and unpacking a tuple beats
# attribute look-ups.
StepRow: TypeAlias = tuple[str, Callable[[EventView], Fields], Test | None, bool, Step]
# A step inside arrays, with the fields found at its path.
_Tangled: TypeAlias = "tuple[Step, Sequence[Any], Sequence[Membership | None]]"
# A tangled step's matching memberships, and all its memberships when it may be absent.
_Choice: TypeAlias = "tuple[list[Membership | None], Sequence[Membership | None] | None]"


def subrule_matches(steps: tuple[StepRow, ...], view: EventView) -> bool:
    """Fields outside arrays cannot clash with anything, so each is checked on its own
    (in any order); only fields inside arrays need event-ruler's array-consistent search.

    steps are cheapest first.
    """
    cache = view.cache
    tangled: list[_Tangled] | None = None
    for path, collect, test, absent_ok, step in steps:
        found = cache.get(path)
        if found is None:
            found = cache[path] = collect(view)
        values, memberships = found
        if memberships is None:
            if test is not None:
                for value in values:
                    if test(value):
                        break
                else:
                    if values or not absent_ok:
                        return False
            elif values:
                return False
            continue
        if tangled is None:
            tangled = []
        tangled.append((step, values, memberships))
    return tangled is None or _tangled_steps_match(tangled)


def _tangled_steps_match(tangled: list[_Tangled]) -> bool:
    choices: list[_Choice] = []
    for step, values, memberships in sorted(tangled, key=_step_rank):
        candidates = _matching_memberships(step, values, memberships)
        if not candidates and not step.absent_ok:
            return False
        choices.append((candidates, memberships if step.absent_ok else None))
    return _consistent_choice(choices, 0, {}, set())


def _step_rank(tangled_step: _Tangled) -> int:
    return tangled_step[0].rank


def step_cost(step: Step) -> tuple[int, bool, int]:
    return step.cost


def _matching_memberships(
    step: Step, values: Sequence[Any], memberships: Sequence[Membership | None]
) -> list[Membership | None]:
    test = step.test
    if test is None:
        return []
    # Values of one array element share one membership cell: keep each cell once.
    return list({id(m): m for value, m in zip(values, memberships, strict=True) if test(value)}.values())


def _consistent_choice(
    tangled: list[_Choice], index: int, chosen: dict[int, int], failed: set[tuple[int, frozenset[Any]]]
) -> bool:
    """Pick one field per step (in path order) so that no two come from different
    elements of the same array.  An absent-allowed step holds when no field at its path
    agrees with the choices made so far (event-ruler's ACFinder does exactly this)."""
    if index == len(tangled):
        return True
    state = (index, frozenset(chosen.items()))
    if state in failed:
        return False
    candidates, all_memberships = tangled[index]
    for membership in candidates:
        merged = _merge(chosen, membership)
        if merged is not None and _consistent_choice(tangled, index + 1, merged, failed):
            return True
    if (
        all_memberships is not None
        and all(_merge(chosen, m) is None for m in all_memberships)
        and _consistent_choice(tangled, index + 1, chosen, failed)
    ):
        return True
    failed.add(state)
    return False


def _merge(chosen: dict[int, int], membership: Membership | None) -> dict[int, int] | None:
    """chosen plus membership, or None if they disagree on an array's element."""
    merged = None
    while membership is not None:
        array, index, membership = membership
        known = chosen.get(array)
        if known is None:
            if merged is None:
                merged = dict(chosen)
            merged[array] = index
        elif known != index:
            return None
    return chosen if merged is None else merged
