"""What a value at one path must look like for a pattern to have a chance: the keys
PatternIndex files a pattern under."""

from __future__ import annotations

from typing import Any

from app.bus.patterns.matchers import Anchor, Range, Wildcard
from app.bus.patterns.operands import IgnoreCaseText


class Keys:
    """What a value at one path must be for a pattern to have a chance: any exact string,
    prefix, suffix, ASCII ignore-case form, number or interval, literal, or merely present."""

    __slots__ = (
        "folded",
        "folded_prefixes",
        "folded_suffixes",
        "literals",
        "numbers",
        "prefixes",
        "present",
        "ranges",
        "strings",
        "suffixes",
    )

    def __init__(self) -> None:
        self.strings: set[str] = set()
        self.prefixes: set[str] = set()
        self.suffixes: set[str] = set()
        self.folded: set[str] = set()
        self.folded_prefixes: set[str] = set()
        self.folded_suffixes: set[str] = set()
        self.numbers: set[float] = set()
        self.ranges: list[Range] = []
        self.literals: set[bool | None] = set()
        self.present = False

    def add_ignore_cases(self, ignore_cases: list[IgnoreCaseText]) -> bool:
        """File each ignore-case text by its lower-case form; False if one has none."""
        folded = {
            Anchor.WHOLE: self.folded,
            Anchor.START: self.folded_prefixes,
            Anchor.END: self.folded_suffixes,
        }
        for operand in ignore_cases:
            lowered = operand.case.lowered
            if lowered is None:  # non-ASCII: Java's case rules, not worth indexing
                return False
            folded[operand.anchor].add(lowered)
        return True

    def add_wildcards(self, wildcards: list[Wildcard]) -> bool:
        """A wildcard's literal head (or tail) is a prefix (or suffix) every match has."""
        for wildcard in wildcards:
            head, tail = wildcard.segments[0], wildcard.segments[-1]
            if len(wildcard.segments) == 1:
                self.strings.add(head)
            elif head and len(head) >= len(tail):
                self.prefixes.add(head)
            elif tail:
                self.suffixes.add(tail)
            else:
                return False
        return True

    _SETS = (
        "strings",
        "prefixes",
        "suffixes",
        "folded",
        "folded_prefixes",
        "folded_suffixes",
        "numbers",
        "literals",
    )

    def union(self, other: Keys) -> Keys:
        merged = Keys()
        for name in self._SETS:
            getattr(merged, name).update(getattr(self, name), getattr(other, name))
        merged.ranges = self.ranges + other.ranges
        merged.present = self.present or other.present
        return merged

    def weakness(self) -> int | None:
        """How loosely the keys pin a value: 1 for exact values, 2 for prefixes and the
        like, 4 for numeric ranges; None when they let nearly everything through."""
        if (
            self.present
            or "" in self.prefixes
            or "" in self.suffixes
            or "" in self.folded_prefixes
            or "" in self.folded_suffixes
        ):
            return None
        if self.ranges:
            return 4
        if self.prefixes or self.suffixes or self.folded_prefixes or self.folded_suffixes:
            return 2
        return 1

    def tagged(self) -> set[tuple[Any, ...]]:
        """The keys, tagged with their kind, to count distinct keys per path."""
        tagged: set[tuple[Any, ...]] = {(name, key) for name in self._SETS for key in getattr(self, name)}
        tagged.update(("range", r.low, r.low_inclusive, r.high, r.high_inclusive) for r in self.ranges)
        return tagged
