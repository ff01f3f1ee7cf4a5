"""Field tests: all the alternatives of one path as a single predicate on a leaf value,
dispatched on the value's JSON type and precomputed at compile time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from app.bus.patterns.addresses import Address, Block, ip_matches
from app.bus.patterns.keys import Keys
from app.bus.patterns.matchers import Range, Wildcard
from app.bus.patterns.operands import AnythingBut, IgnoreCaseText, NotNumbers, Operand, always, never
from app.bus.patterns.reading import BigNumber

Test = Callable[[Any], bool]


class FieldSpec:
    """The alternatives of one path, sorted by what they can match."""

    def __init__(self, operands: Sequence[Operand]):
        self.exists = self.absent = False
        self.strings: set[str] = set()
        self.ips: set[Address] = set()
        self.numbers: set[float] = set()
        self.number_texts: set[str] = set()  # numbers a double cannot hold: matched by text
        self.literals: set[bool | None] = set()
        self.prefixes: list[str] = []
        self.suffixes: list[str] = []
        self.ignore_cases: list[IgnoreCaseText] = []
        self.wildcards: list[Wildcard] = []
        self.cidrs: list[Block] = []
        self.ranges: list[Range] = []
        self.negations: list[AnythingBut] = []
        for operand in operands:
            operand.file_into(self)

    @property
    def string_tests(self) -> list[Callable[[str], bool]]:
        tests = [operand.case.test(operand.anchor) for operand in self.ignore_cases]
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

    def exact_strings(self) -> frozenset[str] | None:
        """The strings, when exact strings are all a value can match: the commonest shape,
        which one set look-up tests, and which an index look-up by the value proves."""
        if self.numbers or self.literals or not self.strings or not self.is_exact_only():
            return None
        return frozenset(self.strings)

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

    def index_keys(self) -> Keys | None:
        """What any value matching this field must look like, or None if that cannot be
        said cheaply (anything-but, IP addresses, absence, non-ASCII ignore-case...)."""
        if self.absent or self.negations or self.ips or self.cidrs or self.number_texts:
            return None
        keys = Keys()
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


def field_test(spec: FieldSpec) -> Test | None:
    """The spec as one predicate on a leaf value, or None when no present value can match."""
    if not spec.has_values():
        return None
    if spec.exists:  # exists: true matches any leaf, null included
        return always
    fast = _fast_field_test(spec)
    if fast is not None:
        return fast
    string_test, number_test = _string_test(spec), _number_test(spec)
    if not (spec.literals or spec.number_texts or spec.negations):
        # Only strings, or only numbers, can match: skip the dispatch on the value's type.
        if number_test is never:
            return lambda value: type(value) is str and string_test(value)
        if not _can_match_strings(spec):
            return lambda value: (type(value) is float or type(value) is int) and number_test(value)
    by_type: dict[type, Test] = {
        str: string_test,
        int: number_test,
        float: number_test,
        bool: _literal_test(spec),
        type(None): _literal_test(spec),
        BigNumber: _big_number_test(spec),
    }
    other = always if spec.negations else never
    get = by_type.get

    def test(value: Any) -> bool:
        return get(type(value), other)(value)

    return test


def _can_match_strings(spec: FieldSpec) -> bool:
    return bool(
        spec.strings
        or spec.prefixes
        or spec.suffixes
        or spec.ignore_cases
        or spec.wildcards
        or spec.cidrs
        or spec.negations
    )


def _fast_field_test(spec: FieldSpec) -> Test | None:
    """The two commonest shapes: only exact strings, or only prefixes."""
    strings = spec.exact_strings()
    if strings is not None:
        # Strings never equal values of other JSON types, so a set lookup is the whole test.
        return strings.__contains__
    if spec.ips or spec.numbers or spec.number_texts or spec.literals:
        return None
    if spec.prefixes and not spec.strings and _only_prefixes(spec):
        prefixes = tuple(spec.prefixes)
        return lambda value: type(value) is str and value.startswith(prefixes)
    return None


def _only_prefixes(spec: FieldSpec) -> bool:
    return not (
        spec.exists
        or spec.suffixes
        or spec.ignore_cases
        or spec.wildcards
        or spec.cidrs
        or spec.ranges
        or spec.negations
    )


def _string_test(spec: FieldSpec) -> Callable[[str], bool]:
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
        checks.append(lambda value: ip_matches(value, ips, cidrs))
    checks.extend(negation.string_test() for negation in spec.negations)
    return _any_of(checks)


def _any_of(checks: list[Callable[[str], bool]]) -> Callable[[str], bool]:
    if not checks:
        return never
    if len(checks) == 1:
        return checks[0]
    all_checks = tuple(checks)

    def test(value: str) -> bool:
        for check in all_checks:  # noqa: SIM110 - the hot path: a loop beats any() over a generator
            if check(value):
                return True
        return False

    return test


def _number_test(spec: FieldSpec) -> Test:
    numbers, texts, ranges = frozenset(spec.numbers), frozenset(spec.number_texts), tuple(spec.ranges)
    excluding = tuple(negation for negation in spec.negations if isinstance(negation, NotNumbers))
    if len(excluding) != len(spec.negations):
        return always  # a string anything-but lets every number through
    if not (numbers or texts or ranges or excluding):
        return never

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
        for negation in excluding:  # noqa: SIM110 - the hot path: a loop beats any() over a generator
            if number not in negation.values:
                return True
        return False

    return test


def _big_number_test(spec: FieldSpec) -> Callable[[BigNumber], bool]:
    texts, passes = frozenset(spec.number_texts), bool(spec.negations)
    return lambda value: value.text in texts or passes


def _literal_test(spec: FieldSpec) -> Test:
    literals, passes = tuple(spec.literals), bool(spec.negations)
    return lambda value: any(value is literal for literal in literals) or passes
