"""JSON reading: patterns keep every key/value pair in order (duplicate keys are processed
one after the other, so the last one wins, as in event-ruler) and every number keeps its text."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from app.bus.patterns.errors import invalid


class Pairs(tuple[tuple[str, Any], ...]):
    """A JSON object as its (key, value) pairs, in document order.  Not a list, so that
    an object is never taken for an array."""


class Number:
    """A JSON number of a pattern: its text, and its double value (None if it has none)."""

    __slots__ = ("text", "value")

    def __init__(self, text: str, value: float | None):
        self.text = text
        self.value = value

    @classmethod
    def from_text(cls, text: str) -> Number:
        return cls(text, _double_or_none(text))


class BigNumber:
    """An event number too large (or too small) for a double: only its text can match."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return f"BigNumber({self.text})"


def _double_or_none(text: str) -> float | None:
    """The double of a JSON number, or None when it overflows or underflows to zero."""
    value = float(text)
    if math.isinf(value):
        return None
    if value == 0.0 and _is_nonzero_decimal(text):
        return None
    return value


def _is_nonzero_decimal(text: str) -> bool:
    try:
        return Decimal(text) != 0
    except InvalidOperation:
        return False


class NonStandardToken(ValueError):
    """NaN, Infinity or -Infinity: Python's json reads them; JSON (and EventBridge's parser) does not."""

    def __init__(self, name: str):
        super().__init__(f"{name} is not valid JSON")
        self.name = name


def _reject_constant(name: str) -> NoReturn:
    raise NonStandardToken(name)


_ANY_VALUE = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"


def json_error_reason(text: str, error: ValueError) -> str:
    """Why ``text`` is not JSON, worded as Jackson (the parser of EventBridge's event-ruler)
    words the usual cases, without Jackson's ``at [Source: …]`` location suffix: never
    Python's message."""
    if isinstance(error, NonStandardToken):
        return (
            f"Non-standard token '{error.name}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
        )
    pos = error.pos if isinstance(error, json.JSONDecodeError) else len(text)
    message = error.msg if isinstance(error, json.JSONDecodeError) else ""
    if pos >= len(text.rstrip()):
        return (
            "Unexpected end-of-input: expected a JSON value"
            if not text.strip()
            else ("Unexpected end-of-input: expected close marker")
        )
    char = text[pos]
    unexpected = f"Unexpected character ('{char}' (code {ord(char)}))"
    if message.startswith("Expecting property name"):
        return f"{unexpected}: was expecting double-quote to start field name"
    if message.startswith("Expecting ':' delimiter"):
        return f"{unexpected}: was expecting a colon to separate field name and value"
    if message.startswith("Expecting ',' delimiter"):
        return f"{unexpected}: was expecting comma to separate entries"
    if message == "Extra data":
        return f"{unexpected}: expected end-of-input after the JSON value"
    if char.isalpha():
        token = re.match(r"\w+", text[pos:])
        return f"Unrecognized token '{token.group(0) if token else char}': was expecting {_ANY_VALUE}"
    return f"{unexpected}: expected a valid value {_ANY_VALUE}"


def parse_pattern_text(text: str) -> Any:
    return json.loads(
        text,
        object_pairs_hook=Pairs,
        parse_float=Number.from_text,
        parse_int=Number.from_text,
        parse_constant=_reject_constant,
    )


def _event_float(text: str) -> float | BigNumber:
    value = float(text)
    return BigNumber(text) if math.isinf(value) else value


def parse_event_text(text: str | bytes) -> dict[str, Any]:
    try:
        event = json.loads(text, parse_float=_event_float, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("the event is nested too deeply to parse") from None
    if type(event) is not dict:
        raise ValueError("event must be a JSON object")
    return event


def tree_from_python(value: Any) -> Any:
    """A pattern given as Python data, in the same shape parse_pattern_text produces."""
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise invalid(f"object keys must be strings, got {key!r}")
        return Pairs((key, tree_from_python(item)) for key, item in value.items())
    if isinstance(value, list):
        return [tree_from_python(item) for item in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return Number.from_text(str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise invalid(f"{value!r} is not a JSON number")
        return Number(repr(value), value)
    raise invalid(f"{type(value).__name__} is not a JSON type")


def utf16_length(text: str) -> int:
    # AWS counts characters as Java does: UTF-16 code units.
    return len(text.encode("utf-16-le")) // 2


def java_order(path: str) -> bytes:
    # event-ruler walks a rule's fields in Java String order (UTF-16 code units).
    return path.encode("utf-16-be")
