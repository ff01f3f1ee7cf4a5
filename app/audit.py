"""The audit trail: who signed in, and who redrove or replayed what, when and how many.

One JSON object per line, appended (never rewritten) to ``audit.jsonl`` in the bus state
folder (``<lake>/../bus``, where the dead-letter queues live) or to the ``audit_log``
setting's file. Each write is one ``write`` on a file opened for appending, so lines from
several server threads do not interleave.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def record(
    path: Path,
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
    """Append one entry and return it."""
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
    line = json.dumps(asdict(entry), ensure_ascii=False, separators=(",", ":")) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    return entry


def read(path: Path, limit: int = 500) -> list[Entry]:
    """The newest ``limit`` entries, newest first; a line that does not parse is skipped."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines()[-limit:]:
        try:
            entries.append(Entry(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return entries[::-1]
