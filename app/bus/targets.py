"""Where a rule sends matched events: the lake, an HTTP consumer, a queue, a log.

Batch targets (lake, queue, log) take many events per call; an HTTP target is invoked once
per event, as an EventBridge API destination is. An HTTP answer is classified the way
EventBridge classifies API destination responses
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html):
2xx delivered; 429 and 5xx retryable; any other 4xx is final.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests

from app.bus.journal import ids_in_lake
from app.lake.writer import LakeWriter


@dataclass(frozen=True)
class Outcome:
    ok: bool
    retryable: bool = False
    error_code: str = ""
    error_message: str = ""


DELIVERED = Outcome(ok=True)


def classify_http_status(status: int) -> Outcome:
    if 200 <= status < 300:
        return DELIVERED
    if status == 429 or status >= 500:
        return Outcome(
            False,
            True,
            "SDK_CLIENT_ERROR" if status >= 500 else "THROTTLING",
            f"Target answered HTTP {status}",
        )
    return Outcome(False, False, "CLIENT_ERROR", f"Target answered HTTP {status}, which is not retried")


# A transport sends one event to a URL at a moment and returns the HTTP status. The live
# bus uses real HTTP; seeding history uses the simulated consumer in-process, at the
# event's simulated time, so that its outages land in the past where they belong. The
# transport serializes the event itself: the in-process one never needs the bytes. A
# target with an input transformer sends text instead of the event (``Payload``).
Payload = dict | str
Transport = Callable[[str, Payload, datetime], int]


def payload_bytes(payload: Payload) -> bytes:
    return (payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))).encode()


def http_transport(timeout_s: float = 5.0) -> Transport:
    session = requests.Session()

    def send(url: str, event: Payload, at: datetime) -> int:
        try:
            return session.post(
                url,
                data=payload_bytes(event),
                timeout=timeout_s,
                headers={"Content-Type": "application/json"},
            ).status_code
        except requests.RequestException:
            return 503  # unreachable: EventBridge retries connection failures

    return send


class HttpTarget:
    batch = False

    def __init__(self, url: str, transport: Transport):
        self.url = url
        self.transport = transport

    def invoke(self, event: Payload, at: datetime) -> Outcome:
        return classify_http_status(self.transport(self.url, event, at))


class LakeTarget:
    batch = True

    def __init__(self, writer: LakeWriter):
        self.writer = writer

    def deliver(self, events: Sequence[dict], replay_name: str | None = None) -> Outcome:
        try:
            if replay_name is not None:
                events = self._not_in_lake(events)
            if events:
                self.writer.write(events, replay_name=replay_name)
        except OSError as exc:
            return Outcome(False, True, "SDK_CLIENT_ERROR", f"lake write failed: {exc}")
        return DELIVERED

    def _not_in_lake(self, events: Sequence[dict]) -> list[dict]:
        """A replay brings back events the lake usually holds already (same ids): the lake
        keeps each event once, so only the ones it lacks are written — typed rows too."""
        present = ids_in_lake(self.writer.root, events)
        return [e for e in events if e["id"] not in present]


class QueueTarget:
    """A department's queue. Locally it keeps the most recent messages for inspection."""

    batch = True

    def __init__(self, name: str, keep: int = 1000):
        self.name = name
        self.messages: deque[dict] = deque(maxlen=keep)
        self.received = 0

    def deliver(self, events: Sequence[dict], replay_name: str | None = None) -> Outcome:
        self.messages.extend(events)
        self.received += len(events)
        return DELIVERED


class LogTarget:
    """A log group: one JSON line per event."""

    batch = True

    def __init__(self, path: Path):
        self.path = Path(path)

    def deliver(self, events: Sequence[dict], replay_name: str | None = None) -> Outcome:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as log:
                log.writelines(payload_bytes(e).decode() + "\n" for e in events)
        except OSError as exc:
            return Outcome(False, True, "SDK_CLIENT_ERROR", f"log write failed: {exc}")
        return DELIVERED
