"""The Amazon EventBridge event-pattern language, as a pure and fast module.

Behaves like Amazon EventBridge, whose matching engine is AWS's event-ruler
(https://github.com/aws/event-ruler): the rule compiler's checks and messages are
event-ruler's ``JsonRuleCompiler``, and matching is its array-consistent
``rulesForJSONEvent``.  Operator reference:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html

Public API::

    pattern = compile_pattern('{"source": ["aws.ec2"]}')   # validates once
    pattern.matches({"source": "aws.ec2"})                  # -> True
    pattern.matches_json('{"source": "aws.ec2"}')           # raw JSON text

    index = PatternIndex()
    index.add("rule-1", pattern)
    index.match(event)                                     # -> ["rule-1"]

How matching works (event-ruler's model, which decides every quirk below):

* A pattern is compiled into *sub-rules*: ``$or`` is expanded into one sub-rule per
  branch combination.  A sub-rule maps a dotted field path (``detail.state``) to the
  alternatives one leaf value may match.  Dotted pattern keys and nested objects are
  the same path; so are dotted event keys and nested event objects.
* The event is seen as leaf fields (path, value).  Objects are not leaves (so
  ``exists`` only sees leaves).  Every element of an array is a field of the array's
  path; a field inside an object that is an element of an array remembers which
  element it came from ("array membership").
* A sub-rule matches when, taking its paths in sorted order, each path has a field
  whose value matches one of its alternatives (or, for ``{"exists": false}``, no
  field), and all the chosen fields agree on the element of every array they share:
  event-ruler refuses matches built from different elements of one array of objects.
  ``{"exists": false}`` is judged against the fields chosen for earlier paths (in Java
  String order), exactly as event-ruler's ACFinder does.

Choices where EventBridge's documentation is silent or out of date (the golden data in
shared/testdata/eventbridge decides where it can):

* Numbers: numeric operators and numeric equality compare doubles over the whole double
  range, as event-ruler 2.x does; the older "-5.0e9..+5.0e9, 6 decimals" limit is not
  applied (nothing in the golden data asks for it).  A number a double cannot hold
  (1e400, 1e-400) is refused in numeric operators ("Cannot compare number") and matches
  only by its text in an exact list, as in event-ruler.
* A plain string that is an IP address matches other spellings of that address, and a
  CIDR block ignores its host bits (both as event-ruler).  IPv4 with leading zeros is
  not an address (ambiguous; recent JDKs refuse it too).
* event-ruler's machine-wide side effects (one rule's numeric or CIDR operand changing
  how every rule on the same field sees values) are not reproduced: each pattern is
  judged on its own, as EventBridge documents.
* Refused although event-ruler lets them through: text after the pattern's closing brace,
  and empty lists inside anything-but (``{"anything-but": {"prefix": []}}``).
* ``exactly`` (event-ruler's explicit exact-string operator) is accepted.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal, InvalidOperation
from functools import lru_cache, partial
from typing import Any

__all__ = [
    "MAX_OR_COMBINATIONS",
    "MAX_PATTERN_SIZE",
    "MAX_WILDCARD_COMPLEXITY",
    "InvalidEventPatternException",
    "Pattern",
    "PatternIndex",
    "compile_pattern",
]

OPERATORS_DOC = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html"

# EventBridge quota "Event pattern size": 2048 characters (adjustable in AWS).
MAX_PATTERN_SIZE = 2048
# EventBridge rejects a pattern whose $or branches expand to more than 1000 combinations
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html).
MAX_OR_COMBINATIONS = 1000
# EventBridge rejects wildcard patterns that are "too complex" (see eb-filtering-wildcard-
# matching-complexity in OPERATORS_DOC).  Complexity is event-ruler's
# MachineComplexityEvaluator measure: how many wildcard-pattern prefixes one worst-case
# value can keep alive at once.  AWS does not publish its threshold; at most 10 fits an
# observed case (three "*:stack/<name>/*" wildcards on one field, complexity 9, were
# accepted; four, complexity 12, were refused).
MAX_WILDCARD_COMPLEXITY = 10

_TOO_COMPLEX = (
    "Rule is too complex - try using fewer wildcard characters or fewer "
    "repeating character sequences after a wildcard character"
)

# Field names event-ruler refuses inside a $or branch (Constants.RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP).
_RESERVED_IN_OR = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)

_MISSING = object()


class InvalidEventPatternException(Exception):
    """Raised by compile_pattern for a pattern EventBridge would refuse."""

    code = "InvalidEventPatternException"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _invalid(reason: str) -> InvalidEventPatternException:
    # EventBridge words its PutRule/TestEventPattern errors this way.
    return InvalidEventPatternException(f"Event pattern is not valid. Reason: {reason}")


# ---------------------------------------------------------------------------
# JSON reading: patterns keep every key/value pair in order (duplicate keys are
# processed one after the other, so the last one wins, as in event-ruler) and every
# number keeps its text.
# ---------------------------------------------------------------------------


class _Pairs(tuple):
    """A JSON object as its (key, value) pairs, in document order.  Not a list, so that
    an object is never taken for an array."""


class _Number:
    """A JSON number of a pattern: its text, and its double value (None if it has none)."""

    __slots__ = ("text", "value")

    def __init__(self, text: str, value: float | None):
        self.text = text
        self.value = value

    @classmethod
    def from_text(cls, text: str) -> _Number:
        return cls(text, _double_or_none(text))


class _BigNumber:
    """An event number too large (or too small) for a double: only its text can match."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return f"_BigNumber({self.text})"


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


def _reject_constant(name: str):
    # Python's json accepts NaN/Infinity; JSON (and EventBridge's parser) does not.
    raise ValueError(f"{name} is not valid JSON")


def _parse_pattern_text(text: str) -> Any:
    return json.loads(
        text,
        object_pairs_hook=_Pairs,
        parse_float=_Number.from_text,
        parse_int=_Number.from_text,
        parse_constant=_reject_constant,
    )


def _event_float(text: str) -> float | _BigNumber:
    value = float(text)
    return _BigNumber(text) if math.isinf(value) else value


