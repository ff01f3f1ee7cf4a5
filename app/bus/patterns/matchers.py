"""The compiled forms of the operators that need more than a set look-up: wildcards,
equals-ignore-case texts and numeric intervals."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum, auto

from app.bus.patterns.errors import at, invalid


class Wildcard:
    """A wildcard string: '*' matches any run of characters, '\\*' and '\\\\' are literal."""

    __slots__ = ("min_length", "segments", "text")

    def __init__(self, text: str, path: str = ""):
        self.text = text
        self.segments = _wildcard_segments(text, path)
        self.min_length = sum(len(segment) for segment in self.segments)

    def matches(self, value: str) -> bool:
        segments = self.segments
        if len(segments) == 1:
            return value == segments[0]
        if len(value) < self.min_length:
            return False
        first, last = segments[0], segments[-1]
        if not (value.startswith(first) and value.endswith(last)):
            return False
        # Placing each middle piece at its leftmost spot is optimal for '*'-only globs,
        # and never backtracks (unlike a regex with several '.*').
        position, end = len(first), len(value) - len(last)
        for segment in segments[1:-1]:
            found = value.find(segment, position, end)
            if found < 0:
                return False
            position = found + len(segment)
        return True


def _wildcard_segments(text: str, path: str) -> list[str]:
    """Split a wildcard on its unescaped '*', checking it as event-ruler's WildcardParser does.

    Error positions are byte offsets in the quoted value ('"' + text + '"'), as AWS reports them.
    """
    segments: list[str] = []
    current: list[str] = []
    position = 1  # after the opening quote
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            if index + 1 < len(text) and text[index + 1] == "*":
                raise invalid(f"Consecutive wildcard characters at pos {position}{at(path)}")
            segments.append("".join(current))
            current = []
        elif char == "\\":
            following = text[index + 1] if index + 1 < len(text) else ""
            if following not in ("*", "\\"):
                raise invalid(f"Invalid escape character at pos {position}{at(path)}")
            current.append(following)
            index += 1
            position += 1
        else:
            current.append(char)
        position += len(char.encode("utf-8"))
        index += 1
    segments.append("".join(current))
    return segments


class Anchor(Enum):
    """Where an equals-ignore-case text must lie in a value: all of it, its start, its end."""

    WHOLE = auto()
    START = auto()
    END = auto()


class IgnoreCase:
    """equals-ignore-case text, compared as event-ruler does.

    event-ruler lets each pattern character match its Java lower-case or upper-case form
    (EqualsIgnoreCaseParser); characters outside the BMP are UTF-16 surrogate pairs there,
    whose halves have no case, so they only match themselves.
    """

    __slots__ = ("length", "lowered", "regex")

    def __init__(self, text: str):
        self.length: int
        self.lowered: str | None
        self.regex: re.Pattern[str] | None
        if text.isascii():
            self.length, self.lowered, self.regex = len(text), text.lower(), None
        else:
            self.length, self.lowered = -1, None
            self.regex = re.compile("".join(_case_alternatives(char) for char in text), re.DOTALL)

    def test(self, anchor: Anchor) -> Callable[[str], bool]:
        """The check of a value for this text at ``anchor``."""
        return {Anchor.WHOLE: self.equals, Anchor.START: self.is_prefix_of, Anchor.END: self.is_suffix_of}[
            anchor
        ]

    def equals(self, value: str) -> bool:
        if self.regex is not None:
            return self.regex.fullmatch(value) is not None
        return len(value) == self.length and value.isascii() and value.lower() == self.lowered

    def is_prefix_of(self, value: str) -> bool:
        if self.regex is not None:
            return self.regex.match(value) is not None
        head = value[: self.length]
        return len(head) == self.length and head.isascii() and head.lower() == self.lowered

    def is_suffix_of(self, value: str) -> bool:
        if self.regex is not None:
            return any(self.regex.fullmatch(value, start) for start in range(len(value) + 1))
        if self.length == 0:
            return True
        tail = value[-self.length :]
        return len(tail) == self.length and tail.isascii() and tail.lower() == self.lowered


def _case_alternatives(char: str) -> str:
    if ord(char) > 0xFFFF:
        return re.escape(char)
    forms = sorted({char.lower(), char.upper()}, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(form) for form in forms) + ")"


class Range:
    """A numeric interval; None bounds are open-ended."""

    __slots__ = ("high", "high_inclusive", "low", "low_inclusive")

    def __init__(self, low: float | None, low_inclusive: bool, high: float | None, high_inclusive: bool):
        self.low, self.low_inclusive = low, low_inclusive
        self.high, self.high_inclusive = high, high_inclusive

    def contains(self, number: float) -> bool:
        low, high = self.low, self.high
        if low is not None and (number < low or (number == low and not self.low_inclusive)):
            return False
        return not (high is not None and (number > high or (number == high and not self.high_inclusive)))
