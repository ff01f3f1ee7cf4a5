"""Validation: a pattern tree -> sub-rules {path: [operand, ...]}, following event-ruler's
JsonRuleCompiler step by step (its messages are the reasons given)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.bus.patterns.addresses import compile_cidr, parse_ip
from app.bus.patterns.errors import at, invalid
from app.bus.patterns.matchers import Anchor, IgnoreCase, Range, Wildcard
from app.bus.patterns.operands import (
    AnythingBut,
    Cidr,
    ExactAddress,
    ExactNumber,
    ExactString,
    Exists,
    IgnoreCaseText,
    Literal,
    NotIgnoreCase,
    NotNumbers,
    NotPrefixes,
    NotStrings,
    NotSuffixes,
    NotWildcards,
    NumericEquals,
    NumericRange,
    Operand,
    Prefix,
    Suffix,
    WildcardText,
)
from app.bus.patterns.reading import Number, Pairs

# A sub-rule: each field path with the alternatives one of its leaf values may match.
SubRule = dict[str, list[Operand]]

# EventBridge rejects a pattern whose $or branches expand to more than 1000 combinations
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html).
MAX_OR_COMBINATIONS = 1000

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


class RuleCompiler:
    """Expands a pattern into sub-rules, in event-ruler's order, so duplicate keys and
    keys repeated inside $or override earlier ones exactly as they do there."""

    def __init__(self) -> None:
        self.rules: list[SubRule] = []

    def compile(self, tree: Any) -> list[SubRule]:
        if not isinstance(tree, Pairs):
            raise invalid("Filter is not an object")
        self._object(self.rules, "", tree, inside_or=False)
        return self.rules

    def _object(self, rules: list[SubRule], prefix: str, pairs: Pairs, inside_or: bool) -> None:
        if not pairs:
            raise invalid(f"Empty objects are not allowed{at(prefix)}")
        for name, value in pairs:
            if name == "$or":
                self._or(rules, prefix, value)
                continue
            if inside_or and name in _RESERVED_IN_OR:
                raise invalid(f"{name} is Ruler reserved fieldName which cannot be used inside $or.")
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(value, Pairs):
                self._object(rules, path, value, inside_or)
            elif isinstance(value, list):
                self._write(rules, path, value)
            else:
                raise invalid(f'"{name}" must be an object or an array')

    def _or(self, rules: list[SubRule], prefix: str, branches: Any) -> None:
        if not isinstance(branches, list):
            raise invalid(f"It must be an Array followed with $or{at(prefix)}.")
        before = [dict(rule) for rule in rules]
        rules.clear()
        for branch in branches:
            if not isinstance(branch, Pairs):
                raise invalid("Only JSON object is allowed in array of $or relationship.")
            branch_rules = [dict(rule) for rule in before] or [{}]
            self._object(branch_rules, prefix, branch, inside_or=True)
            rules.extend(branch_rules)
            if len(rules) > MAX_OR_COMBINATIONS:
                raise invalid(f"$or results in over {MAX_OR_COMBINATIONS} rule combinations")
        if len(branches) < 2:
            raise invalid("There must have at least 2 Objects in $or relationship.")

    def _write(self, rules: list[SubRule], path: str, values: list[Any]) -> None:
        if not values:
            raise invalid(f"Empty arrays are not allowed{at(path)}")
        operands = [_value_operand(path, value) for value in values]
        if not rules:
            rules.append({})
        for rule in rules:
            rule[path] = operands  # a later occurrence of the same path wins


def _value_operand(path: str, value: Any) -> Operand:
    if isinstance(value, Pairs):
        return _match_expression(path, value)
    if isinstance(value, str):
        address = parse_ip(value)
        return ExactAddress(value, address) if address else ExactString(value)
    if isinstance(value, Number):
        return ExactNumber(value)
    if value is None or isinstance(value, bool):
        return Literal(value)
    raise invalid(f"Match value must be String, number, true, false, or null{at(path)}")


def _operator_of(pairs: Pairs, path: str, what: str) -> tuple[str, Any]:
    """The (name, operand) of a one-key operator object such as {"prefix": "a"}."""
    if not pairs:
        raise invalid(f"{what} expression name not found{at(path)}")
    return pairs[0]


def _match_expression(path: str, pairs: Pairs) -> Operand:
    name, operand = _operator_of(pairs, path, "Match")
    compile_operator = _OPERATORS.get(name)
    if compile_operator is None:
        raise invalid(f"Unrecognized match type {name}{at(path)}")
    result = compile_operator(path, operand)
    if len(pairs) > 1:
        raise invalid(f'Only one key allowed in match expression "{name}"{at(path)}')
    return result


def _string_operand(name: str, path: str, operand: Any) -> str:
    if not isinstance(operand, str):
        raise invalid(f"{name} match pattern must be a string{at(path)}")
    return operand


def _exactly(path: str, operand: Any) -> Operand:
    # "exactly" is event-ruler's explicit exact-string operator.
    return ExactString(_string_operand("exact", path, operand))


def _equals_ignore_case(path: str, operand: Any) -> Operand:
    return IgnoreCaseText(IgnoreCase(_string_operand("equals-ignore-case", path, operand)), Anchor.WHOLE)


def _prefix(path: str, operand: Any) -> Operand:
    if isinstance(operand, Pairs):
        return IgnoreCaseText(IgnoreCase(_ignore_case_only("prefix", path, operand)), Anchor.START)
    return Prefix(_string_operand("prefix", path, operand))


def _suffix(path: str, operand: Any) -> Operand:
    if isinstance(operand, Pairs):
        return IgnoreCaseText(IgnoreCase(_ignore_case_only("suffix", path, operand)), Anchor.END)
    return Suffix(_string_operand("suffix", path, operand))


def _ignore_case_only(name: str, path: str, pairs: Pairs) -> str:
    """{"prefix": {"equals-ignore-case": "..."}} and its suffix twin."""
    inner, operand = _operator_of(pairs, path, name.capitalize())
    if inner != "equals-ignore-case":
        raise invalid(f"Unsupported {name} pattern: {inner}{at(path)}")
    text = _string_operand("equals-ignore-case", path, operand)
    if len(pairs) > 1:
        raise invalid(f"Only one key allowed in match expression{at(path)}")
    return text


def _wildcard(path: str, operand: Any) -> Operand:
    return WildcardText(Wildcard(_string_operand("wildcard", path, operand), path))


def _exists(path: str, operand: Any) -> Operand:
    if not isinstance(operand, bool):
        raise invalid(f"exists match pattern must be either true or false.{at(path)}")
    return Exists(operand)


def _cidr(path: str, operand: Any) -> Operand:
    return Cidr(compile_cidr(_string_operand("cidr", path, operand)))


def _comparable(path: str, number: Any, operator: str) -> float:
    """A numeric operand: must be a JSON number that a double can hold."""
    if not isinstance(number, Number):
        label = "equals" if operator == "=" else operator
        raise invalid(f"Value of {label} must be numeric{at(path)}")
    if number.value is None:
        raise invalid(f"Cannot compare number : {number.text}{at(path)}")
    return number.value


def _numeric(path: str, operand: Any) -> Operand:
    if not isinstance(operand, list):
        raise invalid(f"Value of numeric must be an array.{at(path)}")
    if not operand or not isinstance(operand[0], str):
        member = operand[0] if operand else "]"
        raise invalid(f"Invalid member in numeric match: {member}{at(path)}")
    operator, rest = operand[0], operand[1:]
    if operator == "=":
        return NumericEquals(_single_bound(path, operator, rest))
    if operator in ("<", "<="):
        top = _single_bound(path, operator, rest)
        return NumericRange(Range(None, False, top, operator == "<="))
    if operator in (">", ">="):
        return NumericRange(_lower_bounded_range(path, operator, rest))
    raise invalid(f"Unrecognized numeric range operator: {operator}{at(path)}")


def _single_bound(path: str, operator: str, rest: list[Any]) -> float:
    value = _comparable(path, rest[0] if rest else None, operator)
    if len(rest) > 1:
        raise invalid(f"Too many elements in numeric expression{at(path)}")
    return value


def _lower_bounded_range(path: str, operator: str, rest: list[Any]) -> Range:
    bottom = _comparable(path, rest[0] if rest else None, operator)
    if len(rest) == 1:
        return Range(bottom, operator == ">=", None, False)
    top_operator = rest[1]
    if not isinstance(top_operator, str):
        raise invalid(f"Bad value in numeric range: {top_operator}{at(path)}")
    if top_operator not in ("<", "<="):
        raise invalid(f"Bad numeric range operator: {top_operator}{at(path)}")
    top = _comparable(path, rest[2] if len(rest) > 2 else None, top_operator)
    if len(rest) > 3:
        raise invalid(f"Too many terms in numeric range expression{at(path)}")
    if not bottom < top:
        raise invalid(f"Bottom must be less than top{at(path)}")
    return Range(bottom, operator == ">=", top, top_operator == "<=")


def _anything_but(path: str, operand: Any) -> Operand:
    if isinstance(operand, Pairs):
        return _anything_but_of(path, operand)
    if isinstance(operand, list):
        return _anything_but_list(path, operand)
    if isinstance(operand, str):
        return NotStrings(frozenset([operand]))
    if isinstance(operand, Number):
        return NotNumbers(frozenset([_comparable(path, operand, "anything-but")]))
    raise invalid(f"Value of anything-but must be an array or single string/number value.{at(path)}")


def _anything_but_list(path: str, values: list[Any]) -> AnythingBut:
    strings = [value for value in values if isinstance(value, str)]
    numbers = [value for value in values if isinstance(value, Number)]
    if len(strings) + len(numbers) != len(values):
        raise invalid(f"Inside anything but list, start|null|boolean is not supported.{at(path)}")
    if bool(strings) == bool(numbers):
        raise invalid(
            "Inside anything but list, either all values are number or string, "
            f"mixed type is not supported{at(path)}"
        )
    if strings:
        return NotStrings(frozenset(strings))
    return NotNumbers(frozenset(_comparable(path, n, "anything-but") for n in numbers))


@dataclass(frozen=True)
class _NegatedOperator:
    """How anything-but takes one of the operators it may hold."""

    not_a_string: str  # the reason given for a value that is not a string
    refuses_empty: bool
    build: Callable[[str, list[str]], AnythingBut]  # (path, distinct texts in order) -> operand


_NEGATED_OPERATORS = {
    "prefix": _NegatedOperator(
        "prefix/suffix match pattern must be a string", True, lambda path, texts: NotPrefixes(tuple(texts))
    ),
    "suffix": _NegatedOperator(
        "prefix/suffix match pattern must be a string", True, lambda path, texts: NotSuffixes(tuple(texts))
    ),
    "equals-ignore-case": _NegatedOperator(
        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
        False,
        lambda path, texts: NotIgnoreCase(tuple(IgnoreCase(text) for text in texts)),
    ),
    "wildcard": _NegatedOperator(
        "wildcard match pattern must be a string",
        False,
        lambda path, texts: NotWildcards(tuple(Wildcard(text, path) for text in texts)),
    ),
}


def _anything_but_of(path: str, pairs: Pairs) -> AnythingBut:
    """anything-but with prefix / suffix / equals-ignore-case / wildcard, one value or a list."""
    name, operand = _operator_of(pairs, path, "Anything-But")
    negated = _NEGATED_OPERATORS.get(name)
    if negated is None:
        raise invalid(f"Unsupported anything-but pattern: {name}{at(path)}")
    texts = operand if isinstance(operand, list) else [operand]
    if not texts:
        raise invalid(f"Empty arrays are not allowed{at(path)}")
    for text in texts:
        if not isinstance(text, str):
            raise invalid(f"{negated.not_a_string}{at(path)}")
        if negated.refuses_empty and not text:
            raise invalid(f"Null prefix/suffix not allowed{at(path)}")
    if len(pairs) > 1:
        raise invalid(f"Too many elements in numeric expression{at(path)}")
    return negated.build(path, sorted(set(texts)))


_OPERATORS: dict[str, Callable[[str, Any], Operand]] = {
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
