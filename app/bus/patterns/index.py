"""PatternIndex: patterns filed under what their values must look like."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, TypeAlias

from app.bus.patterns.events import EventView, plan_of
from app.bus.patterns.keys import Keys
from app.bus.patterns.matching import subrule_matches
from app.bus.patterns.operands import always
from app.bus.patterns.pattern import Pattern, compile_pattern
from app.bus.patterns.reading import parse_event_text
from app.bus.patterns.tables import AffixTable, NumberLine

# (order added, name, check): a pattern for an event to try, sortable by order.
Candidate: TypeAlias = tuple[int, str, Callable[[EventView], bool]]


class Entry:
    """One named pattern in the index."""

    __slots__ = ("candidate", "matches_view", "name", "order", "pattern", "proven")

    def __init__(self, name: str, pattern: Pattern, order: int):
        self.name, self.pattern, self.order = name, pattern, order
        self.matches_view = pattern._matches_view
        self.file(order, None)

    def file(self, order: int, path: str | None) -> None:
        """Where the index filed the entry: its order, and ``proven``, the (order, name,
        check) candidate to use when an exact-string look-up at ``path`` found it."""
        self.order = order
        self.candidate: Candidate = (order, self.name, self.matches_view)
        self.proven: Candidate = (order, self.name, self._proven_check(path)) if path else self.candidate

    def _proven_check(self, path: str) -> Callable[[EventView], bool]:
        """The pattern's test without its step at ``path``, when that step only asks for exact
        strings: a look-up that found the entry under the event's (single, array-free) value
        there has already passed it. Saves a step and a call on the commonest rules."""
        subrules = self.pattern._subrules
        if len(subrules) != 1:
            return self.matches_view
        steps = subrules[0]
        filed = [row[4] for row in steps if row[0] == path]
        if len(filed) != 1 or filed[0].exact_strings is None:
            return self.matches_view
        rest = tuple(row for row in steps if row[0] != path)
        return partial(subrule_matches, rest) if rest else always


class _IndexedPath:
    """The entries filed under one path, by what they need its value to be."""

    __slots__ = (
        "candidates",
        "folded",
        "folded_prefixes",
        "folded_suffixes",
        "literals",
        "numbers",
        "plan",
        "prefixes",
        "present",
        "proven",
        "strings",
        "strings_only",
        "suffixes",
    )

    def __init__(self, path: str):
        self.plan = plan_of(path)
        self.strings: dict[str, list[Entry]] = {}
        self.prefixes: AffixTable[Entry] = AffixTable(suffix=False)
        self.suffixes: AffixTable[Entry] = AffixTable(suffix=True)
        self.folded: dict[str, list[Entry]] = {}
        self.folded_prefixes: AffixTable[Entry] = AffixTable(suffix=False)
        self.folded_suffixes: AffixTable[Entry] = AffixTable(suffix=True)
        self.numbers: NumberLine[Entry] = NumberLine()
        self.literals: dict[bool | None, list[Entry]] = {}
        self.present: list[Entry] = []
        self.strings_only = True  # only exact strings filed: one dict look-up per value
        # value -> candidates of the entries filed under it (the strings_only fast path)
        self.candidates: dict[str, list[Candidate]] = {}
        self.proven: dict[str, list[Candidate]] = {}

    def add(self, entry: Entry, keys: Keys) -> None:
        self.strings_only = self.strings_only and not (
            keys.prefixes
            or keys.suffixes
            or keys.folded
            or keys.folded_prefixes
            or keys.folded_suffixes
            or keys.numbers
            or keys.ranges
            or keys.literals
            or keys.present
        )
        for value in keys.strings:
            self.strings.setdefault(value, []).append(entry)
            self.candidates.setdefault(value, []).append(entry.candidate)
            self.proven.setdefault(value, []).append(entry.proven)
        for value in keys.folded:
            self.folded.setdefault(value, []).append(entry)
        for literal in keys.literals:
            self.literals.setdefault(literal, []).append(entry)
        self.prefixes.add(entry, keys.prefixes)
        self.suffixes.add(entry, keys.suffixes)
        self.folded_prefixes.add(entry, keys.folded_prefixes)
        self.folded_suffixes.add(entry, keys.folded_suffixes)
        if keys.numbers or keys.ranges:
            self.numbers.add(entry, keys.ranges, keys.numbers)
        if keys.present:
            self.present.append(entry)

    def entries_for(self, values: Sequence[Any]) -> set[Entry]:
        found: set[Entry] = set()
        for value in values:
            kind = type(value)
            if kind is str:
                self._string_entries(value, found)
            elif kind is int or kind is float:
                self._number_entries(value, found)
            elif kind is bool or value is None:
                found.update(self.literals.get(value, ()))
        if self.present:
            found.update(self.present)
        return found

    def _string_entries(self, value: str, found: set[Entry]) -> None:
        bucket = self.strings.get(value)
        if bucket:
            found.update(bucket)
        if self.prefixes.by_length:
            self.prefixes.collect(value, found)
        if self.suffixes.by_length:
            self.suffixes.collect(value, found)
        if (
            self.folded or self.folded_prefixes.by_length or self.folded_suffixes.by_length
        ) and value.isascii():
            lowered = value.lower()
            found.update(self.folded.get(lowered, ()))
            self.folded_prefixes.collect(lowered, found)
            self.folded_suffixes.collect(lowered, found)

    def _number_entries(self, value: float, found: set[Entry]) -> None:
        if not self.numbers.intervals:
            return
        try:
            number = float(value)
        except OverflowError:
            return
        if not math.isnan(number):  # NaN is on no interval
            self.numbers.collect(number, found)


class PatternIndex:
    """Many named patterns, matched against each event without trying every pattern.

    Each pattern is filed under one path that all its alternatives constrain in an
    indexable way (exact values, prefixes, suffixes, ignore-case, wildcard heads/tails,
    numeric ranges); an event tries only the patterns filed under a value it has, plus
    the patterns that could not be filed (anything-but or exists only, $or branches on
    different fields...).  A filed condition is necessary for a match, so the answers
    are the same as trying every pattern.  Adding a name twice makes its patterns
    alternatives, as event-ruler's addRule does.
    """

    # Looking a path up in an event costs about half of trying one pattern.
    LOOKUP_COST = 0.5

    def __init__(self, rules: Iterable[tuple[str, Any]] = ()):
        self._entries: list[Entry] = []
        # (filed paths, unfiled candidates), or None until the next match files the entries;
        # replaced whole, so a match running in another thread sees one state or the other.
        self._state: _State | None = None
        for name, pattern in rules:
            self.add(name, pattern)

    def add(self, name: str, pattern: str | dict | Pattern) -> Pattern:
        compiled = compile_pattern(pattern)
        self._entries.append(Entry(name, compiled, len(self._entries)))
        self._state = None
        return compiled

    def remove(self, name: str) -> None:
        """Forget every pattern added under name."""
        self._entries = [entry for entry in self._entries if entry.name != name]
        self._state = None

    def names(self) -> list[str]:
        return list(dict.fromkeys(entry.name for entry in self._entries))

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name: object) -> bool:
        return any(entry.name == name for entry in self._entries)

    def __iter__(self) -> Iterator[tuple[str, Pattern]]:
        return ((entry.name, entry.pattern) for entry in self._entries)

    def match(self, event: dict[str, Any]) -> list[str]:
        """Names of the patterns the event matches, in the order they were added."""
        return self._match_view(EventView(event))

    def match_json(self, text: str | bytes) -> list[str]:
        return self._match_view(EventView(parse_event_text(text)))

    def _file_all(self) -> _State:
        """Build the index: done lazily, at the first match after a change."""
        entries = list(self._entries)
        requirements = [entry.pattern._index_requirements() for entry in entries]
        paths: dict[str, _IndexedPath] = {}
        unfiled: list[Candidate] = []
        chosen = _choose_paths(requirements, self.LOOKUP_COST)
        for order, (entry, path) in enumerate(zip(entries, chosen, strict=True)):
            entry.file(order, path)
            if path is None:
                unfiled.append(entry.candidate)
                continue
            if path not in paths:
                paths[path] = _IndexedPath(path)
            paths[path].add(entry, requirements[order][path])
        self._state = state = (tuple(paths.items()), tuple(unfiled))
        return state

    def _candidates(self, view: EventView) -> list[Candidate]:
        """(order, name, check) of every pattern the event could match, in added order."""
        state = self._state or self._file_all()
        filed, unfiled = state
        candidates: list[Candidate] = []
        cache = view.cache
        for path, indexed in filed:
            found = cache.get(path)
            if found is None:
                found = cache[path] = indexed.plan.collect(view)
            values = found[0]
            if not values:
                continue
            if indexed.strings_only and len(values) == 1:  # the usual source / detail-type look-up
                if type(values[0]) is str:
                    bucket = (
                        indexed.proven.get(values[0], ())
                        if found[1] is None
                        else indexed.candidates.get(values[0], ())
                    )
                    candidates.extend(bucket)
            else:
                candidates.extend(entry.candidate for entry in indexed.entries_for(values))
        candidates.extend(unfiled)
        if len(candidates) > 1:
            candidates.sort()  # by order: unique, so the tuples never compare further
        return candidates

    def _match_view(self, view: EventView) -> list[str]:
        names: list[str] = []
        for _, name, check in self._candidates(view):
            if check(view) and name not in names:
                names.append(name)
        return names


# The filed paths with their entries, and the candidates of the entries filed nowhere.
_State: TypeAlias = tuple[tuple[tuple[str, _IndexedPath], ...], tuple[Candidate, ...]]


def _choose_paths(requirements: list[dict[str, Keys]], lookup_cost: float) -> list[str | None]:
    """The path to file each pattern under, or None to try the pattern on every event.

    Filing a pattern under path p costs, per event, the chance that the pattern is tried
    anyway (its key looseness over the number of distinct keys filed at p: values spread
    over many keys rarely hit a given one) plus its share of looking p up.  Trying the
    pattern on every event costs 1.
    """
    sharing: dict[str, int] = {}
    distinct: dict[str, set[tuple[Any, ...]]] = {}
    for required in requirements:
        for path, keys, _ in _pinning(required):
            sharing[path] = sharing.get(path, 0) + 1
            distinct.setdefault(path, set()).update(keys.tagged())

    def cost(path: str, weakness: int) -> float:
        return min(1.0, weakness / len(distinct[path])) + lookup_cost / sharing[path]

    chosen: list[str | None] = []
    for required in requirements:
        options = sorted((cost(path, weakness), path) for path, _, weakness in _pinning(required))
        chosen.append(options[0][1] if options and options[0][0] < 1.0 else None)
    return _drop_lonely_paths(chosen)


def _pinning(required: dict[str, Keys]) -> list[tuple[str, Keys, int]]:
    """The paths whose keys pin a value (see Keys.weakness), with their keys and weakness."""
    return [
        (path, keys, weakness) for path, keys in required.items() if (weakness := keys.weakness()) is not None
    ]


def _drop_lonely_paths(chosen: list[str | None]) -> list[str | None]:
    """A path left serving a single pattern saves nothing over trying that pattern."""
    usage: dict[str, int] = {}
    for path in chosen:
        if path is not None:
            usage[path] = usage.get(path, 0) + 1
    return [path if path is not None and usage[path] > 1 else None for path in chosen]
