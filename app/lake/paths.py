"""Where a lake file may go: partition folder names from event values, and the one check
that a path stays inside the lake.

Partition values come from events (``source`` is whatever a publisher sent: partner sources
hold ``/``, anything may hold ``..``, ``%`` or any Unicode), so a folder name is never the
value itself but its *encoding*: every byte of the value's UTF-8 other than ``a-z 0-9 . _ -``
is written ``%XX`` (upper-case letters too, so that two sources differing in case never
share a folder on a case-insensitive file system, and non-ASCII too, so that no file system
normalises the name). DuckDB's Hive partitioning decodes ``%XX`` when it reads the path,
so ``source`` queries back exactly as sent. A ``/`` is always encoded: a value cannot add
a folder level, and ``source=..`` is a plain folder name.

A value whose encoding would make a folder name longer than :data:`MAX_FOLDER_BYTES`
(EventBridge allows 256 characters; encoded, up to 3 kB) goes to a folder named
``source=~<encoded prefix>~<hash>`` and its files carry the exact value in a column
:func:`exact_column` (``source_value``); the DuckDB view reads the value from there. A
``~`` never starts an encoded value (``~`` is encoded), so the two kinds of folder can't
be confused.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from datetime import date, timedelta
from pathlib import Path

QUARANTINE = "_quarantine"  # <lake>/_quarantine/<original relative path>: no table glob reaches it
MAX_FOLDER_BYTES = 200  # well under NAME_MAX (255 on ext4, APFS, NTFS; 143 under eCryptfs)
LONG_MARKER = "~"
_KEPT = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789._-")
_DT = re.compile(r"\d{4}-\d{2}-\d{2}")


class LakePathError(ValueError):
    """A lake path would leave the lake or is not a valid partition; the message says which."""


def encode_value(value: str) -> str:
    """The partition value as it appears in a folder name (see the module doc)."""
    return "".join(chr(b) if b in _KEPT else f"%{b:02X}" for b in value.encode("utf-8"))


def exact_column(key: str) -> str:
    """The column that holds a partition value too long for its folder name."""
    return f"{key}_value"


def is_long(value: str, key: str = "source") -> bool:
    """Whether ``value`` needs a hashed folder (and its exact value in a column)."""
    return len(key) + 1 + len(encode_value(value)) > MAX_FOLDER_BYTES


def folder_name(key: str, value: str) -> str:
    """``key=<encoded value>``, or for a value too long ``key=~<prefix>~<hash>``."""
    if not isinstance(value, str) or value == "":
        raise LakePathError(f"The partition value for {key} must be a non-empty string, not {value!r}.")
    if key == "dt":
        check_dt(value)
    try:
        encoded = encode_value(value)
    except UnicodeEncodeError:
        raise LakePathError(f"The partition value for {key} is not valid Unicode: {value!r}.") from None
    if len(key) + 1 + len(encoded) <= MAX_FOLDER_BYTES:
        return f"{key}={encoded}"
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:24]
    prefix = encoded[:80]
    if "%" in prefix[-2:]:  # don't cut an escape in half
        prefix = prefix[: prefix.rindex("%")]
    return f"{key}={LONG_MARKER}{prefix}{LONG_MARKER}{digest}"


def is_dt(text: str) -> bool:
    """Whether ``text`` is a ``dt`` value :func:`check_dt` accepts (a folder name to skip if not)."""
    try:
        check_dt(text)
    except LakePathError:
        return False
    return True


def check_dt(dt: str) -> str:
    """``dt`` must be a real ``YYYY-MM-DD`` date (years 0001-9999)."""
    if not isinstance(dt, str) or not _DT.fullmatch(dt):
        raise LakePathError(f"The event date {dt!r} is not a YYYY-MM-DD date.")
    try:
        date.fromisoformat(dt)
    except ValueError:
        raise LakePathError(f"The event date {dt!r} is not a valid date.") from None
    return dt


def day_names(first: date, last: date) -> tuple[str, ...]:
    """The ``dt`` values of days ``first``..``last``; a span of up to CACHED_SPAN_DAYS named
    once (a page's spans are the same at every view of a range: a year's two periods and
    their lookback named 1,500 days a view, 1.5 ms of the Overview's)."""
    if (last - first).days < CACHED_SPAN_DAYS:
        return _cached_day_names(first, last)
    return _day_names(first, last)


# A year's two periods and their lookback (752 days) fit; 32 spans hold at most ~1.5 MB.
CACHED_SPAN_DAYS = 800


@functools.lru_cache(maxsize=32)
def _cached_day_names(first: date, last: date) -> tuple[str, ...]:
    return _day_names(first, last)


def _day_names(first: date, last: date) -> tuple[str, ...]:
    return tuple((first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1))


def inside(root: Path, path: Path) -> Path:
    """``path`` resolved, provided it is inside ``root`` (resolved, symlinks followed);
    otherwise :class:`LakePathError`. The one containment check every lake writer uses."""
    base = Path(os.path.realpath(root))
    target = Path(os.path.realpath(path))
    if target == base or base not in target.parents:
        raise LakePathError(f"Refusing to write {path}: it is not inside the lake {base}.")
    return target


def name_folder(root: Path, name: str, what: str) -> Path:
    """The folder under ``root`` for a resource an EventBridge name names (an archive, a bus):
    a name of dots only (``.``, ``..``, which EventBridge's name patterns allow) has its dots
    spelled ``%2E`` (``%`` is in no such name, so no two collide), a name too long for a
    folder (buses take 256 characters) is cut and given its hash, and the folder must lie
    inside ``root`` whatever the name (ValueError: ``what`` names the resource)."""
    if set(name) <= {"."}:
        part = name.replace(".", "%2E")
    elif len(name.encode()) > 200:
        part = f"{name[:80]}~{hashlib.sha256(name.encode()).hexdigest()[:24]}"
    else:
        part = name
    folder = root / part
    if root.resolve() not in folder.resolve().parents:
        raise ValueError(f"Refusing the {what} {name!r}: its folder would leave {root}.")
    return folder
