"""Archives and replays of the local bus, as EventBridge keeps them.

An archive keeps every event its bus receives from the archive's creation on that matches
its optional pattern, for ``RetentionDays`` (0: for ever)
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-archive.html). Replayed
events are never archived again: EventBridge's managed archive rule adds
``"replay-name": [{"exists": false}]`` to the archive's pattern.

A replay sends the archived events whose ``time`` lies in ``[EventStartTime,
EventEndTime)`` back to the bus, to all its rules or to the rules ``FilterArns`` names,
minute of event time by minute; ``EventLastReplayedTime`` is the time of the last event
sent (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-replay-archived-event.html).
A replayed event is the archived one with ``replay-name`` added. It keeps its id, so the
lake target sees that it already holds the event and the lake counts it once.

The archive is its own store, not the lake: an archive holds what its pattern selects
whatever the rules are, and the lake holds only what the lake rule matched.

Files, under the bus's state folder::

    archives.json                       the archives' settings
    archives/<name>/<YYYY-MM-DD>.jsonl  one envelope per line, by the day of its time
    replays.json                        every replay and its state

Retention drops whole days: a day's file goes once its last second is older than the
retention period.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.bus.patterns import PatternIndex, compile_pattern
from app.lake.paths import name_folder

DAY_S = 86_400
REPLAY_BATCH = 500  # events per publish call: whole minutes, at least this many when there are
MAX_ACTIVE_REPLAYS = 10  # per account and region
ACTIVE_REPLAY_STATES = ("STARTING", "RUNNING", "CANCELLING")


@dataclass(frozen=True)
class Archive:
    name: str
    pattern: dict | None  # None: every event of the bus
    retention_days: int = 0  # 0: kept for ever
    description: str = ""
    created: float = 0.0  # epoch seconds
    state: str = "ENABLED"
    pattern_text: str | None = None  # the EventPattern as CreateArchive/UpdateArchive gave it


@dataclass
class Replay:
    name: str
    archive: str
    start: float  # the window of event time, epoch seconds: [start, end)
    end: float
    rules: tuple[str, ...] | None = None  # None: every rule of the bus
    description: str = ""
    state: str = "STARTING"
    reason: str = ""
    started: float = 0.0  # when the replay started (wall clock)
    ended: float | None = None
    last_replayed: float | None = None  # time of the last event sent
    replayed: int = 0  # events sent so far


def _write_json_atomic(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1))
    os.replace(tmp, path)


def event_epoch(text: str) -> float:
    """An envelope's ``time`` (``2026-11-20T10:00:00Z``) as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def day_of(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch_s))


