"""Reading an event: the leaf fields at one path, with their array memberships."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeAlias

# Which element of which array a field lies in: (array location, index, the membership of
# that array), or None outside arrays.  A linked cell, so it grows in O(1).
Membership: TypeAlias = "tuple[int, int, Membership | None]"
# The leaf values at one path, and their memberships (None when no value lies in an array).
Fields: TypeAlias = "tuple[Sequence[Any], Sequence[Membership | None] | None]"
# What _walk keeps to visit: (node, next segment, location, membership).
_Pending: TypeAlias = "tuple[Any, int, int, Membership | None]"

_MISSING = object()
_NO_FIELDS: Fields = ((), None)


class PathPlan:
    """How to find the leaves of one dotted path, whichever of its dots are key dots.

    collect(view) -> (values, memberships); memberships is None when no value lies in an
    array, which is by far the commonest case and gets the fast collectors.
    """

    __slots__ = ("collect", "depth", "first", "path", "second", "splits")

    def __init__(self, path: str):
        segments = path.split(".")
        self.path = path
        self.first = segments[0]
        self.second = segments[1] if len(segments) > 1 else None
        self.depth = len(segments)
        # splits[i]: the event keys that may start at segment i, with the segment after them.
        self.splits = tuple(
            tuple((".".join(segments[start:end]), end) for end in range(start + 1, len(segments) + 1))
            for start in range(len(segments))
        )
        collectors: dict[int, Callable[[EventView], Fields]] = {1: self._collect_one, 2: self._collect_two}
        self.collect = collectors.get(self.depth, self._collect_without_arrays)

    def _collect_one(self, view: EventView) -> Fields:
        value = view.event.get(self.first, _MISSING)
        kind: type = type(value)
        if kind is list:
            return _walk(view, self) if value else _NO_FIELDS  # an empty array has no leaves
        return _NO_FIELDS if value is _MISSING or kind is dict else ((value,), None)

    def _collect_two(self, view: EventView) -> Fields:
        event = view.event
        if self.path in event:  # an event key with the dot in it: the general way
            return self._collect_without_arrays(view)
        parent = event.get(self.first, _MISSING)
        kind: type = type(parent)
        if kind is dict:
            value = parent.get(self.second, _MISSING)
            kind = type(value)
            if kind is list:
                return _walk(view, self)
            return _NO_FIELDS if value is _MISSING or kind is dict else ((value,), None)
        return _walk(view, self) if kind is list else _NO_FIELDS

    def _collect_without_arrays(self, view: EventView) -> Fields:
        """Objects all the way down; hands over to _walk at the first array."""
        values: list[Any] = []
        depth, splits = self.depth, self.splits
        pending: list[tuple[dict[str, Any], int]] = [(view.event, 0)]
        while pending:
            node, segment = pending.pop()
            for key, following in splits[segment]:
                child = node.get(key, _MISSING)
                if child is _MISSING:
                    continue
                kind: type = type(child)
                if kind is dict:
                    if following < depth:
                        pending.append((child, following))
                elif kind is list:
                    return _walk(view, self)
                elif following == depth:
                    values.append(child)
        return (values, None) if values else _NO_FIELDS


@lru_cache(maxsize=4096)
def plan_of(path: str) -> PathPlan:
    """The plan of ``path``, shared by every pattern that reads it."""
    return PathPlan(path)


def _walk(view: EventView, plan: PathPlan) -> Fields:
    """Every leaf at plan.path, with its array membership.

    An array is known by its location in the event, a small integer the view hands out
    (so the same array gets the same number whichever path reaches it).  An element that
    is an object or an array adds (array, index) to the membership of all below it; a
    membership is a linked cell (array, index, rest), or None, so it grows in O(1).
    """
    values: list[Any] = []
    memberships: list[Membership | None] = []
    depth, splits, locate = plan.depth, plan.splits, view.locate
    stack: list[_Pending] = [(view.event, 0, 0, None)]
    while stack:
        node, segment, location, membership = stack.pop()
        kind: type = type(node)
        if kind is dict:
            if segment < depth:
                for key, following in splits[segment]:
                    child = node.get(key, _MISSING)
                    if child is not _MISSING:
                        stack.append((child, following, locate(location, key), membership))
        elif kind is list:
            _walk_array(node, segment, location, membership, depth, locate, stack, values, memberships)
        elif segment == depth:
            values.append(node)
            memberships.append(membership)
    if not any(memberships):
        return (values, None) if values else _NO_FIELDS
    return values, memberships


def _walk_array(
    array: list[Any],
    segment: int,
    location: int,
    membership: Membership | None,
    depth: int,
    locate: Callable[[int, Any], int],
    stack: list[_Pending],
    values: list[Any],
    memberships: list[Membership | None],
) -> None:
    for index, element in enumerate(array):
        kind: type = type(element)
        if kind is dict or kind is list:
            if kind is list or segment < depth:
                stack.append((element, segment, locate(location, index), (location, index, membership)))
        elif segment == depth:
            values.append(element)  # scalars in an array share the array's membership
            memberships.append(membership)


class EventView:
    """One event, with the fields found so far at each path (shared by every pattern tried)."""

    __slots__ = ("cache", "event", "locations")

    def __init__(self, event: dict[str, Any]):
        if type(event) is not dict:
            raise TypeError(f"an event must be a dict (a JSON object), got {type(event).__name__}")
        self.event = event
        self.cache: dict[str, Fields] = {}
        self.locations: dict[tuple[int, Any], int] | None = None

    def locate(self, parent: int, step: Any) -> int:
        """The number of the location reached from location `parent` by key or index `step`."""
        if self.locations is None:
            self.locations = {}
        key = (parent, step)
        number = self.locations.get(key)
        if number is None:
            number = self.locations[key] = len(self.locations) + 1
        return number
