"""Where a rule sends matched events: the lake, an HTTP consumer, a queue, a log.

Every target has one interface, :class:`DeliveryTarget`: deliver a batch of payloads, get
one :class:`Outcome` per payload. Batch targets (lake, queue, log) take the whole batch in
one call; an HTTP target invokes its consumer once per event, as an EventBridge API
destination does. :data:`TARGET_TYPES` is the registry of target kinds: for each, how the
local bus opens it and names it in ARNs (and reads a PutTargets ARN back).

An HTTP answer is classified the way
EventBridge classifies API destination responses
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html):
2xx delivered; 429 and 5xx retryable; any other 4xx is final.
"""

from __future__ import annotations

import errno
import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import requests

from app.bus.definition import Endpoint, Target, TargetKind
from app.bus.journal import ids_in_lake
from app.lake.paths import LakePathError
from app.lake.writer import LakeWriter


@dataclass(frozen=True)
class Outcome:
    ok: bool
    retryable: bool = False
    error_code: str = ""
    error_message: str = ""
    # The bus's own disk refused the write (not the target): retried until space returns,
    # whatever the target's retry policy (see LocalBus._retry_or_dead_letter).
    disk_full: bool = False


DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: BaseException) -> bool:
    """A write refused for space: no space left on the device, or the disk quota exceeded."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def write_failed(what: str, exc: OSError) -> Outcome:
    return Outcome(False, True, "SDK_CLIENT_ERROR", f"{what} write failed: {exc}", is_disk_full(exc))


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
# (url, payload, at) -> HTTP status; http_transport also takes method= and headers=.
Transport = Callable[..., int]


def payload_bytes(payload: Payload) -> bytes:
    return (payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))).encode()


def http_transport(timeout_s: float = 5.0) -> Transport:
    """Real HTTP. An API destination made through the API also gives its ``method`` and its
    connection's ``headers`` (keywords only it passes: other transports need not take them)."""
    session = requests.Session()

    def send(url: str, event: Payload, at: datetime, method: str = "POST", headers: Sequence = ()) -> int:
        try:
            return session.request(
                method,
                url,
                data=payload_bytes(event),
                timeout=timeout_s,
                headers={"Content-Type": "application/json", **dict(headers)},
            ).status_code
        except requests.RequestException:
            return 503  # unreachable: EventBridge retries connection failures

    return send


class DeliveryTarget(Protocol):
    def deliver(
        self, payloads: Sequence[Payload], at: Sequence[float], replay_name: str | None = None
    ) -> list[Outcome]:
        """Deliver ``payloads`` (the ``i``-th at epoch second ``at[i]``; a replay's under its
        name): one outcome per payload."""
        ...


class HttpTarget:
    """An HTTP consumer: invoked once per event, each at its own moment. ``endpoint``, when
    given, is looked up at each delivery (an API destination may change or go)."""

    def __init__(self, url: str, transport: Transport, endpoint: Callable[[], Endpoint | None] | None = None):
        self.url = url
        self.transport = transport
        self.endpoint = endpoint

    def deliver(
        self, payloads: Sequence[Payload], at: Sequence[float], replay_name: str | None = None
    ) -> list[Outcome]:
        endpoint = self.endpoint() if self.endpoint is not None else None
        if self.endpoint is not None and (endpoint is None or not endpoint.active):
            return [NOT_CALLABLE] * len(payloads)
        url = endpoint.url if endpoint is not None else self.url
        extra: dict[str, Any] = {}
        if endpoint is not None and (endpoint.method != "POST" or endpoint.headers):
            extra = {"method": endpoint.method, "headers": endpoint.headers}
        return [
            classify_http_status(self.transport(url, payload, datetime.fromtimestamp(moment, UTC), **extra))
            for payload, moment in zip(payloads, at, strict=True)
        ]


# An API destination deleted, or whose connection is not authorized: EventBridge cannot
# call it, and calling again would not help.
NOT_CALLABLE = Outcome(
    False, False, "CLIENT_ERROR", "The API destination does not exist or its connection is not authorized"
)


class BatchTarget:
    """A target that takes a whole batch in one call: every payload shares its outcome."""

    def deliver(
        self, payloads: Sequence[Payload], at: Sequence[float], replay_name: str | None = None
    ) -> list[Outcome]:
        return [self.deliver_batch(payloads, replay_name)] * len(payloads)

    def deliver_batch(self, payloads: Sequence[Payload], replay_name: str | None) -> Outcome:
        raise NotImplementedError


