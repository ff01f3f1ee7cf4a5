"""The aws backend's audit trail: the stack's CloudWatch Logs group (``AuditLogGroupName``).

Each entry is one log event whose message is the same JSON object the local file keeps
(:func:`app.audit.to_json`). Events go to **one log stream per UTC day** (``2026/03/04``):
the trail is a few entries a day, so a stream a day keeps the streams few (one per day of
retention) and lets the console browse the trail by date, where a stream per server process
would leave one behind for every restart. Several processes may write the same day's
stream at once: PutLogEvents no longer takes a sequence token.

The event's timestamp is the wall clock (CloudWatch takes no event older than 14 days),
while the entry's ``at`` is the app's clock, as locally; they differ only when
``VERTICALS_NOW`` is set. Reading asks FilterLogEvents for windows that widen backwards from
now (a day, a week, a month, …, the retention) until ``limit`` entries are found, so the
ops view reads the recent days, not the whole group.

The dashboard role may create streams and put events in this group and filter it
(``AuditWrite``, ``AuditRead`` in app/infra/roles.py), nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.audit import AuditError, Entry, from_json, to_json
from app.aws.errors import AwsError, aws_errors

DAY_MS = 86_400_000
FUTURE_MS = 2 * 3_600_000  # CloudWatch takes events up to 2 hours ahead
RETENTION_DAYS = 400  # the template's RetentionInDays (app/infra/render.py)
# Windows FilterLogEvents reads, newest first, each ending where the previous began (days).
WINDOW_STARTS_DAYS = (1, 7, 31, 92, RETENTION_DAYS + 1)


def stream_name(timestamp_ms: int) -> str:
    """The day's log stream: ``YYYY/MM/DD`` (UTC)."""
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y/%m/%d")


@dataclass
class CloudWatchLogsSink:
    """Appends entries to ``group`` and reads them back newest first."""

    logs: Any  # a boto3 CloudWatch Logs client
    group: str
    wall_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    _streams: set[str] = field(default_factory=set, repr=False)  # created by this process

    @property
    def where(self) -> str:
        return f"CloudWatch Logs {self.group}"

    def _ensure_stream(self, stream: str) -> None:
        if stream in self._streams:
            return
        # Another process (or an earlier run) may have created today's stream.
        with suppress(self.logs.exceptions.ResourceAlreadyExistsException):
            self.logs.create_log_stream(logGroupName=self.group, logStreamName=stream)
        self._streams.add(stream)

    def write(self, entry: Entry) -> None:
        timestamp = self.wall_ms()
        stream = stream_name(timestamp)
        try:
            with aws_errors():
                self._ensure_stream(stream)
                answer = self.logs.put_log_events(
                    logGroupName=self.group,
                    logStreamName=stream,
                    logEvents=[{"timestamp": timestamp, "message": to_json(entry)}],
                )
        except AwsError as exc:
            raise AuditError(str(exc)) from exc
        if answer.get("rejectedLogEventsInfo"):
            raise AuditError(
                f"CloudWatch Logs rejected the entry for {self.group} "
                f"({', '.join(sorted(answer['rejectedLogEventsInfo']))})."
            )

    def _window(self, start: int, end: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"logGroupName": self.group, "startTime": start, "endTime": end}
        while True:
            page = self.logs.filter_log_events(**kwargs)
            events += page.get("events", [])
            if not page.get("nextToken") or page["nextToken"] == kwargs.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def read(self, limit: int = 500) -> list[Entry]:
        """The newest ``limit`` entries, newest first; a message that does not parse is skipped."""
        now = self.wall_ms()
        entries: list[Entry] = []
        end = now + FUTURE_MS  # another server's clock may run a little ahead
        try:
            with aws_errors():
                for days in WINDOW_STARTS_DAYS:
                    start = now - days * DAY_MS
                    events = self._window(start, end)
                    # Oldest first (stable for equal timestamps), so reversed is newest first.
                    events.sort(key=lambda e: e.get("timestamp", 0))
                    parsed = (from_json(e.get("message", "")) for e in reversed(events))
                    entries += [e for e in parsed if e is not None]
                    if len(entries) >= limit:
                        break
                    end = start - 1  # FilterLogEvents' times are inclusive
        except AwsError as exc:
            raise AuditError(str(exc)) from exc
        return entries[:limit]
