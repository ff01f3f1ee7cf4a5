"""Events of one detail type held as columns, and their conversion to EventBridge envelopes.

The simulation draws whole days with numpy and keeps them as columns (:class:`Rows`) until
someone asks for events: only then are the dicts built, in tight loops, with ids and
times formatted for the whole array at once. Building a dict is the costly part, so the
columns are cut to the asked-for window first.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from app.departments import SOURCE_OF_DETAIL_TYPE

DAY = 86_400
HOUR = 3_600
MINUTE = 60

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Where the 32 hex digits go in the 36 characters of 8-4-4-4-12.
_UUID_DIGIT_POSITIONS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


@dataclass(frozen=True)
class Rows:
    """One detail type's events: times (epoch seconds, ascending), ids and detail columns."""

    detail_type: str
    times: np.ndarray  # int64 epoch seconds, ascending
    uuids: np.ndarray  # (n, 16) uint8: version-4 UUID bytes
    columns: dict[str, np.ndarray]  # detail key -> one value per event
    resources: np.ndarray | None = field(default=None)  # object array of one ARN per event

    def __len__(self) -> int:
        return len(self.times)

    def take(self, index: slice | np.ndarray, copy: bool = False) -> Rows:
        pick = (lambda a: a[index].copy()) if copy else (lambda a: a[index])
        return Rows(
            self.detail_type,
            pick(self.times),
            pick(self.uuids),
            {key: pick(values) for key, values in self.columns.items()},
            None if self.resources is None else pick(self.resources),
        )

    def between(self, start: int, end: int) -> Rows:
        """The events with ``start <= time < end``."""
        first, last = np.searchsorted(self.times, [start, end], side="left")
        return self.take(slice(first, last))

    def split_by_day(self) -> dict[int, Rows]:
        """Epoch day -> that day's events, each part copied so that the whole can be freed."""
        days = self.times // DAY
        cuts = np.flatnonzero(np.diff(days)) + 1
        bounds = zip(np.r_[0, cuts], np.r_[cuts, len(days)], strict=True)
        return {int(days[a]): self.take(slice(a, b), copy=True) for a, b in bounds if b > a}


def new_uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random version-4 UUIDs as bytes (RFC 9562 §5.4: version and variant bits set)."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return raw


def make_rows(
    rng: np.random.Generator,
    detail_type: str,
    times: np.ndarray,
    columns: dict[str, np.ndarray],
    resources: np.ndarray | None = None,
) -> Rows:
    """Rows sorted by time (stable: equal times keep the order they were drawn in)."""
    times = np.asarray(times, dtype=np.int64)
    order = np.argsort(times, kind="stable")
    rows = Rows(detail_type, times, new_uuids(rng, len(times)), columns, resources)
    return rows.take(order)


def format_uuids(raw: np.ndarray) -> list[str]:
    n = len(raw)
    digits = np.empty((n, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX_DIGITS[raw >> 4]
    digits[:, 1::2] = _HEX_DIGITS[raw & 0x0F]
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    text[:, _UUID_DIGIT_POSITIONS] = digits
    return text.view("S36").ravel().astype("U36").tolist()


def format_times(seconds: np.ndarray) -> list[str]:
    """EventBridge's envelope time, ``YYYY-MM-DDTHH:MM:SSZ``, for a whole array at once."""
    return np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s", timezone="UTC").tolist()


def format_dates(epoch_days: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` strings (as an object array, so that ``tolist`` is cheap)."""
    return np.datetime_as_string(np.asarray(epoch_days).astype("datetime64[D]")).astype(object)


def to_events(rows: Rows, account: str, region: str) -> list[dict]:
    """The envelopes EventBridge would deliver for these rows."""
    detail_type = rows.detail_type
    source = SOURCE_OF_DETAIL_TYPE[detail_type]
    keys = tuple(rows.columns)
    details = [
        dict(zip(keys, values, strict=True))
        for values in zip(*(c.tolist() for c in rows.columns.values()), strict=True)
    ]
    resources = [[] for _ in details] if rows.resources is None else [[r] for r in rows.resources.tolist()]
    return [
        {
            "version": "0",
            "id": event_id,
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": time,
            "region": region,
            "resources": res,
            "detail": detail,
        }
        for event_id, time, res, detail in zip(
            format_uuids(rows.uuids), format_times(rows.times), resources, details, strict=True
        )
    ]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Building many dicts makes CPython's cyclic collector scan them again and again (a
    quarter of the time here); none of them can form a cycle, so pause it meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def merge_events(chunks: Sequence[Rows], account: str, region: str) -> list[dict]:
    """Envelopes of all chunks in time order; equal times keep the chunks' order."""
    events: list[dict] = []
    with _collector_paused():
        for rows in chunks:
            if len(rows):
                events.extend(to_events(rows, account, region))
    if not events:
        return events
    times = np.concatenate([rows.times for rows in chunks])
    return [events[i] for i in np.argsort(times, kind="stable").tolist()]