class LakeTarget(BatchTarget):
    def __init__(self, writer: LakeWriter):
        self.writer = writer

    def deliver_batch(self, payloads: Sequence[Payload], replay_name: str | None) -> Outcome:
        events = [e for e in payloads if isinstance(e, dict)]  # a lake target takes whole events
        try:
            if replay_name is not None:
                events = self._not_in_lake(events)
            if events:
                self.writer.write(events, replay_name=replay_name)
        except LakePathError as exc:  # PutEvents validation should make this unreachable
            return Outcome(False, False, "SDK_CLIENT_ERROR", f"lake write refused: {exc}")
        except OSError as exc:
            return write_failed("lake", exc)
        return DELIVERED

    def _not_in_lake(self, events: Sequence[dict]) -> list[dict]:
        """A replay brings back events the lake usually holds already (same ids): the lake
        keeps each event once, so only the ones it lacks are written — typed rows too."""
        present = ids_in_lake(self.writer.root, events)
        return [e for e in events if e["id"] not in present]


class QueueTarget(BatchTarget):
    """A department's queue. Locally it keeps the most recent messages for inspection."""

    def __init__(self, name: str, keep: int = 1000):
        self.name = name
        self.messages: deque[Payload] = deque(maxlen=keep)
        self.received = 0

    def deliver_batch(self, payloads: Sequence[Payload], replay_name: str | None) -> Outcome:
        self.messages.extend(payloads)
        self.received += len(payloads)
        return DELIVERED


class LogTarget(BatchTarget):
    """A log group: one JSON line per event."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def deliver_batch(self, payloads: Sequence[Payload], replay_name: str | None) -> Outcome:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as log:
                log.writelines(payload_bytes(e).decode() + "\n" for e in payloads)
        except OSError as exc:
            return write_failed("log", exc)
        return DELIVERED


# --- the registry of target kinds ---------------------------------------------------------


@dataclass(frozen=True)
class Plumbing:
    """What the local bus gives a target it opens."""

    bus: str
    writer: LakeWriter
    endpoints: Mapping[str, Endpoint]
    transport: Transport
    state_dir: Path


def _open_http(target: Target, plumbing: Plumbing) -> DeliveryTarget:
    name = target.endpoint or ""
    endpoint = plumbing.endpoints.get(name)
    if endpoint is None:  # a target made through the API may name its URL directly (a local extension)
        return HttpTarget(name, plumbing.transport)
    return HttpTarget(endpoint.url, plumbing.transport, lambda: plumbing.endpoints.get(name))


def _log_from_arn(resource: str) -> dict[str, Any]:
    return {"log": resource.rsplit("/", 1)[-1].removeprefix("log-group:")}


def _endpoint_from_arn(resource: str) -> dict[str, Any] | None:
    if not resource.startswith("api-destination/"):
        return None
    return {"endpoint": resource.split("/")[1]}


@dataclass(frozen=True)
class TargetType:
    """One kind of target: how the local bus opens it, the AWS service that stands for it
    in ARNs, the ARN's resource for a target, and a PutTargets ARN's resource read back
    into target fields (None: the resource is not one of this kind)."""

    kind: TargetKind
    service: str
    open: Callable[[Target, Plumbing], DeliveryTarget]
    resource: Callable[[Target, str], str]  # (target, bus name) -> the ARN's resource part
    fields: Callable[[str], dict[str, Any] | None]


TARGET_TYPES: dict[str, TargetType] = {
    t.kind: t
    for t in (
        TargetType(
            TargetKind.LAKE,
            "firehose",
            lambda target, plumbing: LakeTarget(plumbing.writer),
            lambda target, bus: f"deliverystream/{bus}-lake",
            lambda resource: {},
        ),
        TargetType(
            TargetKind.HTTP,
            "events",
            _open_http,
            lambda target, bus: f"api-destination/{target.endpoint}",
            _endpoint_from_arn,
        ),
        TargetType(
            TargetKind.QUEUE,
            "sqs",
            lambda target, plumbing: QueueTarget(target.queue_name),
            lambda target, bus: target.queue_name,
            lambda resource: {"queue": resource},
        ),
        TargetType(
            TargetKind.LOG,
            "logs",
            lambda target, plumbing: LogTarget(plumbing.state_dir / "logs" / f"{target.log_name}.jsonl"),
            lambda target, bus: f"log-group:/verticals/{target.log_name}",
            _log_from_arn,
        ),
    )
}


def open_target(target: Target, plumbing: Plumbing) -> DeliveryTarget:
    return TARGET_TYPES[target.kind].open(target, plumbing)


def target_arn(target: Target, bus: str, region: str, account: str) -> str:
    """The ARN the local bus gives a target (its dead letters' TARGET_ARN)."""
    kind = TARGET_TYPES[target.kind]
    return f"arn:aws:{kind.service}:{region}:{account}:{kind.resource(target, bus)}"


def target_fields_from_arn(service: str, resource: str) -> dict[str, Any] | None:
    """``kind`` and the target fields a PutTargets ARN names; None: no kind has that ARN."""
    for kind in TARGET_TYPES.values():
        if kind.service == service:
            fields = kind.fields(resource)
            if fields is not None:
                return {"kind": kind.kind.value, **fields}
    return None
