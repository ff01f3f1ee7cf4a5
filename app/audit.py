"""The audit trail: who signed in, and who redrove or replayed what, when and how many.

An :class:`AuditSink` keeps the entries, append-only, and reads the newest back. The
context picks one by backend (:mod:`app.services.context`): the local backend's
:class:`FileSink`, and on the aws backend the stack's CloudWatch Logs group
(:mod:`app.aws.audit_logs`). Both keep the same JSON object per entry.

The file: one JSON object per line, appended (never rewritten) to ``audit.jsonl`` in the
bus state folder (``<lake>/../bus``, where the dead-letter queues live) or to the
``audit_log`` setting's file. Each write is one ``write`` on a file opened for appending,
so lines from several server threads do not interleave.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from app import clock

FILE_NAME = "audit.jsonl"
ACTIONS = ("sign-in", "redrive", "replay")


def now() -> datetime:
    """The audit trail's clock: the app's (``VERTICALS_NOW`` when set)."""
    return clock.now()


def audit_path(settings: Any) -> Path:
    """The trail's file: the ``audit_log`` setting, else ``<lake>/../bus/audit.jsonl``."""
    configured = str(getattr(settings, "audit_log", "") or "").strip()
    if configured:
        return Path(configured)
    return Path(settings.lake).parent / "bus" / FILE_NAME


@dataclass(frozen=True)
class Entry:
    at: str  # ISO 8601, UTC
    user: str
    roles: str
    via: str  # how the user signed in: local, oidc, alb
    action: str  # sign-in, redrive, replay
    what: str  # the queue, the archive, the provider
    count: int | None  # how many messages or events
    outcome: str  # done, refused, failed
    detail: str = ""


class AuditError(Exception):
    """An entry could not be written or the trail read; the message is one sentence."""


class AuditSink(Protocol):
    """Where the trail is kept: appends entries, reads the newest back."""

    @property
    def where(self) -> str:
        """The file or the log group, for the ops view."""
        ...

    def write(self, entry: Entry) -> None:
        """Append ``entry``; raises :class:`AuditError` when it could not be kept."""
        ...

    def read(self, limit: int = 500) -> list[Entry]:
        """The newest ``limit`` entries, newest first."""
        ...


def to_json(entry: Entry) -> str:
    """One entry as the compact JSON object both sinks keep."""
    return json.dumps(asdict(entry), ensure_ascii=False, separators=(",", ":"))


def from_json(text: str) -> Entry | None:
    """An entry from its JSON object; None for one that does not parse."""
    try:
        return Entry(**json.loads(text))
    except (ValueError, TypeError):
        return None


def make_entry(
    *,
    user: str,
    roles: str,
    via: str,
    action: str,
    what: str,
    count: int | None = None,
    outcome: str = "done",
    detail: str = "",
    at: datetime | None = None,
) -> Entry:
    """An entry stamped now (or ``at``); raises ValueError for an unknown action."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry = Entry(
        (at or now()).astimezone(UTC).isoformat(timespec="seconds"),
        user,
        roles,
        via,
        action,
        what,
        count,
        outcome,
        detail,
    )
    return entry


@dataclass(frozen=True)
class FileSink:
    """The JSON-lines file (the local backend's trail)."""

    path: Path

    @property
    def where(self) -> str:
        return str(self.path)

    def write(self, entry: Entry) -> None:
        line = to_json(entry) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as exc:
            raise AuditError(str(exc)) from exc

    def read(self, limit: int = 500) -> list[Entry]:
        """A line that does not parse is skipped."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()[-limit:]
        return [e for e in map(from_json, lines) if e is not None][::-1]


@dataclass(frozen=True)
class NoSink:
    """A context built without a trail (tests): every write fails loudly, reads are empty."""

    where: str = "nowhere"

    def write(self, entry: Entry) -> None:
        raise AuditError("this context keeps no audit trail")

    def read(self, limit: int = 500) -> list[Entry]:
        return []


def record(path: Path, **fields: Any) -> Entry:
    """Append one entry to the file at ``path`` and return it (see :func:`make_entry`)."""
    entry = make_entry(**fields)
    FileSink(path).write(entry)
    return entry


def read(path: Path, limit: int = 500) -> list[Entry]:
    """The file's newest ``limit`` entries, newest first."""
    return FileSink(path).read(limit)
