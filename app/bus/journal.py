"""The bus's write-ahead journal: nothing accepted is lost across a crash.

PutEvents answers only after its accepted events are appended to the journal and fsynced.
Each completed delivery (to a target, or to its dead-letter queue) is marked in the journal
too. After a crash, :meth:`Journal.recover` returns every accepted event with the
deliveries it has already completed, so the bus delivers the rest — and only the rest.

File: JSON lines, one record per line::

    {"a": [<envelope>, ...], "i": <ingested epoch s>}     accepted events (one PutEvents call)
    {"d": [[<event id>, <rule>, <target id>], ...]}       completed deliveries
    {"s": [<event id>, ...]}                              events with every delivery made

A torn last line (the process died mid-write, before PutEvents answered) is skipped: those
events were never acknowledged. Done marks are flushed, not fsynced: losing one only
causes a redelivery, and the lake target is deduplicated by event id on recovery.

A full disk (any OSError) never leaves half a record: the file is cut back to where the
write began. :meth:`Journal.accept` then raises (PutEvents refuses those entries, nothing
is acknowledged); :meth:`Journal.done` does not — its marks wait in memory and are written
with the next record that fits.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pyarrow.parquet as pq

from app.lake.paths import LakePathError
from app.lake.tables import EVENTS
from app.lake.writer import partition_dir

COMPACT_AT_BYTES = 64 * 1024 * 1024

Delivery = tuple[str, str]  # (rule name, target id)


@dataclass
class JournaledEvent:
    event: dict
    ingested: float
    done: set[Delivery] = field(default_factory=set)
    expected: set[Delivery] | None = None  # None: not routed yet


class Journal:
    def __init__(self, path: Path, compact_at_bytes: int = COMPACT_AT_BYTES):
        self.path = Path(path)
        self.compact_at_bytes = compact_at_bytes
        self.open: dict[str, JournaledEvent] = {}  # accepted events with deliveries still to make
        self._file: TextIO | None = None
        self._lock = threading.RLock()  # PutEvents appends while the delivery thread marks
        self._settled: list[str] = []  # written with the next record
        self._unwritten: list[str] = []  # done marks a full disk refused: written with the next record

    # -- writing -----------------------------------------------------------------------
    def _handle(self) -> TextIO:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        return self._file

    def _append_locked(self, record: dict, sync: bool) -> None:
        lines = list(self._unwritten)
        if self._settled:
            lines.append(json.dumps({"s": self._settled}, separators=(",", ":")) + "\n")
        line = json.dumps(record, separators=(",", ":")) + "\n"
        handle = self._handle()
        start = handle.tell()
        try:
            handle.write("".join(lines) + line)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        except OSError:
            self._rollback(start)
            self._unwritten, self._settled = lines, []  # marks kept; the record is the caller's
            raise
        self._unwritten, self._settled = [], []

    def _rollback(self, size: int) -> None:
        """Drop a failed append: no torn line stays for the next record to run into."""
        handle, self._file = self._file, None
        if handle is not None:
            with contextlib.suppress(OSError):  # closing flushes what is buffered: may fail again
                handle.close()
        with contextlib.suppress(OSError):
            os.truncate(self.path, size)  # frees space, needs none

    def accept(self, events: Sequence[dict], ingested: float) -> None:
        """Durably record accepted events; returns once they are on disk."""
        with self._lock:
            self._append_locked({"a": list(events), "i": ingested}, sync=True)
            for event in events:
                self.open[event["id"]] = JournaledEvent(event, ingested)

    def expect(self, event_id: str, deliveries: Iterable[Delivery]) -> None:
        """The deliveries routing chose for an event; an event with none is settled."""
        with self._lock:
            entry = self.open.get(event_id)
            if entry is None:
                return
            entry.expected = set(deliveries)
            self._settle_if_done(event_id, entry)

    def done(self, event_ids: Iterable[str], rule: str, target: str) -> None:
        ids = list(event_ids)
        with self._lock:
            for event_id in ids:
                entry = self.open.get(event_id)
                if entry is not None:
                    entry.done.add((rule, target))
                    self._settle_if_done(event_id, entry)
            record = {"d": [[i, rule, target] for i in ids], "s": self._settled}
            self._settled = []
            try:
                self._append_locked(record, sync=False)
            except OSError:  # a full disk: the marks wait for the next append
                self._unwritten.append(json.dumps(record, separators=(",", ":")) + "\n")

    def _settle_if_done(self, event_id: str, entry: JournaledEvent) -> None:
        if entry.expected is not None and entry.expected <= entry.done:
            del self.open[event_id]
            self._settled.append(event_id)

    # -- recovery and compaction -------------------------------------------------------
    def recover(self) -> list[JournaledEvent]:
        """Read the journal: accepted events not known to be settled, oldest first."""
        with self._lock:
            return self._recover_locked()

    def _recover_locked(self) -> list[JournaledEvent]:
        entries: dict[str, JournaledEvent] = {}
        if self.path.exists():
            for record in _records(self.path):
                if "a" in record:
                    for event in record["a"]:
                        entries[event["id"]] = JournaledEvent(event, record["i"])
                for event_id, rule, target in record.get("d", ()):
                    if event_id in entries:
                        entries[event_id].done.add((rule, target))
                for event_id in record.get("s", ()):
                    entries.pop(event_id, None)
        self.open = entries
        self._compact_locked()
        return list(entries.values())

    def compact(self) -> None:
        """Rewrite the journal with only the open events (atomically)."""
        with self._lock:
            self._compact_locked()

    def _compact_locked(self) -> None:
        self.close()
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with tmp.open("w", encoding="utf-8") as out:
                for entry in self.open.values():
                    out.write(
                        json.dumps({"a": [entry.event], "i": entry.ingested}, separators=(",", ":")) + "\n"
                    )
                    if entry.done:
                        marks = [[entry.event["id"], r, t] for r, t in sorted(entry.done)]
                        out.write(json.dumps({"d": marks}, separators=(",", ":")) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)  # a full disk: the journal as it was stays
            raise
        self._unwritten = []  # the rewrite holds every open event's marks

    def compact_if_large(self) -> bool:
        if self.path.exists() and self.path.stat().st_size >= self.compact_at_bytes:
            self.compact()
            return True
        return False

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if (self._settled and self._file is not None) or self._unwritten:
            with contextlib.suppress(OSError):  # still full: a restart redelivers, deduplicated
                self._append_locked({"s": []}, sync=False)
        if self._file is not None:
            self._file.close()
            self._file = None


def _records(path: Path) -> Iterable[dict]:
    with path.open(encoding="utf-8") as journal:
        for line in journal:
            try:
                yield json.loads(line)
            except ValueError:
                continue  # a torn write: that PutEvents call was never answered


def ids_in_lake(lake: Path, events: Iterable[dict]) -> set[str]:
    """Event ids already in the lake's raw table, reading only the events' partitions."""
    wanted: dict[Path, set[str]] = {}
    for event in events:
        try:  # the writer's own folder for the event: the source encoded, inside the lake
            folder = partition_dir(Path(lake), EVENTS, dt=event["time"][:10], source=event["source"])
        except LakePathError:
            continue  # a folder the writer would refuse holds nothing
        wanted.setdefault(folder, set()).add(event["id"])
    found: set[str] = set()
    for folder, ids in wanted.items():
        for part in folder.glob("*.parquet"):
            found |= ids & set(pq.read_table(part, columns=["id"]).column("id").to_pylist())
    return found
