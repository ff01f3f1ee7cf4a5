"""IP addresses and CIDR blocks, as event-ruler reads them."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from app.bus.patterns.errors import invalid

# (version, integer value) of an address; (version, lowest, highest) of a CIDR block.
Address = tuple[int, int]
Block = tuple[int, int, int]

# IP literals as event-ruler recognises them before parsing them (Constants.IPv4_REGEX:
# four dot-separated runs of digits; IPv6_REGEX: hex digits and colons, at least one colon).
_IPV6_SHAPE = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*\Z")


def parse_ip(text: str) -> Address | None:
    """(version, integer) of an IP literal, or None.  IPv4-mapped IPv6 is IPv4, as in Java."""
    if "." in text:
        return _parse_ipv4(text)
    if ":" in text:
        return _parse_ipv6(text)
    return None


def _parse_ipv4(text: str) -> Address | None:
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
def _parse_ipv6(text: str) -> Address | None:
    if not _IPV6_SHAPE.match(text):
        return None
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    if address.ipv4_mapped is not None:
        return 4, int(address.ipv4_mapped)
    return 6, int(address)


def compile_cidr(text: str) -> Block:
    """(version, lowest, highest) of a CIDR block; host bits are ignored (the golden data's rule)."""
    parts = text.split("/")
    while parts and parts[-1] == "":  # Java's String.split drops trailing empty strings
        parts.pop()
    if len(parts) != 2:
        raise invalid(f"Malformed CIDR {text!r}, one '/' required")
    if not re.fullmatch(r"[+-]?[0-9]+", parts[1]):
        raise invalid(f"Malformed CIDR {text!r}, mask bits must be an integer")
    bits = int(parts[1])
    if bits < 0:
        raise invalid(f"Malformed CIDR {text!r}, mask bits must not be negative")
    address = parse_ip(parts[0])
    if address is None:
        raise invalid(f"Invalid IP address in CIDR {text!r}")
    version, value = address
    width = 32 if version == 4 else 128
    if bits > width:
        raise invalid(f"IPv{version} mask bits must be at most {width} in CIDR {text!r}")
    host_mask = (1 << (width - bits)) - 1
    lowest = value & ~host_mask
    return version, lowest, lowest | host_mask


class _LastAddress:
    """The last value parsed as an IP, and the result: every cidr pattern on a field reads
    the same value of an event, so one parse serves them all.  Replaced as one tuple
    (thread-safe)."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[str, Address | None] = ("", None)

    def parse(self, value: str) -> Address | None:
        last = self.last
        if last[0] == value:
            return last[1]
        address = parse_ip(value)
        self.last = (value, address)
        return address


_parse_ip_once = _LastAddress().parse


def ip_matches(value: str, ips: frozenset[Address], cidrs: tuple[Block, ...]) -> bool:
    """Whether ``value`` is one of the addresses ``ips`` or lies in one of the blocks ``cidrs``."""
    address = _parse_ip_once(value)
    if address is None:
        return False
    if address in ips:
        return True
    version, number = address
    return any(v == version and low <= number <= high for v, low, high in cidrs)