def _parse_event_text(text: str | bytes) -> dict:
    try:
        event = json.loads(text, parse_float=_event_float, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("the event is nested too deeply to parse") from None
    if type(event) is not dict:
        raise ValueError("event must be a JSON object")
    return event


def _tree_from_python(value: Any) -> Any:
    """A pattern given as Python data, in the same shape _parse_pattern_text produces."""
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise _invalid(f"object keys must be strings, got {key!r}")
        return _Pairs((key, _tree_from_python(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_tree_from_python(item) for item in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return _Number.from_text(str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(f"{value!r} is not a JSON number")
        return _Number(repr(value), value)
    raise _invalid(f"{type(value).__name__} is not a JSON type")


def _utf16_length(text: str) -> int:
    # AWS counts characters as Java does: UTF-16 code units.
    return len(text.encode("utf-16-le")) // 2


def _java_order(path: str) -> bytes:
    # event-ruler walks a rule's fields in Java String order (UTF-16 code units).
    return path.encode("utf-16-be")


# ---------------------------------------------------------------------------
# Operands: what one element of a value list compiles to.
# ---------------------------------------------------------------------------


class _Wildcard:
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
    segments, current = [], []
    position = 1  # after the opening quote
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            if index + 1 < len(text) and text[index + 1] == "*":
                raise _invalid(f"Consecutive wildcard characters at pos {position}{_at(path)}")
            segments.append("".join(current))
            current = []
        elif char == "\\":
            following = text[index + 1] if index + 1 < len(text) else ""
            if following not in ("*", "\\"):
                raise _invalid(f"Invalid escape character at pos {position}{_at(path)}")
            current.append(following)
            index += 1
            position += 1
        else:
            current.append(char)
        position += len(char.encode("utf-8"))
        index += 1
    segments.append("".join(current))
    return segments


class _IgnoreCase:
    """equals-ignore-case text, compared as event-ruler does.

    event-ruler lets each pattern character match its Java lower-case or upper-case form
    (EqualsIgnoreCaseParser); characters outside the BMP are UTF-16 surrogate pairs there,
    whose halves have no case, so they only match themselves.
    """

    __slots__ = ("length", "lowered", "regex")

    def __init__(self, text: str):
        if text.isascii():
            self.length, self.lowered, self.regex = len(text), text.lower(), None
        else:
            self.length, self.lowered = -1, None
            self.regex = re.compile("".join(_case_alternatives(char) for char in text), re.DOTALL)

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


# IP literals as event-ruler recognises them before parsing them (Constants.IPv4_REGEX:
# four dot-separated runs of digits; IPv6_REGEX: hex digits and colons, at least one colon).
_IPV6_SHAPE = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*\Z")


def _parse_ip(text: str) -> tuple[int, int] | None:
    """(version, integer) of an IP literal, or None.  IPv4-mapped IPv6 is IPv4, as in Java."""
    if "." in text:
        return _parse_ipv4(text)
    if ":" in text:
        return _parse_ipv6(text)
    return None


def _parse_ipv4(text: str) -> tuple[int, int] | None:
    # Hand-rolled because events carry ever-new addresses (a cache would not help) and the
    # ipaddress module is ~20x slower.  Leading zeros are refused, as ipaddress and recent
    # JDKs do (they are ambiguous: octal or decimal?).
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not (part.isascii() and part.isdigit()) or len(part) > 3 or (len(part) > 1 and part[0] == "0"):
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = value << 8 | octet
    return 4, value


@lru_cache(maxsize=4096)
def _parse_ipv6(text: str) -> tuple[int, int] | None:
    if not _IPV6_SHAPE.match(text):
        return None
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    if address.ipv4_mapped is not None:
        return 4, int(address.ipv4_mapped)
    return 6, int(address)


def _compile_cidr(text: str) -> tuple[int, int, int]:
    """(version, lowest, highest) of a CIDR block; host bits are ignored (the golden data's rule)."""
    parts = text.split("/")
    while parts and parts[-1] == "":  # Java's String.split drops trailing empty strings
        parts.pop()
    if len(parts) != 2:
        raise _invalid(f"Malformed CIDR {text!r}, one '/' required")
    if not re.fullmatch(r"[+-]?[0-9]+", parts[1]):
        raise _invalid(f"Malformed CIDR {text!r}, mask bits must be an integer")
    bits = int(parts[1])
    if bits < 0:
        raise _invalid(f"Malformed CIDR {text!r}, mask bits must not be negative")
    address = _parse_ip(parts[0])
    if address is None:
        raise _invalid(f"Invalid IP address in CIDR {text!r}")
    version, value = address
    width = 32 if version == 4 else 128
    if bits > width:
        raise _invalid(f"IPv{version} mask bits must be at most {width} in CIDR {text!r}")
    host_mask = (1 << (width - bits)) - 1
    lowest = value & ~host_mask
    return version, lowest, lowest | host_mask


class _Range:
    """A numeric interval; None bounds are open-ended."""

    __slots__ = ("high", "high_inclusive", "low", "low_inclusive")

    def __init__(self, low, low_inclusive, high, high_inclusive):
        self.low, self.low_inclusive = low, low_inclusive
        self.high, self.high_inclusive = high, high_inclusive

    def contains(self, number: float) -> bool:
        low, high = self.low, self.high
        if low is not None and (number < low or (number == low and not self.low_inclusive)):
            return False
        if high is not None and (number > high or (number == high and not self.high_inclusive)):
            return False
        return True


class _AnythingBut:
    """anything-but: any leaf value except those excluded.  Values of other types pass.

    A missing field never passes; that is the sub-rule's business, not this operand's.
    """

    __slots__ = ("allows_string", "kind", "values")

    def __init__(self, kind: str, values):
        self.kind = kind  # "strings", "numbers", "prefix", "suffix", "ignore-case", "wildcard"
        self.values = values
        self.allows_string = _string_negation(kind, values)


def _string_negation(kind: str, values) -> Callable[[str], bool]:
    """Whether a string value gets past this anything-but."""
    if kind == "strings":
        return lambda value: value not in values
    if kind == "prefix":
        return lambda value: not value.startswith(values)
    if kind == "suffix":
        return lambda value: not value.endswith(values)
    if kind == "ignore-case":
        return lambda value: not any(case.equals(value) for case in values)
    if kind == "wildcard":
        return lambda value: not any(wildcard.matches(value) for wildcard in values)
    return _always  # a number anything-but lets every string through


# ---------------------------------------------------------------------------
# Validation: a pattern tree -> sub-rules {path: [operand, ...]}, following
# event-ruler's JsonRuleCompiler step by step (its messages are the reasons given).
# ---------------------------------------------------------------------------


class _Operand:
    """One alternative of a value list: kind + payload."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: Any):
        self.kind = kind
        self.value = value


class _RuleCompiler:
    """Expands a pattern into sub-rules, in event-ruler's order, so duplicate keys and
    keys repeated inside $or override earlier ones exactly as they do there."""

    def __init__(self):
        self.rules: list[dict[str, list[_Operand]]] = []

    def compile(self, tree: Any) -> list[dict[str, list[_Operand]]]:
        if not isinstance(tree, _Pairs):
            raise _invalid("Filter is not an object")
        self._object(self.rules, "", tree, inside_or=False)
        return self.rules

    def _object(self, rules, prefix: str, pairs: _Pairs, inside_or: bool) -> None:
        if not pairs:
            raise _invalid(f"Empty objects are not allowed{_at(prefix)}")
        for name, value in pairs:
            if name == "$or":
                self._or(rules, prefix, value)
                continue
            if inside_or and name in _RESERVED_IN_OR:
                raise _invalid(f"{name} is Ruler reserved fieldName which cannot be used inside $or.")
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(value, _Pairs):
                self._object(rules, path, value, inside_or)
            elif isinstance(value, list):
                self._write(rules, path, value)
            else:
                raise _invalid(f'"{name}" must be an object or an array')

    def _or(self, rules, prefix: str, branches: Any) -> None:
        if not isinstance(branches, list):
            raise _invalid(f"It must be an Array followed with $or{_at(prefix)}.")
        before = [dict(rule) for rule in rules]
        rules.clear()
        for branch in branches:
            if not isinstance(branch, _Pairs):
                raise _invalid("Only JSON object is allowed in array of $or relationship.")
            branch_rules = [dict(rule) for rule in before] or [{}]
            self._object(branch_rules, prefix, branch, inside_or=True)
            rules.extend(branch_rules)
            if len(rules) > MAX_OR_COMBINATIONS:
                raise _invalid(f"$or results in over {MAX_OR_COMBINATIONS} rule combinations")
        if len(branches) < 2:
            raise _invalid("There must have at least 2 Objects in $or relationship.")

    def _write(self, rules, path: str, values: list) -> None:
        if not values:
            raise _invalid(f"Empty arrays are not allowed{_at(path)}")
        operands = [_value_operand(path, value) for value in values]
        if not rules:
            rules.append({})
        for rule in rules:
            rule[path] = operands  # a later occurrence of the same path wins


def _at(path: str) -> str:
    return f' at "{path}"' if path else ""


def _value_operand(path: str, value: Any) -> _Operand:
    if isinstance(value, _Pairs):
        return _match_expression(path, value)
    if isinstance(value, str):
        # event-ruler turns a plain string that is an IP literal into an IP range, so
        # "10.0.0.1" and other spellings of the same address match each other.
        address = _parse_ip(value)
        return _Operand("ip", (value, address)) if address else _Operand("string", value)
    if isinstance(value, _Number):
        return _Operand("number", value)
    if value is None or isinstance(value, bool):
        return _Operand("literal", value)
    raise _invalid(f"Match value must be String, number, true, false, or null{_at(path)}")


def _operator_of(pairs: _Pairs, path: str, what: str) -> tuple[str, Any]:
    """The (name, operand) of a one-key operator object such as {"prefix": "a"}."""
    if not pairs:
        raise _invalid(f"{what} expression name not found{_at(path)}")
    return pairs[0]


def _match_expression(path: str, pairs: _Pairs) -> _Operand:
    name, operand = _operator_of(pairs, path, "Match")
    compile_operator = _OPERATORS.get(name)
    if compile_operator is None:
        raise _invalid(f"Unrecognized match type {name}{_at(path)}")
    result = compile_operator(path, operand)
    if len(pairs) > 1:
        raise _invalid(f'Only one key allowed in match expression "{name}"{_at(path)}')
    return result


def _string_operand(name: str, path: str, operand: Any) -> str:
    if not isinstance(operand, str):
        raise _invalid(f"{name} match pattern must be a string{_at(path)}")
    return operand


def _exactly(path, operand):
    # "exactly" is event-ruler's explicit exact-string operator.
    return _Operand("string", _string_operand("exact", path, operand))


def _equals_ignore_case(path, operand):
    return _Operand("ignore-case", _IgnoreCase(_string_operand("equals-ignore-case", path, operand)))


def _prefix(path, operand):
    if isinstance(operand, _Pairs):
        return _Operand("prefix-ignore-case", _IgnoreCase(_ignore_case_only("prefix", path, operand)))
    return _Operand("prefix", _string_operand("prefix", path, operand))


def _suffix(path, operand):
    if isinstance(operand, _Pairs):
        return _Operand("suffix-ignore-case", _IgnoreCase(_ignore_case_only("suffix", path, operand)))
    return _Operand("suffix", _string_operand("suffix", path, operand))


def _ignore_case_only(name: str, path: str, pairs: _Pairs) -> str:
    """{"prefix": {"equals-ignore-case": "..."}} and its suffix twin."""
    inner, operand = _operator_of(pairs, path, name.capitalize())
    if inner != "equals-ignore-case":
        raise _invalid(f"Unsupported {name} pattern: {inner}{_at(path)}")
    text = _string_operand("equals-ignore-case", path, operand)
    if len(pairs) > 1:
        raise _invalid(f"Only one key allowed in match expression{_at(path)}")
    return text


def _wildcard(path, operand):
    return _Operand("wildcard", _Wildcard(_string_operand("wildcard", path, operand), path))


def _exists(path, operand):
    if not isinstance(operand, bool):
        raise _invalid(f"exists match pattern must be either true or false.{_at(path)}")
    return _Operand("exists", operand)


def _cidr(path, operand):
    return _Operand("cidr", _compile_cidr(_string_operand("cidr", path, operand)))


def _comparable(path: str, number: Any, operator: str) -> float:
    """A numeric operand: must be a JSON number that a double can hold."""
    if not isinstance(number, _Number):
        label = "equals" if operator == "=" else operator
        raise _invalid(f"Value of {label} must be numeric{_at(path)}")
    if number.value is None:
        raise _invalid(f"Cannot compare number : {number.text}{_at(path)}")
    return number.value


def _numeric(path, operand):
    if not isinstance(operand, list):
        raise _invalid(f"Value of numeric must be an array.{_at(path)}")
    if not operand or not isinstance(operand[0], str):
        member = operand[0] if operand else "]"
        raise _invalid(f"Invalid member in numeric match: {member}{_at(path)}")
    operator, rest = operand[0], operand[1:]
    if operator == "=":
        return _Operand("number-equals", _single_bound(path, operator, rest))
    if operator in ("<", "<="):
        top = _single_bound(path, operator, rest)
        return _Operand("range", _Range(None, False, top, operator == "<="))
    if operator in (">", ">="):
        return _Operand("range", _lower_bounded_range(path, operator, rest))
    raise _invalid(f"Unrecognized numeric range operator: {operator}{_at(path)}")


def _single_bound(path: str, operator: str, rest: list) -> float:
    value = _comparable(path, rest[0] if rest else None, operator)
    if len(rest) > 1:
        raise _invalid(f"Too many elements in numeric expression{_at(path)}")
    return value


def _lower_bounded_range(path: str, operator: str, rest: list) -> _Range:
    bottom = _comparable(path, rest[0] if rest else None, operator)
    if len(rest) == 1:
        return _Range(bottom, operator == ">=", None, False)
    top_operator = rest[1]
    if not isinstance(top_operator, str):
        raise _invalid(f"Bad value in numeric range: {top_operator}{_at(path)}")
    if top_operator not in ("<", "<="):
        raise _invalid(f"Bad numeric range operator: {top_operator}{_at(path)}")
    top = _comparable(path, rest[2] if len(rest) > 2 else None, top_operator)
    if len(rest) > 3:
        raise _invalid(f"Too many terms in numeric range expression{_at(path)}")
    if not bottom < top:
        raise _invalid(f"Bottom must be less than top{_at(path)}")
    return _Range(bottom, operator == ">=", top, top_operator == "<=")


_ANYTHING_BUT_KINDS = {
    "prefix": "prefix",
    "suffix": "suffix",
    "equals-ignore-case": "ignore-case",
    "wildcard": "wildcard",
}


def _anything_but(path, operand):
    if isinstance(operand, _Pairs):
        return _Operand("anything-but", _anything_but_of(path, operand))
    if isinstance(operand, list):
        return _Operand("anything-but", _anything_but_list(path, operand))
    if isinstance(operand, str):
        return _Operand("anything-but", _AnythingBut("strings", frozenset([operand])))
    if isinstance(operand, _Number):
        number = _comparable(path, operand, "anything-but")
        return _Operand("anything-but", _AnythingBut("numbers", frozenset([number])))
    raise _invalid(f"Value of anything-but must be an array or single string/number value.{_at(path)}")


def _anything_but_list(path: str, values: list) -> _AnythingBut:
    strings = [value for value in values if isinstance(value, str)]
    numbers = [value for value in values if isinstance(value, _Number)]
    if len(strings) + len(numbers) != len(values):
        raise _invalid(f"Inside anything but list, start|null|boolean is not supported.{_at(path)}")
    if bool(strings) == bool(numbers):
        raise _invalid(
            "Inside anything but list, either all values are number or string, "
            f"mixed type is not supported{_at(path)}"
        )
    if strings:
        return _AnythingBut("strings", frozenset(strings))
    return _AnythingBut("numbers", frozenset(_comparable(path, n, "anything-but") for n in numbers))


def _anything_but_of(path: str, pairs: _Pairs) -> _AnythingBut:
    """anything-but with prefix / suffix / equals-ignore-case / wildcard, one value or a list."""
    name, operand = _operator_of(pairs, path, "Anything-But")
    kind = _ANYTHING_BUT_KINDS.get(name)
    if kind is None:
        raise _invalid(f"Unsupported anything-but pattern: {name}{_at(path)}")
    texts = operand if isinstance(operand, list) else [operand]
    if not texts:
        raise _invalid(f"Empty arrays are not allowed{_at(path)}")
    for text in texts:
        _check_anything_but_text(path, kind, text)
    if len(pairs) > 1:
        raise _invalid(f"Too many elements in numeric expression{_at(path)}")
    return _AnythingBut(kind, _anything_but_values(path, kind, texts))


def _check_anything_but_text(path: str, kind: str, text: Any) -> None:
    if not isinstance(text, str):
        if kind == "ignore-case":
            raise _invalid(
                "Inside anything-but/equals-ignore-case list, "
                f"number|start|null|boolean is not supported.{_at(path)}"
            )
        label = "wildcard" if kind == "wildcard" else "prefix/suffix"
        raise _invalid(f"{label} match pattern must be a string{_at(path)}")
    if kind in ("prefix", "suffix") and not text:
        raise _invalid(f"Null prefix/suffix not allowed{_at(path)}")


def _anything_but_values(path: str, kind: str, texts: list[str]):
    if kind in ("prefix", "suffix"):
        return tuple(sorted(set(texts)))
    if kind == "ignore-case":
        return tuple(_IgnoreCase(text) for text in sorted(set(texts)))
    return tuple(_Wildcard(text, path) for text in sorted(set(texts)))


_OPERATORS: dict[str, Callable[[str, Any], _Operand]] = {
    "exactly": _exactly,
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "anything-but": _anything_but,
    "numeric": _numeric,
    "exists": _exists,
    "cidr": _cidr,
}


# ---------------------------------------------------------------------------
# Wildcard complexity (event-ruler's MachineComplexityEvaluator, simplified): the
# wildcard patterns that share one field's byte machine become one NFA; the score is
# the largest number of wildcard patterns reachable from the states a single value
# can occupy at once.
# ---------------------------------------------------------------------------

_STAR = None  # token for '*'


class _NfaState:
    __slots__ = ("any", "literal", "patterns")

    def __init__(self):
        self.literal: dict[str, set[int]] = {}
        self.any: set[int] = set()
        self.patterns: set[int] = set()


def _wildcard_tokens(wildcard: _Wildcard) -> list:
    tokens = ['"']
    for number, segment in enumerate(wildcard.segments):
        if number:
            tokens.append(_STAR)
        tokens.extend(segment)
    tokens.append('"')
    return tokens


def _build_nfa(wildcards: list[_Wildcard]) -> list[_NfaState]:
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
                if determinate:
                    target = _shared(shared_literal, (current, token), new_state)
                else:
                    target = new_state()
                states[current].literal.setdefault(token, set()).add(target)
                if after_star:  # '*' may match nothing: step over it from the state before
                    states[before_star].literal.setdefault(token, set()).add(target)
                current, after_star = target, False
            states[current].patterns.add(number)
    return states


def _shared(table: dict, key, new_state: Callable[[], int]) -> int:
    number = table.get(key)
    if number is None:
        number = table[key] = new_state()
    return number


def _wildcard_complexity(wildcards: list[_Wildcard], limit: int = MAX_WILDCARD_COMPLEXITY + 1) -> int:
    """The worst number of live wildcard prefixes, capped at ``limit``."""
    if not wildcards:
        return 0
    states = _build_nfa(wildcards)
    alphabet = {char for state in states for char in state.literal} | {""}
    pending, seen, worst = [frozenset([0])], set(), 0
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


def _step_nfa(states: list[_NfaState], active: frozenset, char: str) -> frozenset:
    following: set[int] = set()
    for number in active:
        state = states[number]
        following |= state.any
        if char:
            following |= state.literal.get(char, set())
    return frozenset(following)


def _live_prefixes(states: list[_NfaState], active: frozenset) -> int:
    # A value matching "foo" also matches "foo*", so a '*' state one step ahead counts too.
    total = 0
    for number in active:
        total += len(states[number].patterns)
        for star in states[number].any:
            if star not in active:
                total += len(states[star].patterns)
    return total


def _check_wildcard_complexity(rules: list[dict[str, list[_Operand]]]) -> None:
    """Sub-rules that share every earlier field (the same written value list, as $or
    copies make them) share a byte machine for the next one, as in event-ruler."""
    machines: dict[tuple, list[_Wildcard]] = {}
    for rule in rules:
        earlier: tuple = ()
        for path in sorted(rule, key=_java_order):
            operands = rule[path]
            # anything-but wildcards are not counted: event-ruler's evaluator skips them.
            wildcards = [operand.value for operand in operands if operand.kind == "wildcard"]
            if wildcards:
                machine = machines.setdefault((earlier, path), [])
                machine.extend(w for w in wildcards if all(w.text != m.text for m in machine))
            earlier += ((path, id(operands)),)
    for wildcards in machines.values():
        if _wildcard_complexity(wildcards) > MAX_WILDCARD_COMPLEXITY:
            raise _invalid(_TOO_COMPLEX)


# ---------------------------------------------------------------------------
# Field tests: all the alternatives of one path as a single predicate on a leaf value,
# dispatched on the value's JSON type and precomputed at compile time.
# ---------------------------------------------------------------------------


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


class _FieldSpec:
    """The alternatives of one path, sorted by what they can match."""

    def __init__(self, operands: list[_Operand]):
        self.exists = self.absent = False
        self.strings: set[str] = set()
        self.ips: set[tuple[int, int]] = set()
        self.numbers: set[float] = set()
        self.number_texts: set[str] = set()  # numbers a double cannot hold: matched by text
        self.literals: set = set()  # true / false / null
        self.prefixes: list[str] = []
        self.suffixes: list[str] = []
        self.ignore_cases: list[tuple[str, _IgnoreCase]] = []  # ("equals" | "prefix" | "suffix", text)
        self.wildcards: list[_Wildcard] = []
        self.cidrs: list[tuple[int, int, int]] = []
        self.ranges: list[_Range] = []
        self.negations: list[_AnythingBut] = []
        for operand in operands:
            self._add(operand.kind, operand.value)

    def _add(self, kind: str, value: Any) -> None:
        if kind == "string":
            self.strings.add(value)
        elif kind == "ip":
            self.strings.add(value[0])
            self.ips.add(value[1])
        elif kind == "number":
            # event-ruler adds both a numeric-equality and an exact-text matcher.
            if value.value is None:
                self.number_texts.add(value.text)
            else:
                self.numbers.add(value.value)
        elif kind == "number-equals":
            self.numbers.add(value)
        elif kind == "literal":
            self.literals.add(value)
        elif kind == "exists":
            if value:
                self.exists = True
            else:
                self.absent = True
        else:
            self._add_operator(kind, value)

    def _add_operator(self, kind: str, value: Any) -> None:
        if kind == "prefix":
            self.prefixes.append(value)
        elif kind == "suffix":
            self.suffixes.append(value)
        elif kind == "ignore-case":
            self.ignore_cases.append(("equals", value))
        elif kind == "prefix-ignore-case":
            self.ignore_cases.append(("prefix", value))
        elif kind == "suffix-ignore-case":
            self.ignore_cases.append(("suffix", value))
        elif kind == "wildcard":
            self.wildcards.append(value)
        elif kind == "cidr":
            self.cidrs.append(value)
        elif kind == "range":
            self.ranges.append(value)
        elif kind == "anything-but":
            self.negations.append(value)
        else:  # pragma: no cover - every operand kind is handled above
            raise AssertionError(kind)

    @property
    def string_tests(self) -> list[Callable[[str], bool]]:
        tests = [getattr(case, _IGNORE_CASE_TESTS[mode]) for mode, case in self.ignore_cases]
        return tests + [wildcard.matches for wildcard in self.wildcards]

    def has_values(self) -> bool:
        """Whether any present value could match (False for a bare {"exists": false})."""
        return bool(
            self.exists
            or self.strings
            or self.numbers
            or self.number_texts
            or self.literals
            or self.has_other_operators()
        )

    def is_exact_only(self) -> bool:
        return not (self.absent or self.ips or self.number_texts or self.has_other_operators())

    def has_other_operators(self) -> bool:
        return bool(
            self.exists
            or self.prefixes
            or self.suffixes
            or self.ignore_cases
            or self.wildcards
            or self.cidrs
            or self.ranges
            or self.negations
        )

    def index_keys(self) -> _Keys | None:
        """What any value matching this field must look like, or None if that cannot be
        said cheaply (anything-but, IP addresses, absence, non-ASCII ignore-case...)."""
        if self.absent or self.negations or self.ips or self.cidrs or self.number_texts:
            return None
        keys = _Keys()
        if self.exists:
            keys.present = True
            return keys
        keys.strings.update(self.strings)
        keys.numbers.update(self.numbers)
        keys.literals.update(self.literals)
        keys.prefixes.update(self.prefixes)
        keys.suffixes.update(self.suffixes)
        keys.ranges.extend(self.ranges)
        if not (keys.add_ignore_cases(self.ignore_cases) and keys.add_wildcards(self.wildcards)):
            return None
        return keys


_IGNORE_CASE_TESTS = {"equals": "equals", "prefix": "is_prefix_of", "suffix": "is_suffix_of"}


def _field_test(spec: _FieldSpec) -> Callable[[Any], bool] | None:
    if not spec.has_values():
        return None
    if spec.exists:  # exists: true matches any leaf, null included
        return _always
    fast = _fast_field_test(spec)
    if fast is not None:
        return fast
    string_test, number_test = _string_test(spec), _number_test(spec)
    if not (spec.literals or spec.number_texts or spec.negations):
        # Only strings, or only numbers, can match: skip the dispatch on the value's type.
        if number_test is _never:
            return lambda value: type(value) is str and string_test(value)
        if not _can_match_strings(spec):
            return lambda value: (type(value) is float or type(value) is int) and number_test(value)
    by_type = {
        str: string_test,
        int: number_test,
        float: number_test,
        bool: _literal_test(spec),
        type(None): _literal_test(spec),
        _BigNumber: _big_number_test(spec),
    }
    other = _always if spec.negations else _never
    get = by_type.get

    def test(value: Any) -> bool:
        return get(type(value), other)(value)

    return test


def _can_match_strings(spec: _FieldSpec) -> bool:
    return bool(
        spec.strings
        or spec.prefixes
        or spec.suffixes
        or spec.ignore_cases
        or spec.wildcards
        or spec.cidrs
        or spec.negations
    )


def _fast_field_test(spec: _FieldSpec) -> Callable[[Any], bool] | None:
    """The two commonest shapes: only exact strings, or only prefixes."""
    if spec.ips or spec.numbers or spec.number_texts or spec.literals:
        return None
    if spec.is_exact_only():
        # Strings never equal values of other JSON types, so a set lookup is the whole test.
        return frozenset(spec.strings).__contains__
    if spec.prefixes and not spec.strings and _only_prefixes(spec):
        prefixes = tuple(spec.prefixes)
        return lambda value: type(value) is str and value.startswith(prefixes)
    return None


def _only_prefixes(spec: _FieldSpec) -> bool:
    return not (
        spec.exists
        or spec.suffixes
        or spec.ignore_cases
        or spec.wildcards
        or spec.cidrs
        or spec.ranges
        or spec.negations
    )


def _string_test(spec: _FieldSpec) -> Callable[[str], bool]:
    checks: list[Callable[[str], bool]] = []
    if spec.strings:
        checks.append(frozenset(spec.strings).__contains__)
    if spec.prefixes:
        prefixes = tuple(spec.prefixes)
        checks.append(lambda value: value.startswith(prefixes))
    if spec.suffixes:
        suffixes = tuple(spec.suffixes)
        checks.append(lambda value: value.endswith(suffixes))
    checks.extend(spec.string_tests)
    if spec.ips or spec.cidrs:
        ips, cidrs = frozenset(spec.ips), tuple(spec.cidrs)
        checks.append(lambda value: _ip_matches(value, ips, cidrs))
    checks.extend(negation.allows_string for negation in spec.negations)
    return _any_of(checks)


def _any_of(checks: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if not checks:
        return _never
    if len(checks) == 1:
        return checks[0]
    checks = tuple(checks)

    def test(value: Any) -> bool:
        for check in checks:
            if check(value):
                return True
        return False

    return test


# The last value parsed as an IP, and the result: every cidr pattern on a field reads the same
# value of an event, so one parse serves them all. Replaced as one tuple (thread-safe).
_LAST_IP: tuple[str, tuple[int, int] | None] = ("", None)


def _parse_ip_once(value: str) -> tuple[int, int] | None:
    global _LAST_IP
    last = _LAST_IP
    if last[0] == value:
        return last[1]
    address = _parse_ip(value)
    _LAST_IP = (value, address)
    return address


def _ip_matches(value: str, ips: frozenset, cidrs: tuple) -> bool:
    address = _parse_ip_once(value)
    if address is None:
        return False
    if address in ips:
        return True
    version, number = address
    return any(v == version and low <= number <= high for v, low, high in cidrs)


def _number_test(spec: _FieldSpec) -> Callable[[Any], bool]:
    numbers, texts, ranges = frozenset(spec.numbers), frozenset(spec.number_texts), tuple(spec.ranges)
    excluding = tuple(n for n in spec.negations if n.kind == "numbers")
    if len(excluding) != len(spec.negations):
        return _always  # a string anything-but lets every number through
    if not (numbers or texts or ranges or excluding):
        return _never

    def test(value: Any) -> bool:
        try:
            number = float(value)
        except OverflowError:  # an integer beyond a double: compare the text
            return str(value) in texts or bool(excluding)
        if number in numbers:
            return True
        for numeric_range in ranges:
            if numeric_range.contains(number):
                return True
        for negation in excluding:
            if number not in negation.values:
                return True
        return False

    return test


def _big_number_test(spec: _FieldSpec) -> Callable[[_BigNumber], bool]:
    texts, passes = frozenset(spec.number_texts), bool(spec.negations)
    return lambda value: value.text in texts or passes


def _literal_test(spec: _FieldSpec) -> Callable[[Any], bool]:
    literals, passes = tuple(spec.literals), bool(spec.negations)
    return lambda value: any(value is literal for literal in literals) or passes


# ---------------------------------------------------------------------------
# Reading an event: the leaf fields at one path, with their array memberships.
# ---------------------------------------------------------------------------

_NO_FIELDS: tuple = ((), None)


class _PathPlan:
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
        self.collect = {1: self._collect_one, 2: self._collect_two}.get(
            self.depth, self._collect_without_arrays
        )

    def _collect_one(self, view: _EventView) -> tuple:
        value = view.event.get(self.first, _MISSING)
        kind = type(value)
        if kind is list:
            return _walk(view, self) if value else _NO_FIELDS  # an empty array has no leaves
        return _NO_FIELDS if value is _MISSING or kind is dict else ((value,), None)

    def _collect_two(self, view: _EventView) -> tuple:
        event = view.event
        if self.path in event:  # an event key with the dot in it: the general way
            return self._collect_without_arrays(view)
        parent = event.get(self.first, _MISSING)
        kind = type(parent)
        if kind is dict:
            value = parent.get(self.second, _MISSING)
            kind = type(value)
            if kind is list:
                return _walk(view, self)
            return _NO_FIELDS if value is _MISSING or kind is dict else ((value,), None)
        return _walk(view, self) if kind is list else _NO_FIELDS

    def _collect_without_arrays(self, view: _EventView) -> tuple:
        """Objects all the way down; hands over to _walk at the first array."""
        values: list = []
        depth, splits = self.depth, self.splits
        pending = [(view.event, 0)]
        while pending:
            node, segment = pending.pop()
            for key, following in splits[segment]:
                child = node.get(key, _MISSING)
                if child is _MISSING:
                    continue
                kind = type(child)
                if kind is dict:
                    if following < depth:
                        pending.append((child, following))
                elif kind is list:
                    return _walk(view, self)
                elif following == depth:
                    values.append(child)
        return (values, None) if values else _NO_FIELDS


@lru_cache(maxsize=4096)
def _plan(path: str) -> _PathPlan:
    return _PathPlan(path)


def _walk(view: _EventView, plan: _PathPlan) -> tuple:
    """Every leaf at plan.path, with its array membership.

    An array is known by its location in the event, a small integer the view hands out
    (so the same array gets the same number whichever path reaches it).  An element that
    is an object or an array adds (array, index) to the membership of all below it; a
    membership is a linked cell (array, index, rest), or None, so it grows in O(1).
    """
    values: list = []
    memberships: list = []
    depth, splits, locate = plan.depth, plan.splits, view.locate
    stack = [(view.event, 0, 0, None)]
    while stack:
        node, segment, location, membership = stack.pop()
        kind = type(node)
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


def _walk_array(array, segment, location, membership, depth, locate, stack, values, memberships) -> None:
    for index, element in enumerate(array):
        kind = type(element)
        if kind is dict or kind is list:
            if kind is list or segment < depth:
                stack.append((element, segment, locate(location, index), (location, index, membership)))
        elif segment == depth:
            values.append(element)  # scalars in an array share the array's membership
            memberships.append(membership)


class _EventView:
    """One event, with the fields found so far at each path (shared by every pattern tried)."""

    __slots__ = ("cache", "event", "locations")

    def __init__(self, event: dict):
        if type(event) is not dict:
            raise TypeError(f"an event must be a dict (a JSON object), got {type(event).__name__}")
        self.event = event
        self.cache: dict[str, tuple] = {}
        self.locations: dict[tuple, int] | None = None

    def fields(self, plan: _PathPlan) -> tuple:
        found = self.cache.get(plan.path)
        if found is None:
            found = self.cache[plan.path] = plan.collect(self)
        return found

    def locate(self, parent: int, step: Any) -> int:
        """The number of the location reached from location `parent` by key or index `step`."""
        if self.locations is None:
            self.locations = {}
        key = (parent, step)
        number = self.locations.get(key)
        if number is None:
            number = self.locations[key] = len(self.locations) + 1
        return number


# ---------------------------------------------------------------------------
# Matching a sub-rule.
# ---------------------------------------------------------------------------


class _Step:
    __slots__ = ("absent_ok", "cost", "path", "plan", "rank", "test")

    def __init__(self, path: str, spec: _FieldSpec, rank: int):
        self.path = path
        self.plan = _plan(path)
        self.test = _field_test(spec)
        self.absent_ok = spec.absent
        self.rank = rank  # position in event-ruler's (Java String) path order
        # Cheap and selective first: exact values before other operators, short paths first.
        self.cost = (self.plan.depth, not spec.is_exact_only(), rank)


def _subrule_matches(steps: tuple[tuple, ...], view: _EventView) -> bool:
    """Fields outside arrays cannot clash with anything, so each is checked on its own
    (in any order); only fields inside arrays need event-ruler's array-consistent search.

    steps: (path, collect, test, absent_ok, step) tuples, cheapest first (this loop is
    the hot path of every match, and unpacking a tuple beats attribute look-ups).
    """
    cache = view.cache
    tangled = None
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


def _tangled_steps_match(tangled: list) -> bool:
    choices = []
    for step, values, memberships in sorted(tangled, key=_step_rank):
        candidates = _matching_memberships(step, values, memberships)
        if not candidates and not step.absent_ok:
            return False
        choices.append((candidates, memberships if step.absent_ok else None))
    return _consistent_choice(choices, 0, {}, set())


def _step_rank(tangled_step: tuple) -> int:
    return tangled_step[0].rank


def _step_cost(step: _Step) -> tuple:
    return step.cost


def _matching_memberships(step: _Step, values, memberships) -> list:
    test = step.test
    if test is None:
        return []
    # Values of one array element share one membership cell: keep each cell once.
    return list({id(m): m for value, m in zip(values, memberships) if test(value)}.values())


def _consistent_choice(tangled: list, index: int, chosen: dict, failed: set) -> bool:
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
    if all_memberships is not None and all(_merge(chosen, m) is None for m in all_memberships):
        if _consistent_choice(tangled, index + 1, chosen, failed):
            return True
    failed.add(state)
    return False


def _merge(chosen: dict, membership: tuple | None) -> dict | None:
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


# ---------------------------------------------------------------------------
# Public API.
# ---------------------------------------------------------------------------


class Pattern:
    """A compiled, validated event pattern.  Build it with compile_pattern()."""

    __slots__ = ("_rules", "_subrules", "text")

    def __init__(self, text: str, rules: list[dict[str, list[_Operand]]]):
        self.text = text
        self._rules = rules
        self._subrules = tuple(self._compile_subrule(rule) for rule in rules)

    @staticmethod
    def _compile_subrule(rule: dict[str, list[_Operand]]) -> tuple[_Step, ...]:
        ordered = sorted(rule, key=_java_order)
        steps = [_Step(path, _FieldSpec(rule[path]), rank) for rank, path in enumerate(ordered)]
        return tuple(
            (step.path, step.plan.collect, step.test, step.absent_ok, step)
            for step in sorted(steps, key=_step_cost)
        )

    @property
    def paths(self) -> frozenset[str]:
        """Every field path the pattern looks at."""
        return frozenset(path for rule in self._rules for path in rule)

    @property
    def subrule_count(self) -> int:
        """How many alternatives the pattern's $or branches expand to."""
        return len(self._subrules)

    def matches(self, event: dict) -> bool:
        """Whether the event (a dict, as json.loads returns it) matches."""
        return self._matches_view(_EventView(event))

    def matches_json(self, text: str | bytes) -> bool:
        """Whether the event given as raw JSON text matches (duplicate keys: the last wins)."""
        return self._matches_view(_EventView(_parse_event_text(text)))

    def _matches_view(self, view: _EventView) -> bool:
        for steps in self._subrules:
            if _subrule_matches(steps, view):
                return True
        return False

    def _index_requirements(self) -> dict[str, _Keys]:
        """Paths every alternative of the pattern constrains in an indexable way, with what a
        value there must look like.  An event without such a value at such a path cannot
        match, which is what lets PatternIndex skip the pattern."""
        required: dict[str, _Keys] | None = None
        for rule in self._rules:
            keys = {path: _FieldSpec(operands).index_keys() for path, operands in rule.items()}
            keys = {path: found for path, found in keys.items() if found is not None}
            if required is None:
                required = keys
            else:
                required = {path: required[path].union(keys[path]) for path in required.keys() & keys.keys()}
        return required or {}

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


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
        rules = _RuleCompiler().compile(tree)
        _check_wildcard_complexity(rules)
    except RecursionError:
        raise _invalid("the pattern is nested too deeply") from None
    return Pattern(text, rules)


def _read_pattern(pattern: Any, max_size: int) -> tuple[str, Any]:
    if isinstance(pattern, (bytes, bytearray)):
        try:
            pattern = pattern.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _invalid(f"the pattern is not UTF-8: {error}") from None
    if isinstance(pattern, str):
        _check_size(pattern, max_size)
        try:
            return pattern, _parse_pattern_text(pattern)
        except ValueError as error:
            raise _invalid(f"the pattern is not valid JSON: {error}") from None
    try:
        text = json.dumps(pattern, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise _invalid(f"the pattern is not JSON data: {error}") from None
    _check_size(text, max_size)
    return text, _tree_from_python(pattern)


def _check_size(text: str, max_size: int) -> None:
    size = _utf16_length(text)
    if size > max_size:
        raise _invalid(f"Event pattern is {size} characters long; the limit is {max_size}")


# ---------------------------------------------------------------------------
# PatternIndex: patterns filed under what their values must look like.
# ---------------------------------------------------------------------------


class _Keys:
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

    def __init__(self):
        self.strings: set[str] = set()
        self.prefixes: set[str] = set()
        self.suffixes: set[str] = set()
        self.folded: set[str] = set()
        self.folded_prefixes: set[str] = set()
        self.folded_suffixes: set[str] = set()
        self.numbers: set[float] = set()
        self.ranges: list[_Range] = []
        self.literals: set = set()
        self.present = False

    def add_ignore_cases(self, ignore_cases: list[tuple[str, _IgnoreCase]]) -> bool:
        for mode, case in ignore_cases:
            if case.lowered is None:  # non-ASCII: Java's case rules, not worth indexing
                return False
            {"equals": self.folded, "prefix": self.folded_prefixes, "suffix": self.folded_suffixes}[mode].add(
                case.lowered
            )
        return True

    def add_wildcards(self, wildcards: list[_Wildcard]) -> bool:
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

    def union(self, other: _Keys) -> _Keys:
        merged = _Keys()
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

    def tagged(self) -> set[tuple]:
        """The keys, tagged with their kind, to count distinct keys per path."""
        tagged = {(name, key) for name in self._SETS for key in getattr(self, name)}
        tagged.update(("range", r.low, r.low_inclusive, r.high, r.high_inclusive) for r in self.ranges)
        return tagged


class _Entry:
    __slots__ = ("candidate", "matches_view", "name", "order", "pattern", "proven")

    def __init__(self, name: str, pattern: Pattern, order: int):
        self.name, self.pattern, self.order = name, pattern, order
        self.matches_view = pattern._matches_view
        self.file(order, None)

    def file(self, order: int, path: str | None) -> None:
        """Where the index filed the entry: its order, and ``proven``, the (order, name,
        check) candidate to use when an exact-string look-up at ``path`` found it."""
        self.order = order
        self.candidate = (order, self.name, self.matches_view)
        self.proven = (order, self.name, self._proven_check(path)) if path else self.candidate

    def _proven_check(self, path: str) -> Callable[[_EventView], bool]:
        """The pattern's test without its step at ``path``, when that step only asks for exact
        strings: a look-up that found the entry under the event's (single, array-free) value
        there has already passed it. Saves a step and a call on the commonest rules."""
        subrules = self.pattern._subrules
        if len(subrules) != 1:
            return self.matches_view
        steps = subrules[0]
        filed = [step for step in steps if step[0] == path]
        if len(filed) != 1 or not _is_exact_strings(filed[0][4]):
            return self.matches_view
        rest = tuple(step for step in steps if step[0] != path)
        return partial(_subrule_matches, rest) if rest else _always


class _AffixTable:
    """Entries keyed by a prefix (or suffix) of the value, grouped by its length."""

    __slots__ = ("by_length", "suffix")

    def __init__(self, suffix: bool):
        self.by_length: dict[int, dict[str, list[_Entry]]] = {}
        self.suffix = suffix

    def add(self, entry: _Entry, affixes: set[str]) -> None:
        for affix in affixes:
            self.by_length.setdefault(len(affix), {}).setdefault(affix, []).append(entry)

    def collect(self, value: str, found: set) -> None:
        size = len(value)
        for length, table in self.by_length.items():
            if length <= size:
                bucket = table.get(value[size - length :] if self.suffix else value[:length])
                if bucket:
                    found.update(bucket)


class _NumberLine:
    """Entries keyed by numeric intervals: the line is cut at every bound, and each piece
    (a bound itself, or the open stretch between two) lists the entries covering it."""

    __slots__ = ("bounds", "intervals", "pieces")

    def __init__(self):
        self.intervals: list[tuple[_Range, _Entry]] = []
        self.bounds: list[float] = []
        self.pieces: list[list[_Entry]] | None = None

    def add(self, entry: _Entry, ranges: list[_Range], points: set[float]) -> None:
        self.intervals.extend((numeric_range, entry) for numeric_range in ranges)
        self.intervals.extend((_Range(point, True, point, True), entry) for point in points)
        self.pieces = None

    def collect(self, number: float, found: set) -> None:
        if self.pieces is None:
            self._cut()
        position = bisect_left(self.bounds, number)
        on_bound = position < len(self.bounds) and self.bounds[position] == number
        found.update(self.pieces[2 * position + 1 if on_bound else 2 * position])

    def _cut(self) -> None:
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
        self.pieces = [
            [entry for numeric_range, entry in self.intervals if numeric_range.contains(sample)]
            for sample in samples
        ]


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
        self.plan = _plan(path)
        self.strings: dict[str, list[_Entry]] = {}
        self.prefixes, self.suffixes = _AffixTable(False), _AffixTable(True)
        self.folded: dict[str, list[_Entry]] = {}
        self.folded_prefixes, self.folded_suffixes = _AffixTable(False), _AffixTable(True)
        self.numbers = _NumberLine()
        self.literals: dict[Any, list[_Entry]] = {}
        self.present: list[_Entry] = []
        self.strings_only = True  # only exact strings filed: one dict look-up per value
        # value -> candidate tuples of the entries filed under it (the strings_only fast path)
        self.candidates: dict[str, list[tuple]] = {}
        self.proven: dict[str, list[tuple]] = {}

    def add(self, entry: _Entry, keys: _Keys) -> None:
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
        for table, values in (
            (self.strings, keys.strings),
            (self.folded, keys.folded),
            (self.literals, keys.literals),
        ):
            for value in values:
                table.setdefault(value, []).append(entry)
        for value in keys.strings:
            self.candidates.setdefault(value, []).append(entry.candidate)
            self.proven.setdefault(value, []).append(entry.proven)
        self.prefixes.add(entry, keys.prefixes)
        self.suffixes.add(entry, keys.suffixes)
        self.folded_prefixes.add(entry, keys.folded_prefixes)
        self.folded_suffixes.add(entry, keys.folded_suffixes)
        if keys.numbers or keys.ranges:
            self.numbers.add(entry, keys.ranges, keys.numbers)
        if keys.present:
            self.present.append(entry)

    def entries_for(self, values) -> set[_Entry]:
        found: set[_Entry] = set()
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

    def _string_entries(self, value: str, found: set) -> None:
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

    def _number_entries(self, value: Any, found: set) -> None:
        if not self.numbers.intervals:
            return
        try:
            number = float(value)
        except OverflowError:
            return
        if number == number:  # NaN is on no interval
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
        self._entries: list[_Entry] = []
        # (filed paths, unfiled entries), or None until the next match files the entries;
        # replaced whole, so a match running in another thread sees one state or the other.
        self._state: tuple[tuple[tuple[str, _IndexedPath], ...], tuple[_Entry, ...]] | None = None
        for name, pattern in rules:
            self.add(name, pattern)

    def add(self, name: str, pattern: str | dict | Pattern) -> Pattern:
        compiled = compile_pattern(pattern)
        self._entries.append(_Entry(name, compiled, len(self._entries)))
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

    def match(self, event: dict) -> list[str]:
        """Names of the patterns the event matches, in the order they were added."""
        return self._match_view(_EventView(event))

    def match_json(self, text: str | bytes) -> list[str]:
        return self._match_view(_EventView(_parse_event_text(text)))

    def _file_all(self) -> tuple:
        """Build the index: done lazily, at the first match after a change."""
        entries = list(self._entries)
        requirements = [entry.pattern._index_requirements() for entry in entries]
        paths: dict[str, _IndexedPath] = {}
        unfiled: list[_Entry] = []
        for order, (entry, path) in enumerate(zip(entries, _choose_paths(requirements, self.LOOKUP_COST))):
            entry.file(order, path)
            if path is None:
                unfiled.append(entry.candidate)
                continue
            if path not in paths:
                paths[path] = _IndexedPath(path)
            paths[path].add(entry, requirements[order][path])
        self._state = state = (tuple(paths.items()), tuple(unfiled))
        return state

    def _candidates(self, view: _EventView) -> list[tuple]:
        """(order, name, check) of every pattern the event could match, in added order."""
        state = self._state or self._file_all()
        filed, unfiled = state
        candidates: list[tuple] = []
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

    def _match_view(self, view: _EventView) -> list[str]:
        names: list[str] = []
        for _, name, check in self._candidates(view):
            if check(view) and name not in names:
                names.append(name)
        return names


def _choose_paths(requirements: list[dict[str, _Keys]], lookup_cost: float) -> list[str | None]:
    """The path to file each pattern under, or None to try the pattern on every event.

    Filing a pattern under path p costs, per event, the chance that the pattern is tried
    anyway (its key looseness over the number of distinct keys filed at p: values spread
    over many keys rarely hit a given one) plus its share of looking p up.  Trying the
    pattern on every event costs 1.
    """
    sharing: dict[str, int] = {}
    distinct: dict[str, set] = {}
    for required in requirements:
        for path, keys in required.items():
            if keys.weakness() is not None:
                sharing[path] = sharing.get(path, 0) + 1
                distinct.setdefault(path, set()).update(keys.tagged())

    def cost(path: str, keys: _Keys) -> float:
        return min(1.0, keys.weakness() / len(distinct[path])) + lookup_cost / sharing[path]

    chosen: list[str | None] = []
    for required in requirements:
        options = sorted(
            (cost(path, keys), path) for path, keys in required.items() if keys.weakness() is not None
        )
        chosen.append(options[0][1] if options and options[0][0] < 1.0 else None)
    return _drop_lonely_paths(chosen)


def _drop_lonely_paths(chosen: list[str | None]) -> list[str | None]:
    """A path left serving a single pattern saves nothing over trying that pattern."""
    usage: dict[str, int] = {}
    for path in chosen:
        if path is not None:
            usage[path] = usage.get(path, 0) + 1
    return [path if path is not None and usage[path] > 1 else None for path in chosen]


def _is_exact_strings(step: _Step) -> bool:
    return (
        step.test is not None
        and getattr(step.test, "__self__", None).__class__ is frozenset
        and not step.absent_ok
    )