class ArchiveStore:
    """The archives of one bus: their settings, their events, and which events they take."""

    def __init__(self, state_dir: Path):
        self.settings_path = Path(state_dir) / "archives.json"
        self.root = Path(state_dir) / "archives"
        self.archives: dict[str, Archive] = {}
        if self.settings_path.exists():
            for raw in json.loads(self.settings_path.read_text()):
                self.archives[raw["name"]] = Archive(**raw)
        self._stats: dict[str, list[int]] = {}  # name -> [events, bytes], counted on first ask
        self._reindex()

    def __bool__(self) -> bool:
        return bool(self.archives)

    def _reindex(self) -> None:
        # Replayed events are never archived: every archive's pattern excludes them.
        self._index = PatternIndex()
        for archive in self.archives.values():
            pattern = {**(archive.pattern or {}), "replay-name": [{"exists": False}]}
            self._index.add(archive.name, compile_pattern(pattern))

    def _save(self) -> None:
        _write_json_atomic(self.settings_path, [asdict(a) for a in self.archives.values()])
        self._reindex()

    def put(self, archive: Archive) -> None:
        """Create an archive, or change one's pattern, retention or description."""
        self.archives[archive.name] = archive
        self._save()

    def delete(self, name: str) -> None:
        self.archives.pop(name, None)
        self._stats.pop(name, None)
        self._save()
        shutil.rmtree(self._folder(name), ignore_errors=True)

    def _folder(self, name: str) -> Path:
        """The archive's folder (names of dots only spelled ``%2E``, kept inside the root)."""
        return name_folder(self.root, name, "archive name")

    def matching(self, event: dict) -> list[str]:
        return self._index.match(event)

    # -- events ------------------------------------------------------------------------
    def append(self, name: str, events: list[dict]) -> None:
        by_day: dict[str, list[str]] = {}
        for event in events:
            by_day.setdefault(event["time"][:10], []).append(json.dumps(event, separators=(",", ":")) + "\n")
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        written = 0
        sizes: dict[Path, int] = {}  # each file's size before this call
        try:
            for day, lines in by_day.items():
                path = folder / f"{day}.jsonl"
                sizes[path] = path.stat().st_size if path.exists() else 0
                with path.open("a", encoding="utf-8") as out:
                    out.writelines(lines)
                written += sum(len(line.encode()) for line in lines)
        except OSError:
            # All or nothing (a full disk): no torn line, no event archived twice on the retry.
            for path, size in sizes.items():
                with contextlib.suppress(OSError):
                    os.truncate(path, size)
            raise
        if name in self._stats:
            self._stats[name][0] += len(events)
            self._stats[name][1] += written

    def stats(self, name: str) -> tuple[int, int]:
        """(EventCount, SizeBytes) of an archive."""
        if name not in self._stats:
            files = list(self._folder(name).glob("*.jsonl"))
            count = 0
            for path in files:
                with path.open("rb") as lines:
                    count += sum(1 for line in lines if line.strip())
            self._stats[name] = [count, sum(p.stat().st_size for p in files)]
        count, size = self._stats[name]
        return count, size

    def events(self, name: str, start: float, end: float) -> Iterator[tuple[float, dict]]:
        """(time, event) of the archived events with time in [start, end), oldest first,
        each id once (a crash between archiving and its journal mark archives twice)."""
        seen: set[str] = set()
        for path in sorted(self._folder(name).glob("*.jsonl")):
            day = datetime.strptime(path.stem, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
            if day + DAY_S <= start or day >= end:
                continue
            found = []
            with path.open(encoding="utf-8") as lines:
                for line in lines:
                    if not line.endswith("\n"):
                        break  # being appended right now: it is newer than the replay anyway
                    event = json.loads(line)
                    at = event_epoch(event["time"])
                    if start <= at < end and event["id"] not in seen:
                        seen.add(event["id"])
                        found.append((at, event))
            found.sort(key=lambda pair: pair[0])
            yield from found

    def expire(self, now: float) -> int:
        """Drop the days older than each archive's retention; returns the files removed."""
        removed = 0
        for archive in self.archives.values():
            if archive.retention_days <= 0:
                continue
            oldest_kept = day_of(now - archive.retention_days * DAY_S)
            for path in self._folder(archive.name).glob("*.jsonl"):
                if path.stem < oldest_kept:
                    path.unlink(missing_ok=True)
                    removed += 1
            if removed:
                self._stats.pop(archive.name, None)
        return removed


class ReplayStore:
    """Every replay and its state, kept in ``replays.json``."""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / "replays.json"
        self.replays: dict[str, Replay] = {}
        self._lock = threading.Lock()
        if self.path.exists():
            for raw in json.loads(self.path.read_text()):
                rules = raw.get("rules")
                self.replays[raw["name"]] = Replay(
                    **{**raw, "rules": tuple(rules) if rules is not None else None}
                )

    def save(self) -> None:
        # A running replay saves its progress from its own thread.
        with self._lock:
            _write_json_atomic(self.path, [asdict(r) for r in list(self.replays.values())])

    def add(self, replay: Replay) -> None:
        self.replays[replay.name] = replay
        self.save()

    def active(self) -> list[Replay]:
        return [r for r in self.replays.values() if r.state in ACTIVE_REPLAY_STATES]

    def fail_interrupted(self, now: float) -> list[str]:
        """Replays a stop or crash cut short: FAILED, since their targets may have seen part."""
        names = []
        for replay in self.active():
            replay.state, replay.ended = "FAILED", now
            replay.reason = "The bus stopped while the replay was running."
            names.append(replay.name)
        if names:
            self.save()
        return names


def replay_batches(
    events: Iterator[tuple[float, dict]], name: str, size: int = REPLAY_BATCH
) -> Iterator[tuple[float, list[dict]]]:
    """Whole minutes of events, ``replay-name`` added, in batches of about ``size``:
    (time of the batch's last event, its events)."""
    batch: list[dict] = []
    minute, last = -1.0, 0.0
    for at, event in events:
        if batch and len(batch) >= size and at // 60 != minute:
            yield last, batch
            batch = []
        batch.append({**event, "replay-name": name})
        minute, last = at // 60, at
    if batch:
        yield last, batch
