"""Operands: what one element of a value list compiles to, one class per kind of match
(as event-ruler's MatchType).  Each files itself into the FieldSpec of its path, which
sorts a path's alternatives by what they can match."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.bus.patterns.addresses import Address, Block
from app.bus.patterns.matchers import Anchor, IgnoreCase, Range, Wildcard
from app.bus.patterns.reading import Number

if TYPE_CHECKING:
    from app.bus.patterns.fields import FieldSpec


def always(value: Any) -> bool:
    """The test of a field any leaf value satisfies."""
    return True


def never(value: Any) -> bool:
    """The test of a field no leaf value satisfies."""
    return False


class Operand(ABC):
    """One alternative of a value list."""

    __slots__ = ()

    @abstractmethod
    def file_into(self, spec: FieldSpec) -> None:
        """Add this alternative to the alternatives of its path."""


@dataclass(frozen=True, slots=True)
class ExactString(Operand):
    text: str

    def file_into(self, spec: FieldSpec) -> None:
        spec.strings.add(self.text)


@dataclass(frozen=True, slots=True)
class ExactAddress(Operand):
    """A plain string that is an IP literal: event-ruler turns it into an IP range, so
    "10.0.0.1" and other spellings of the same address match each other."""

    text: str
    address: Address

    def file_into(self, spec: FieldSpec) -> None:
        spec.strings.add(self.text)
        spec.ips.add(self.address)


@dataclass(frozen=True, slots=True)
class ExactNumber(Operand):
    number: Number

    def file_into(self, spec: FieldSpec) -> None:
        # event-ruler adds both a numeric-equality and an exact-text matcher.
        if self.number.value is None:
            spec.number_texts.add(self.number.text)
        else:
            spec.numbers.add(self.number.value)


@dataclass(frozen=True, slots=True)
class NumericEquals(Operand):
    value: float

    def file_into(self, spec: FieldSpec) -> None:
        spec.numbers.add(self.value)


@dataclass(frozen=True, slots=True)
class Literal(Operand):
    """true, false or null."""

    value: bool | None

    def file_into(self, spec: FieldSpec) -> None:
        spec.literals.add(self.value)


@dataclass(frozen=True, slots=True)
class Exists(Operand):
    present: bool

    def file_into(self, spec: FieldSpec) -> None:
        if self.present:
            spec.exists = True
        else:
            spec.absent = True


@dataclass(frozen=True, slots=True)
class Prefix(Operand):
    text: str

    def file_into(self, spec: FieldSpec) -> None:
        spec.prefixes.append(self.text)


@dataclass(frozen=True, slots=True)
class Suffix(Operand):
    text: str

    def file_into(self, spec: FieldSpec) -> None:
        spec.suffixes.append(self.text)


@dataclass(frozen=True, slots=True)
class IgnoreCaseText(Operand):
    """equals-ignore-case, and prefix or suffix with equals-ignore-case inside."""

    case: IgnoreCase
    anchor: Anchor

    def file_into(self, spec: FieldSpec) -> None:
        spec.ignore_cases.append(self)


@dataclass(frozen=True, slots=True)
class WildcardText(Operand):
    wildcard: Wildcard

    def file_into(self, spec: FieldSpec) -> None:
        spec.wildcards.append(self.wildcard)


@dataclass(frozen=True, slots=True)
class Cidr(Operand):
    block: Block

    def file_into(self, spec: FieldSpec) -> None:
        spec.cidrs.append(self.block)


@dataclass(frozen=True, slots=True)
class NumericRange(Operand):
    range: Range

    def file_into(self, spec: FieldSpec) -> None:
        spec.ranges.append(self.range)


class AnythingBut(Operand):
    """anything-but: any leaf value except those excluded.  Values of other types pass.

    A missing field never passes; that is the sub-rule's business, not this operand's.
    """

    __slots__ = ()

    def file_into(self, spec: FieldSpec) -> None:
        spec.negations.append(self)

    @abstractmethod
    def string_test(self) -> Callable[[str], bool]:
        """Whether a string value gets past this anything-but."""


@dataclass(frozen=True, slots=True)
class NotStrings(AnythingBut):
    values: frozenset[str]

    def string_test(self) -> Callable[[str], bool]:
        values = self.values
        return lambda value: value not in values


@dataclass(frozen=True, slots=True)
class NotNumbers(AnythingBut):
    values: frozenset[float]

    def string_test(self) -> Callable[[str], bool]:
        return always  # a number anything-but lets every string through


@dataclass(frozen=True, slots=True)
class NotPrefixes(AnythingBut):
    values: tuple[str, ...]

    def string_test(self) -> Callable[[str], bool]:
        values = self.values
        return lambda value: not value.startswith(values)


@dataclass(frozen=True, slots=True)
class NotSuffixes(AnythingBut):
    values: tuple[str, ...]

    def string_test(self) -> Callable[[str], bool]:
        values = self.values
        return lambda value: not value.endswith(values)


@dataclass(frozen=True, slots=True)
class NotIgnoreCase(AnythingBut):
    values: tuple[IgnoreCase, ...]

    def string_test(self) -> Callable[[str], bool]:
        values = self.values
        return lambda value: not any(case.equals(value) for case in values)


@dataclass(frozen=True, slots=True)
class NotWildcards(AnythingBut):
    values: tuple[Wildcard, ...]

    def string_test(self) -> Callable[[str], bool]:
        values = self.values
        return lambda value: not any(wildcard.matches(value) for wildcard in values)
