"""``bus serve``: the local bus behind EventBridge's JSON protocol, for boto3 and the AWS CLI.

Requests are ``POST /`` with ``X-Amz-Target: AWSEvents.<Operation>`` and a JSON body
(``Content-Type: application/x-amz-json-1.1``); errors answer HTTP 400 with
``{"__type": "<ExceptionName>", "message": "…"}`` — the awsJson1_1 protocol
(https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html).

Durability: PutEvents answers once its accepted events are fsynced to the journal;
delivery happens on a worker thread. At start the journal is read back and every accepted
event that had not reached all its targets is delivered (see :mod:`app.bus.journal`).

Background threads: delivery (drains accepted events in batches), retries
(:meth:`LocalBus.run_due` with the wall clock), housekeeping (metrics flush every ~10 s,
journal compaction, archive retention, lake compaction), the scheduler (fires scheduled
rules, :mod:`app.bus.scheduler`), and one per running replay (it
takes the bus lock batch by batch, so live traffic keeps flowing while it runs).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import queue
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from app import clock
from app.auth import is_loopback_host
from app.bus.api import BusApi, SerializationException
from app.bus.api_buses import EventsApi
from app.bus.buses import BusRegistry, Scope, checked_region
from app.bus.definition import BusDefinition, load_definition
from app.bus.journal import Journal
from app.bus.local import DEFAULT_ACCOUNT, DEFAULT_REGION, LocalBus
from app.bus.rule_store import RuleStore
from app.bus.runtime import open_local_bus, state_dir_for
from app.bus.scheduler import Scheduler
from app.bus.targets import http_transport
from app.events import BusError
from app.metrics.local import MetricsRecorder

log = logging.getLogger("verticals.bus")
CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "AWSEvents."
MAX_BODY_BYTES = 4 * 1024 * 1024
# A connection idle (or a request body stalled) this long is closed: a client cannot hold a
# worker forever. At most MAX_WORKERS requests are served at once; a connection beyond them
# gets ThrottlingException at once rather than a thread of its own. A request must arrive
# whole (request line, headers, body) within REQUEST_DEADLINE_S of its first byte: one that
# trickles a byte every few seconds (Slowloris) would otherwise hold its worker for good.
IDLE_TIMEOUT_S = 30.0
REQUEST_DEADLINE_S = 20.0
MAX_WORKERS = 64
LOOPBACK = ("127.0.0.1", "::1", "localhost")
RULE_CHANGES = ("PutRule", "EnableRule", "DisableRule", "DeleteRule", "DeleteEventBus")


@dataclass(frozen=True)
class ServerConfig:
    lake: Path
    state_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 4010
    metrics_every_s: float = 10.0
    retry_tick_s: float = 0.2
    compact_every_s: float = 300.0
    delivery_batch: int = 1000
    # PutEvents requests per second before ThrottlingException: EventBridge's default quota
    # in us-east-1, us-west-2 and eu-west-1 (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html).
    put_events_tps: float = 10_000.0
    definition: Path | None = None  # default: infra/bus.yaml
    # A started replay stays STARTING this long before it runs (DescribeReplay and CancelReplay
    # can see it), and a cancelled one CANCELLING until its thread stops.
    replay_starting_s: float = 1.0
    # Where the definition's bus lives: requests signed for this account and region see it
    # beside their default bus (the dashboard reads its lake and metrics).
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    # Scheduled rules: how often the scheduler looks for due firings, and its clock (a test
    # passes its own to move time; the app's clock honours VERTICALS_NOW).
    schedule_tick_s: float = 1.0
    now: Callable[[], datetime] = clock.now


class ThrottlingException(BusError):
    code = "ThrottlingException"
    status = 400


class RequestRate:
    """A token bucket: ``rate`` requests a second, bursts of up to a second's worth."""

    def __init__(self, rate: float, clock=time.monotonic):
        self.rate, self.clock = rate, clock
        self.tokens, self.at = rate, clock()
        self.lock = threading.Lock()

    def admit(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens < 1.0:
                return False
            self.tokens -= 1.0
            return True


class LockedMetrics:
    """The metrics recorder shared by PutEvents' threads and the delivery thread: each of
    its methods, called under one lock."""

    def __init__(self, recorder):
        self.recorder = recorder
        self.lock = threading.Lock()

    def __getattr__(self, name: str):
        method = getattr(self.recorder, name)

        def locked(*args, **kwargs):
            with self.lock:
                return method(*args, **kwargs)

        return locked


class BusService:
    """The bus, its journal and its worker threads.

    ``lock`` serializes routing, delivery and rule changes. PutEvents does not take it: it
    only validates, journals (the journal and the metrics have their own locks) and queues,
    so a slow consumer never slows publishers down.
    """

    def __init__(self, config: ServerConfig, definition: BusDefinition | None = None):
        self.config = config
        definition = definition or (
            load_definition(config.definition) if config.definition else load_definition()
        )
        state_dir = state_dir_for(config.lake, config.state_dir)
        self.lock = threading.RLock()
        self.journal = Journal(state_dir / "journal.jsonl")
        self.bus = open_local_bus(
            definition,
            config.lake,
            state_dir,
            transport=http_transport(timeout_s=2.0),
            journal=self.journal,
            account=config.account,
            region=config.region,
        )
        # (bus, accepted events, ingestion time) from PutEvents; (bus, journaled events, None) at start
        self.accepted: queue.Queue[tuple[LocalBus, list, datetime | None]] = queue.Queue()
        self.registry = BusRegistry(
            self.bus, self._api_for(self.bus, RuleStore.in_state_dir(state_dir)), state_dir, self._api_for
        )
        self.api = EventsApi(self.registry)
        self.compaction_lock = threading.Lock()  # a replay checks the lake for the ids it holds
        self.stopping = threading.Event()
        self.put_events_rate = RequestRate(config.put_events_tps)
        self.scheduler = Scheduler(self.buses, config.now)
        self.threads: list[threading.Thread] = []

    def _api_for(self, bus: LocalBus, store: RuleStore) -> BusApi:
        """The API over one bus: its deliveries and replays go to the worker threads."""
        # A proxy with the recorder's methods, each called under one lock.
        bus.metrics = cast(MetricsRecorder, LockedMetrics(bus.metrics))
        return BusApi(
            bus,
            store,
            deliver=lambda events, now: self.accepted.put((bus, events, now)),
            run_replay=lambda name: self._start_replay(bus, name),
            bus_exists=lambda arn: self.registry.exists((bus.account, bus.region), arn),
        )

    def buses(self) -> list[LocalBus]:
        return [entry.bus for entry in self.registry.all()]

    def call(self, operation: str, request: dict, scope: Scope | None = None) -> dict:
        scope = scope or (self.bus.account, self.bus.region)
        if operation == "PutEvents":
            if not self.put_events_rate.admit():
                self.bus.count_throttled_put_events(clock.now())
                raise ThrottlingException("Rate exceeded")
            return self.api.call(operation, request, scope)
        with self.lock:
            answer = self.api.call(operation, request, scope)
            if operation in RULE_CHANGES:  # a new scheduled rule's rate counts from now
                self.scheduler.sync()
            return answer

    def start(self) -> None:
        """Read the journals back, then deliver what they hold on the delivery thread."""
        for bus in self.buses():
            interrupted = bus.replays.fail_interrupted(time.time())
            if interrupted:
                log.warning(
                    "replays %s were running when the bus stopped: now FAILED", ", ".join(interrupted)
                )
            unfinished = bus.journal.recover() if bus.journal is not None else []
            if unfinished:
                log.warning(
                    "re-delivering %d journaled events of bus %s after a restart", len(unfinished), bus.name
                )
            self.scheduler.recovered(bus, [entry.event for entry in unfinished])
            self.accepted.put((bus, unfinished, None))
        loops = (self._deliver_loop, self._retry_loop, self._housekeeping_loop, self._schedule_loop)
        for work in loops:
            thread = threading.Thread(target=work, name=work.__name__, daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            for bus in self.buses():
                for replay in bus.replays.active():
                    bus.cancel_replay(replay.name)
        for thread in self.threads:
            thread.join(timeout=5)
        with self.lock:
            while self._drain_accepted(block=False):
                pass
            for bus in self.buses():
                bus.flush()
                if bus.journal is not None:
                    bus.journal.close()

    # -- worker threads ----------------------------------------------------------------
    def _drain_accepted(self, block: bool) -> int:
        """Publish what PutEvents accepted, many calls at once (fewer, larger lake files)."""
        try:
            bus, events, ingested = self.accepted.get(timeout=0.2) if block else self.accepted.get_nowait()
        except queue.Empty:
            return 0
        if ingested is None:  # journaled before a restart
            with self.lock:
                return bus.recover(events, now=clock.now()) or 1
        batches: dict[int, tuple[LocalBus, list, list[float]]] = {id(bus): (bus, [], [])}
        count = 0
        while True:
            _, batch, ingested_each = batches.setdefault(id(bus), (bus, [], []))
            batch.extend(events)
            ingested_each.extend([ingested.timestamp()] * len(events))
            count += len(events)
            if count >= self.config.delivery_batch:
                break
            try:
                bus, events, more_ingested = self.accepted.get_nowait()
            except queue.Empty:
                break
            # Only the items queued before the threads start are a restart's (None).
            assert more_ingested is not None
            ingested = more_ingested
        with self.lock:
            for target, batch, ingested_each in batches.values():
                # Delivery starts now: the latency metrics count the time events waited here.
                target.publish(batch, ingested_each=ingested_each, now=clock.now())
        return count

    def _start_replay(self, bus: LocalBus, name: str) -> None:
        thread = threading.Thread(
            target=self._guard,
            args=(bus.run_replay, name, self._replay_turn, 1.0, self.config.replay_starting_s),
            name=f"replay-{name}",
            daemon=True,
        )
        thread.start()
        self.threads.append(thread)

    @contextmanager
    def _replay_turn(self):
        # Compaction must not hide lake files while a replay checks which events the lake has.
        with self.compaction_lock, self.lock:
            yield

    def _deliver_loop(self) -> None:
        while not self.stopping.is_set():
            self._guard(self._drain_accepted, True)

    def _retry_loop(self) -> None:
        while not self.stopping.wait(self.config.retry_tick_s):
            with self.lock:
                for bus in self.buses():
                    self._guard(bus.run_due, time.time())

    def _schedule_loop(self) -> None:
        while not self.stopping.wait(self.config.schedule_tick_s):
            with self.lock:
                self._guard(self.scheduler.tick)

    def _housekeeping_loop(self) -> None:
        last_compaction = time.monotonic()
        while not self.stopping.wait(self.config.metrics_every_s):
            with self.lock:
                for bus in self.buses():
                    self._guard(bus.flush)
                    if bus.journal is not None:
                        self._guard(bus.journal.compact_if_large)
                    self._guard(bus.archives.expire, time.time())
            if time.monotonic() - last_compaction >= self.config.compact_every_s:
                last_compaction = time.monotonic()
                self._guard(self._compact_lake)

    def _compact_lake(self) -> None:
        from app.lake.compact import compact

        with self.compaction_lock:
            compact(self.config.lake, min_age_s=self.config.compact_every_s)

    @staticmethod
    def _guard(work, *args):
        # A background failure is logged, never fatal: the journal still holds the events.
        try:
            return work(*args)
        except Exception:
            log.exception("bus background work failed")
            return None


def handler_for(service: BusService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body in one segment: unbuffered writes with Nagle's algorithm and
        # delayed ACKs cost ~40 ms per keep-alive request.
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True
        timeout = IDLE_TIMEOUT_S  # socket timeout for every read: idle keep-alives and stalled bodies

        def setup(self) -> None:
            super().setup()
            self.rfile.close()  # the plain reader: reads go through the deadline instead
            self.reader = DeadlineReader(self.connection)
            self.buffered = io.BufferedReader(self.reader)
            self.rfile = self.buffered

        def handle_one_request(self) -> None:
            self.reader.next_request()
            try:  # the next request's first bytes: already buffered, or one idle-timed read
                self.buffered.peek(1)
            except TimeoutError:
                self.close_connection = True
                return
            self.reader.started()
            super().handle_one_request()  # a TimeoutError in the request line or headers closes

        def handle_expect_100(self) -> bool:
            """``Expect: 100-continue``: the interim answer goes out now, not with the final
            one (the writes are buffered), or the client waits for it while its deadline runs."""
            ready = super().handle_expect_100()
            self.wfile.flush()
            return ready

        def do_GET(self) -> None:
            self._send(200, {"status": "ok", "bus": service.bus.name})

        def do_POST(self) -> None:
            try:
                operation, request = self._read_request()
                self._send(200, service.call(operation, request, self._scope()))
            except BusError as exc:
                self._send(
                    exc.status if exc.status < 500 else 500, {"__type": exc.code, "message": exc.message}
                )
            except Exception as exc:
                code = getattr(exc, "code", None)
                if isinstance(code, str):  # InvalidEventPatternException
                    self._send(400, {"__type": code, "message": getattr(exc, "message", str(exc))})
                else:  # the client gets EventBridge's shape and no Python text; the log gets the rest
                    log.exception("internal error")
                    self.close_connection = True  # the request may not have been read to its end
                    self._send(500, {"__type": "InternalException", "message": "An internal error occurred."})

        def _read_request(self) -> tuple[str, dict]:
            """The operation and its JSON request. The body is read whole before anything
            about the request is refused: a refusal before it would leave the body on the
            connection, read as the next request (smuggled past the headers it is checked
            by: a web page could send any operation in a plain-text POST's body)."""
            body = self._read_body()
            host = self.headers.get("Host", "")
            if service.config.host in LOOPBACK and not is_loopback_host(host):
                # DNS rebinding: a page of evil.example resolved to 127.0.0.1 names its own host.
                raise SerializationException(f"Host {host!r} is not this machine: the bus answers 127.0.0.1.")
            kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind not in JSON_TYPES:  # a form or plain text is what a page may POST unasked
                raise SerializationException(f"Content-Type must be {CONTENT_TYPE}, not {kind or 'none'!r}.")
            target = self.headers.get("X-Amz-Target", "")
            if not target.startswith(TARGET_PREFIX):
                raise SerializationException(f"Missing or unknown X-Amz-Target header: {target!r}.")
            try:
                request = json.loads(body or b"{}")  # an empty body: no parameters
            except (ValueError, RecursionError):
                raise SerializationException("The request body is not valid JSON.") from None
            if not isinstance(request, dict):
                raise SerializationException("The request body must be a JSON object.")
            return target[len(TARGET_PREFIX) :], request

        def _read_body(self) -> bytes:
            """The body, by one Content-Length; where its end is unknown or not reached the
            connection is closed after the answer (the stream is unusable)."""
            lengths = self.headers.get_all("Content-Length") or []
            if self.headers.get("Transfer-Encoding") is not None or len(lengths) != 1:
                self.close_connection = True
                raise SerializationException(
                    "A request needs one Content-Length header and no Transfer-Encoding."
                )
            text = lengths[0].strip()
            if not text.isdigit() or len(text) > 12:  # -1, abc, 1e9, a thousand digits
                self.close_connection = True
                raise SerializationException("Content-Length must be a whole number of bytes.")
            length = int(text)
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                raise SerializationException(
                    f"Request body of {length} bytes is too large (at most {MAX_BODY_BYTES})."
                )
            try:
                body = self.rfile.read(length)
            except TimeoutError:
                self.close_connection = True
                raise SerializationException("The request body did not arrive in time.") from None
            if len(body) < length:
                self.close_connection = True
                raise SerializationException("The request body ended before its Content-Length.")
            return body

        def _scope(self) -> Scope:
            return scope_of(self.headers.get("Authorization", ""), (service.bus.account, service.bus.region))

        def _send(self, status: int, body: dict) -> None:
            self.reader.answering()
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(data)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """What http.server refuses itself (another method, an over-long line or too many
            headers, a malformed request line): EventBridge's error shape, not an HTML page."""
            self.close_connection = True
            self.reader.answering()
            kind = "UnknownOperationException" if code == 501 else "SerializationException"
            body = json.dumps({"__type": kind, "message": f"{message or 'Bad request'}."}).encode()
            with contextlib.suppress(OSError):
                self.send_response(code if 400 <= code < 600 else 400, message)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:
            log.debug(format, *args)

    return Handler


class DeadlineReader(io.RawIOBase):
    """A connection's reads: waiting for a request's first byte up to the socket's idle
    timeout, then each read given only what is left of REQUEST_DEADLINE_S from that byte
    (TimeoutError once it is spent)."""

    def __init__(self, connection: socket.socket):
        self.connection = connection
        self.idle_s = connection.gettimeout()
        self.deadline: float | None = None

    def next_request(self) -> None:
        """The next read may be the first of a request: the idle timeout again."""
        self.deadline = None

    def started(self) -> None:
        """The request's first bytes are here (read before, with the previous request's):
        its deadline runs from now if no read has started it."""
        if self.deadline is None:
            self.deadline = time.monotonic() + REQUEST_DEADLINE_S

    def answering(self) -> None:
        """The answer is written with the idle timeout, not what was left of the deadline."""
        self.connection.settimeout(self.idle_s)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is None:
            self.connection.settimeout(self.idle_s)
            read = self.connection.recv_into(buffer)
            self.deadline = time.monotonic() + REQUEST_DEADLINE_S
            return read
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the request did not arrive within {REQUEST_DEADLINE_S:g} s")
        self.connection.settimeout(left if self.idle_s is None else min(left, self.idle_s))
        return self.connection.recv_into(buffer)


class BoundedHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with at most MAX_WORKERS connections served at once; one more is
    answered ThrottlingException and closed, so a flood of connections costs no threads."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.slots = threading.BoundedSemaphore(MAX_WORKERS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


# What boto3 and the AWS CLI send; a browser must ask first (a CORS preflight, which this
# server never grants) before it sends either cross-site.
JSON_TYPES = (CONTENT_TYPE, "application/json")


def _refuse_busy(connection: Any) -> None:
    body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
    head = (
        f"HTTP/1.1 400 Bad Request\r\nContent-Type: {CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with contextlib.suppress(OSError):
        connection.sendall(head + body)


# SigV4: "AWS4-HMAC-SHA256 Credential=AKID/20261206/eu-central-1/events/aws4_request, …"
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/")
ACCOUNT_ID = re.compile(r"^\d{12}\Z")


def scope_of(authorization: str, default: Scope) -> Scope:
    """(account, region) of a request: the region of its SigV4 credential scope; the account
    its access key id when that is 12 digits (as localstack and moto read it), else the
    default account. An unsigned request is the default account's, in the default region."""
    match = CREDENTIAL.search(authorization)
    if match is None:
        return default
    key, region = match.groups()
    return (key if ACCOUNT_ID.match(key) else DEFAULT_ACCOUNT), checked_region(region)


def serve(config: ServerConfig, ready: threading.Event | None = None) -> None:
    """Run until interrupted (SIGINT/SIGTERM raise KeyboardInterrupt/SystemExit)."""
    service = BusService(config)
    service.start()
    server = BoundedHTTPServer((config.host, config.port), handler_for(service))
    if config.host not in LOOPBACK:
        log.warning(
            "bus serve listens on %s: it checks no request signatures, so anyone who reaches "
            "the port can publish and change rules (docs/security.md)",
            config.host,
        )
    print(
        f"bus {service.bus.name} listening on http://{config.host}:{server.server_port} (lake {config.lake})",
        flush=True,
    )
    if ready:
        ready.set()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        service.stop()
