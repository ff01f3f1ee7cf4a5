"""The look-up tables PatternIndex files entries in beside plain dicts: by prefix or
suffix of a value, and by numeric interval."""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Generic, TypeVar

from app.bus.patterns.matchers import Range

_Entry = TypeVar("_Entry")


class AffixTable(Generic[_Entry]):
    """Entries keyed by a prefix (or suffix) of the value, grouped by its length."""

    __slots__ = ("by_length", "suffix")

    def __init__(self, suffix: bool):
        self.by_length: dict[int, dict[str, list[_Entry]]] = {}
        self.suffix = suffix

    def add(self, entry: _Entry, affixes: set[str]) -> None:
        for affix in affixes:
            self.by_length.setdefault(len(affix), {}).setdefault(affix, []).append(entry)

    def collect(self, value: str, found: set[_Entry]) -> None:
        size = len(value)
        for length, table in self.by_length.items():
            if length <= size:
                bucket = table.get(value[size - length :] if self.suffix else value[:length])
                if bucket:
                    found.update(bucket)


class NumberLine(Generic[_Entry]):
    """Entries keyed by numeric intervals: the line is cut at every bound, and each piece
    (a bound itself, or the open stretch between two) lists the entries covering it."""

    __slots__ = ("bounds", "intervals", "pieces")

    def __init__(self) -> None:
        self.intervals: list[tuple[Range, _Entry]] = []
        self.bounds: list[float] = []
        self.pieces: list[list[_Entry]] | None = None

    def add(self, entry: _Entry, ranges: list[Range], points: set[float]) -> None:
        self.intervals.extend((numeric_range, entry) for numeric_range in ranges)
        self.intervals.extend((Range(point, True, point, True), entry) for point in points)
        self.pieces = None

    def collect(self, number: float, found: set[_Entry]) -> None:
        pieces = self.pieces if self.pieces is not None else self._cut()
        position = bisect_left(self.bounds, number)
        on_bound = position < len(self.bounds) and self.bounds[position] == number
        found.update(pieces[2 * position + 1 if on_bound else 2 * position])

    def _cut(self) -> list[list[_Entry]]:
        bounds = {
            bound
            for numeric_range, _ in self.intervals
            for bound in (numeric_range.low, numeric_range.high)
            if bound is not None
        }
        self.bounds = sorted(bounds)
        samples = []
        for position, bound in enumerate(self.bounds):
            below = self.bounds[position - 1] / 2 + bound / 2 if position else -math.inf
            samples += [below, bound]
        samples.append(math.inf)
        self.pieces = pieces = [
            [entry for numeric_range, entry in self.intervals if numeric_range.contains(sample)]
            for sample in samples
        ]
        return pieces
