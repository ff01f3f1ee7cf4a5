"""The local event bus: PutEvents in, rules match, targets receive, metrics are counted.

Two ways in:

* :meth:`LocalBus.put_events` — the PutEvents API: validates each entry, stamps the
  envelope, routes the accepted ones, and answers in PutEvents' response shape.
* :meth:`LocalBus.publish` — the batch path for envelopes that already exist (the
  simulated enterprise seeding history, replays). With ``virtual_time=True`` each event is
  ingested at its own ``time``: metrics, retries and consumer outages happen in the past
  where the event belongs.

Failed deliveries are retried with exponential backoff and jitter under the target's
retry policy, then dead-lettered with EventBridge's attributes
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html).

A full disk is the bus's own failure, not the target's: on a journaled bus, an accepted
event whose lake, log, archive or dead-letter write the disk refused is retried, backing off up
to DISK_FULL_MAX_BACKOFF_S, until space returns — never dropped for the retry policy. Each
refusal counts ``VerticalsDiskFullErrors`` (ours, not an AWS/Events metric) and is logged.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from app import clock
from app.bus.archive import MAX_ACTIVE_REPLAYS, Archive, ArchiveStore, Replay, ReplayStore, replay_batches
from app.bus.definition import (
    BusDefinition,
    LimitExceededException,
    ResourceNotFoundException,
    Rule,
    Target,
    TargetKind,
)
from app.bus.dlq import LocalDeadLetterQueue, queue_path
from app.bus.journal import Journal, JournaledEvent, ids_in_lake
from app.bus.patterns import PatternIndex
from app.bus.schedule import rule_patterns
from app.bus.targets import (
    DELIVERED,
    DeliveryTarget,
    Outcome,
    Plumbing,
    Transport,
    http_transport,
    is_disk_full,
    open_target,
    target_arn,
)
from app.bus.transform import InputTransform
from app.dead_letters import DeadLetter, RedriveResult
from app.events import (
    DEFAULT_MAX_ENTRY_BYTES,
    EntryError,
    check_entry_count,
    entry_size,
    make_envelope,
    validate_entry,
)
from app.lake.writer import LakeWriter
from app.metrics.local import MetricsRecorder, Periods
from app.metrics.names import DISK_FULL_ERRORS, EventsMetric

log = logging.getLogger("verticals.bus")
MAX_BACKOFF_S = 300.0
DISK_FULL_MAX_BACKOFF_S = 30.0
DISK_FULL_LOG_EVERY_S = 60.0
DEFAULT_BUS = "default"  # every account has it in every region
DEFAULT_ACCOUNT, DEFAULT_REGION = "123456789012", "us-east-1"
ARCHIVE_TARGET = "archive"  # journal deliveries to an archive: ("archive:<name>", "archive")


def archive_delivery(name: str) -> str:
    # Rule names cannot hold ':', so this never names a rule.
    return f"archive:{name}"


def backoff_s(attempt: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter: up to 1 s, 2 s, 4 s … capped at 5 minutes."""
    return rng.uniform(0.5, 1.0) * min(MAX_BACKOFF_S, 2.0 ** (attempt - 1))


@dataclass(slots=True)
class PendingDelivery:
    due: float  # epoch seconds
    rule: str
    target_id: str
    event: dict
    ingested: float
    attempt: int = 0
    # Set when only the dead-letter send is left (the disk refused it): (outcome, exhausted
    # retry condition, RETRY_ATTEMPTS); ``attempt`` then counts the sends, for the backoff.
    dead_letter: tuple[Outcome, str, int] | None = None


class _EpochCache:
    """Envelope time text (``2026-11-20T10:04:05Z``) → epoch seconds: the date parsed once a
    day, each minute by arithmetic (strptime per minute cost more than the matching)."""

    def __init__(self) -> None:
        self._minutes: dict[str, float] = {}
        self._days: dict[str, float] = {}

    def __call__(self, text: str) -> float:
        minute = text[:16]
        base = self._minutes.get(minute)
        if base is None:
            base = self._minutes[minute] = (
                self._day(text[:10]) + int(text[11:13]) * 3600 + int(text[14:16]) * 60
            )
        return base + int(text[17:19])

    def _day(self, day: str) -> float:
        base = self._days.get(day)
        if base is None:
            base = self._days[day] = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        return base


class LocalBus:
    def __init__(
        self,
        definition: BusDefinition,
        lake: Path,
        *,
        state_dir: Path | None = None,
        transport: Transport | None = None,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
        metrics_now: datetime | None = None,
        seed: int = 0,
        journal: Journal | None = None,
        archive: bool = True,
    ):
        """``archive=False``: publish without appending to archives (seeding history, which
        the lake already keeps; archiving it as JSON lines would cost 4x the lake's disk)."""
        self.definition = definition
        self.archive_events = archive
        self.name = definition.bus
        self.account, self.region = account, region
        self.max_entry_bytes = max_entry_bytes
        self.lake = Path(lake)
        self.state_dir = Path(state_dir) if state_dir else self.lake.parent / "bus"
        self.writer = LakeWriter(self.lake)
        self.metrics = MetricsRecorder(self.lake, self.name, now=metrics_now)
        self.transport = transport or http_transport()
        self.rng = random.Random(seed)
        self.rules: dict[str, Rule] = {}
        self.index = PatternIndex()
        self.targets: dict[tuple[str, str], DeliveryTarget] = {}
        self.inputs: dict[
            tuple[str, str], InputTransform
        ] = {}  # targets that get something else than the event
        self.dlqs = {q: self._dlq(q) for q in definition.dead_letter_queues}
        self.journal = journal
        self.pending: list[tuple[float, int, PendingDelivery]] = []  # a heap by due time
        self._disk_full_since_log = 0  # refusals not yet logged
        self._disk_full_logged_at = float("-inf")
        self.archives = ArchiveStore(self.state_dir)
        self._create_defined_archives(definition)
        self.replays = ReplayStore(self.state_dir)
        self._seq = itertools.count()
        self._epoch = _EpochCache()
        for rule in definition.rules:
            self.add_rule(rule)

    def _create_defined_archives(self, definition: BusDefinition) -> None:
        """The definition's archives, created as CreateArchive would; an archive of that
        name already in the store (an earlier start's, or one made through the API) stays."""
        for spec in definition.archives:
            if spec.name not in self.archives.archives:
                self.archives.put(
                    Archive(spec.name, spec.pattern, spec.retention_days, spec.description, time.time())
                )

    # -- rules -------------------------------------------------------------------------
    def add_rule(self, rule: Rule) -> None:
        """Add a rule, or replace the rule of that name (its targets and state too)."""
        replacing = rule.name in self.rules
        if replacing:
            self.remove_rule(rule.name)
        self.rules[rule.name] = rule
        for pattern in rule_patterns(rule, self.rule_arn(rule.name)) if rule.state == "ENABLED" else ():
            self.index.add(rule.name, pattern)
        for target in rule.targets:
            if target.dead_letter_queue and target.dead_letter_queue not in self.dlqs:
                self.dlqs[target.dead_letter_queue] = self._dlq(target.dead_letter_queue)
            self.targets[(rule.name, target.id)] = self._build_target(target)
            transform = target.input_transform()
            if transform is not None:
                self.inputs[(rule.name, target.id)] = transform

    def remove_rule(self, name: str) -> None:
        rule = self.rules.pop(name, None)
        if rule is None:
            return
        for target in rule.targets:
            self.targets.pop((name, target.id), None)
            self.inputs.pop((name, target.id), None)
        self.index.remove(name)

    def _dlq(self, name: str) -> LocalDeadLetterQueue:
        return LocalDeadLetterQueue(queue_path(self.state_dir / "dlq", name))

    def _build_target(self, target: Target) -> DeliveryTarget:
        plumbing = Plumbing(self.name, self.writer, self.definition.endpoints, self.transport, self.state_dir)
        return open_target(target, plumbing)

    def rule_arn(self, rule: str) -> str:
        """``rule/NAME`` on an account's default bus, ``rule/BUS/NAME`` on a custom bus."""
        path = rule if self.name == DEFAULT_BUS else f"{self.name}/{rule}"
        return f"arn:aws:events:{self.region}:{self.account}:rule/{path}"

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:event-bus/{self.name}"

    def target_arn(self, target: Target) -> str:
        """The target's ARN as PutTargets gave it, else the one the local bus names it by."""
        return target.arn or target_arn(target, self.name, self.region, self.account)

    # -- PutEvents ---------------------------------------------------------------------
    def put_events(self, entries: Sequence[Any], now: datetime | None = None) -> dict:
        """PutEvents: each entry accepted or failed on its own; raises for a bad call."""
        now = now or clock.now()
        response, accepted = self.accept_entries(entries, now)
        if accepted:
            self.publish(accepted, ingested_at=now)
        return response

    def accept_entries(self, entries: Sequence[Any], now: datetime | None = None) -> tuple[dict, list[dict]]:
        """Validate and journal a PutEvents call: (its response, the accepted envelopes)."""
        started = time.perf_counter()
        check_entry_count(entries)
        now = now or clock.now()
        results, accepted = [], []
        for entry in entries:
            detail = validate_entry(entry, self.max_entry_bytes)
            if isinstance(detail, EntryError):
                results.append({"ErrorCode": detail.code, "ErrorMessage": detail.message})
                continue
            envelope = make_envelope(entry, detail, account=self.account, region=self.region, now=now)
            accepted.append(envelope)
            results.append({"EventId": envelope["id"]})
        if accepted and self.journal is not None:
            try:
                self.journal.accept(accepted, now.timestamp())
            except OSError as exc:
                # Not kept, so not acknowledged: each entry fails as EventBridge fails an entry
                # on its side, and the client retries it (the journal holds none of them).
                if is_disk_full(exc):
                    self.count_disk_full(now.timestamp(), "", "the journal", len(accepted))
                else:
                    log.error("journal write failed: %s entries refused: %s", len(accepted), exc)
                results = [
                    {"ErrorCode": "InternalFailure", "ErrorMessage": "The event could not be stored."}
                    if "EventId" in r
                    else r
                    for r in results
                ]
                accepted = []
        self._count_put_events(entries, len(accepted), now)
        self.metrics.add(
            EventsMetric.PUT_EVENTS_LATENCY, now.timestamp(), (time.perf_counter() - started) * 1000.0
        )
        return {"FailedEntryCount": len(entries) - len(accepted), "Entries": results}, accepted

    def count_throttled_put_events(self, now: datetime) -> None:
        """A PutEvents call refused for the request rate (the server's quota)."""
        self.metrics.add(EventsMetric.PUT_EVENTS_APPROXIMATE_CALL_COUNT, now.timestamp())
        self.metrics.add(EventsMetric.PUT_EVENTS_APPROXIMATE_THROTTLED_COUNT, now.timestamp())

    def _count_put_events(self, entries: Sequence[Any], accepted: int, now: datetime) -> None:
        at = now.timestamp()
        failed = len(entries) - accepted
        self.metrics.add(EventsMetric.PUT_EVENTS_APPROXIMATE_CALL_COUNT, at)
        self.metrics.add(EventsMetric.PUT_EVENTS_ENTRIES_COUNT, at, len(entries))
        self.metrics.add(EventsMetric.PUT_EVENTS_FAILED_ENTRIES_COUNT, at, failed)
        self.metrics.add(
            EventsMetric.PUT_EVENTS_APPROXIMATE_SUCCESS_COUNT
            if not failed
            else EventsMetric.PUT_EVENTS_APPROXIMATE_FAILED_COUNT,
            at,
        )
        size = sum(entry_size(e) for e in entries if isinstance(e, dict))
        self.metrics.add(EventsMetric.PUT_EVENTS_REQUEST_SIZE, at, size)

    # -- routing -----------------------------------------------------------------------
    def publish(
        self,
        events: Sequence[dict],
        *,
        ingested_at: datetime | None = None,
        virtual_time: bool = False,
        replay_name: str | None = None,
        only_rules: set[str] | None = None,
        skip: set[tuple[str, str, str]] | None = None,
        now: datetime | None = None,
        ingested_each: Sequence[float] | None = None,
    ) -> None:
        """Route envelopes to every matching rule's targets, then run what is due.

        Ingestion: each event's own ``time`` (``virtual_time``), one epoch per event
        (``ingested_each``: several PutEvents calls delivered together), or ``ingested_at``.
        ``now`` is when delivery happens (default: the latest ingestion); the latency metrics
        measure from ingestion to it. ``skip`` holds (event id, rule, target id) deliveries
        already made (a recovery).

        Each rule's events go to each of its targets in one batch: one lake write, one
        metrics update per stored period, whatever the number of events.
        """
        ats = self._ingestion_times(events, ingested_at, virtual_time, ingested_each)
        run_at = None if virtual_time else (now.timestamp() if now else max(ats, default=0.0))
        matched, archived = self._route(events, replay_name, only_rules, skip)
        for name, indexes in archived.items():
            self._archive(name, [events[i] for i in indexes], run_at)
        for rule_name, indexes in matched.items():
            rule_events, rule_ats = [events[i] for i in indexes], [ats[i] for i in indexes]
            periods = self._periods(rule_ats, run_at)
            self.metrics.add_period_counts(
                (EventsMetric.MATCHED_EVENTS, EventsMetric.TRIGGERED_RULES), rule_name, periods
            )
            for target in self.rules[rule_name].targets:
                if skip:
                    keep = [
                        i for i, e in enumerate(rule_events) if (e["id"], rule_name, target.id) not in skip
                    ]
                    if keep:
                        todo_at = [rule_ats[i] for i in keep]
                        self._start_delivery(
                            rule_name,
                            target,
                            [rule_events[i] for i in keep],
                            todo_at,
                            replay_name,
                            run_at,
                            self._periods(todo_at, run_at),
                        )
                else:
                    self._start_delivery(
                        rule_name, target, rule_events, rule_ats, replay_name, run_at, periods
                    )
        self.run_due(run_at)  # retries: in virtual time all of them, else those due by now

    def _ingestion_times(
        self,
        events: Sequence[dict],
        ingested_at: datetime | None,
        virtual_time: bool,
        ingested_each: Sequence[float] | None,
    ) -> list[float]:
        if virtual_time:
            epoch = self._epoch
            return [epoch(e["time"]) for e in events]
        if ingested_each is not None:
            return list(ingested_each)
        return [(ingested_at or clock.now()).timestamp()] * len(events)

    def _periods(self, ats: list[float], run_at: float | None) -> Periods:
        """Events per stored metrics period: at each event's own time, or all at ``run_at``."""
        if run_at is None:
            return self.metrics.period_counts(ats)
        return Periods(self.metrics.period_counts([run_at]).starts, np.array([len(ats)]))

    def _route(
        self,
        events: Sequence[dict],
        replay_name: str | None,
        only_rules: set[str] | None,
        skip: set[tuple[str, str, str]] | None,
    ) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        """(rule -> indexes of the events it matched, archive -> indexes of the events it keeps)."""
        matched: dict[str, list[int]] = defaultdict(list)
        archived: dict[str, list[int]] = defaultdict(list)
        archiving = self.archive_events and bool(self.archives) and replay_name is None
        journal = self.journal if replay_name is None else None  # a replay is not a new acceptance
        match = self.index.match
        if not archiving and journal is None and only_rules is None:  # the seeding hot path
            for i, event in enumerate(events):
                for rule in match(event):
                    matched[rule].append(i)
            return matched, archived
        for i, event in enumerate(events):
            rules = match(event)
            if only_rules is not None:
                rules = [r for r in rules if r in only_rules]
            for rule in rules:
                matched[rule].append(i)
            archives = self._archives_for(event, skip) if archiving else ()
            for name in archives:
                archived[name].append(i)
            if journal is not None:
                journal.expect(
                    event["id"],
                    itertools.chain(
                        ((r, t.id) for r in rules for t in self.rules[r].targets),
                        ((archive_delivery(a), ARCHIVE_TARGET) for a in archives),
                    ),
                )
        return matched, archived

    def _archives_for(self, event: dict, skip: set[tuple[str, str, str]] | None) -> list[str]:
        names = self.archives.matching(event)
        if skip:
            names = [n for n in names if (event["id"], archive_delivery(n), ARCHIVE_TARGET) not in skip]
        return names

    def recover(self, entries: Sequence[JournaledEvent], now: datetime | None = None) -> int:
        """Deliver what a crash interrupted (at ``now``): each journaled event's missing deliveries.

        A lake delivery may have written its file and died before marking it done: events
        already in the lake count as delivered there, so the lake holds each id once.
        """
        if not entries:
            return 0
        in_lake = ids_in_lake(self.lake, [e.event for e in entries])
        lake_targets = [
            (r.name, t.id) for r in self.rules.values() for t in r.targets if t.kind == TargetKind.LAKE
        ]
        skip = {(e.event["id"], rule, target) for e in entries for rule, target in e.done}
        skip |= {(event_id, rule, target) for event_id in in_lake for rule, target in lake_targets}
        for rule, target in lake_targets:
            self._done([{"id": event_id} for event_id in in_lake], rule, target)
        by_ingest: dict[float, list[dict]] = defaultdict(list)
        for entry in entries:
            by_ingest[entry.ingested].append(entry.event)
        for ingested, events in sorted(by_ingest.items()):
            self.publish(events, ingested_at=datetime.fromtimestamp(ingested, UTC), skip=skip, now=now)
        return len(entries)

    def _archive(self, name: str, events: list[dict], at: float | None) -> None:
        """Append to an archive; on a journaled bus a full disk retries it (each event) later."""
        try:
            self.archives.append(name, events)
        except OSError as exc:
            if at is None or not is_disk_full(exc) or self.journal is None:
                raise
            for event in events:
                waiting = PendingDelivery(at, archive_delivery(name), ARCHIVE_TARGET, event, at)
                self._retry_disk_full(waiting, f"archive {name}")
            return
        self._done(events, archive_delivery(name), ARCHIVE_TARGET)

    def _done(self, events: Sequence[dict], rule: str, target: str) -> None:
        if self.journal is not None:
            # A replayed event keeps the id of the accepted one: its deliveries are not that one's.
            self.journal.done((e["id"] for e in events if "replay-name" not in e), rule, target)

    def _start_delivery(
        self,
        rule: str,
        target: Target,
        events: list[dict],
        ats: list[float],
        replay_name: str | None,
        run_at: float | None,
        periods: Periods,
    ) -> None:
        """First attempts, one batch to the target (an HTTP target invokes its consumer once
        per event). What fails is retried (or dead-lettered) through the pending heap."""
        starts = ats if run_at is None else [run_at] * len(ats)
        outcomes = self._delivered(rule, target.id, events, ats, starts, replay_name)
        if all(outcome.ok for outcome in outcomes):  # the usual case, and the seeding hot path
            self._count_first_attempts(rule, ats, periods, ats, run_at)
            self._done(events, rule, target.id)
            return
        delivered, delivered_at = [], []
        for event, at, start, outcome in zip(events, ats, starts, outcomes, strict=True):
            if outcome.ok:
                delivered.append(event)
                delivered_at.append(at)
                continue
            if outcome.error_code == "THROTTLING":
                self.metrics.add(EventsMetric.THROTTLED_RULES, start, rule=rule)
            self._retry_or_dead_letter(PendingDelivery(start, rule, target.id, event, at), target, outcome)
        self._count_first_attempts(rule, ats, periods, delivered_at, run_at)
        self._done(delivered, rule, target.id)

    def _delivered(
        self,
        rule: str,
        target_id: str,
        events: list[dict],
        ats: list[float],
        starts: list[float],
        replay_name: str | None,
    ) -> list[Outcome]:
        """The target's outcome for each event. A target that fails in a way it does not
        answer for (an event the lake's writer cannot store, a URL or log name it cannot
        use) fails that event alone, as an error the retry policy and the dead-letter queue
        take: one bad event or target never stops the batch, the other rules or a restart."""
        sink = self.targets[(rule, target_id)]
        # Any failure of one target is that delivery's; the lake's writer is all or nothing,
        # so trying a batch's events again one at a time writes none of them twice.
        try:
            return sink.deliver(self._payloads(rule, target_id, events, ats), starts, replay_name=replay_name)
        except Exception as error:
            if len(events) == 1:
                log.warning(
                    "rule %s target %s could not take event %s: %r",
                    rule,
                    target_id,
                    events[0].get("id"),
                    error,
                )
                return [
                    Outcome(
                        False,
                        False,
                        "INTERNAL_ERROR",
                        f"The target could not take the event: {type(error).__name__}.",
                    )
                ]
        # One at a time: only the events that fail by themselves fail.
        return [
            self._delivered(rule, target_id, [event], [at], [start], replay_name)[0]
            for event, at, start in zip(events, ats, starts, strict=True)
        ]

    def _count_first_attempts(
        self, rule: str, ats: list[float], periods: Periods, delivered_at: list[float], run_at: float | None
    ) -> None:
        """InvocationAttempts, and for those delivered Invocations and SuccessfulInvocationAttempts;
        with their latencies from ingestion (0 in virtual time: delivered at ingestion)."""
        metrics = self.metrics
        start, success = (
            EventsMetric.INGESTION_TO_INVOCATION_START_LATENCY,
            EventsMetric.INGESTION_TO_INVOCATION_SUCCESS_LATENCY,
        )
        virtual = run_at is None
        metrics.add_period_counts(
            (EventsMetric.INVOCATION_ATTEMPTS,), rule, periods, (start,) if virtual else ()
        )
        if delivered_at:
            done = periods if len(delivered_at) == len(ats) else self._periods(delivered_at, run_at)
            metrics.add_period_counts(
                (EventsMetric.INVOCATIONS, EventsMetric.SUCCESSFUL_INVOCATION_ATTEMPTS),
                rule,
                done,
                (success,) if virtual else (),
            )
        if run_at is not None:
            metrics.add_latencies(start, run_at, [(run_at - at) * 1000.0 for at in ats], rule)
            if delivered_at:
                metrics.add_latencies(success, run_at, [(run_at - at) * 1000.0 for at in delivered_at], rule)

    def _payload(self, rule: str, target_id: str, event: dict, at: float) -> Any:
        transform = self.inputs.get((rule, target_id))
        if transform is None:
            return event
        return transform.apply(event, rule_name=rule, rule_arn=self.rule_arn(rule), ingested=at)

    def _payloads(self, rule: str, target_id: str, events: list[dict], ats: list[float]) -> list:
        """What the target receives: the events, or their Input/InputPath/InputTransformer text."""
        if (rule, target_id) not in self.inputs:
            return events
        return [self._payload(rule, target_id, e, at) for e, at in zip(events, ats, strict=True)]

    def _schedule(self, delivery: PendingDelivery) -> None:
        heapq.heappush(self.pending, (delivery.due, next(self._seq), delivery))

    def run_due(self, now: float | None) -> int:
        """Attempt every retry due by ``now`` (None: all of them, each at its due time)."""
        done = 0
        pending = self.pending
        while pending and (now is None or pending[0][0] <= now):
            delivery = heapq.heappop(pending)[2]
            if now is not None:
                delivery.due = max(delivery.due, now)  # it starts now, not when it fell due
            self._attempt(delivery)
            done += 1
        return done

    def _attempt(self, delivery: PendingDelivery) -> None:
        """A retry (attempt >= 1) of one event to one target."""
        if delivery.rule.startswith("archive:"):  # an archive append the disk refused (no rule has a colon)
            self._archive(delivery.rule.removeprefix("archive:"), [delivery.event], delivery.due)
            return
        rule = self.rules.get(delivery.rule)
        target = next((t for t in rule.targets if t.id == delivery.target_id), None) if rule else None
        if target is None:  # the rule or target was removed while the delivery waited
            self._done([delivery.event], delivery.rule, delivery.target_id)
            return
        if delivery.dead_letter is not None:  # the delivery failed; its dead-letter send is due
            outcome, exhausted, retry_attempts = delivery.dead_letter
            self._dead_letter(delivery, target, outcome, exhausted, delivery.due, retry_attempts)
            return
        at = delivery.due
        [outcome] = self._delivered(
            delivery.rule,
            target.id,
            [delivery.event],
            [delivery.ingested],
            [at],
            delivery.event.get("replay-name"),
        )
        self.metrics.add(EventsMetric.INVOCATION_ATTEMPTS, at, rule=delivery.rule)
        self.metrics.add(EventsMetric.RETRY_INVOCATION_ATTEMPTS, at, rule=delivery.rule)
        if outcome.error_code == "THROTTLING":
            # The target throttled this rule's invocation (HTTP 429): CloudWatch's ThrottledRules.
            self.metrics.add(EventsMetric.THROTTLED_RULES, at, rule=delivery.rule)
        if outcome.ok:
            self.metrics.add(EventsMetric.SUCCESSFUL_INVOCATION_ATTEMPTS, at, rule=delivery.rule)
            self.metrics.add(EventsMetric.INVOCATIONS, at, rule=delivery.rule)
            latency_ms = (at - delivery.ingested) * 1000.0
            self.metrics.add(
                EventsMetric.INGESTION_TO_INVOCATION_SUCCESS_LATENCY, at, latency_ms, rule=delivery.rule
            )
            self._done([delivery.event], delivery.rule, target.id)
            return
        self._retry_or_dead_letter(delivery, target, outcome)

    def count_disk_full(self, at: float, rule: str, what: str, events: int = 1) -> None:
        """Event writes the disk refused: the metric, and a log line at most once a minute."""
        self.metrics.add(DISK_FULL_ERRORS, at, events, rule=rule)
        self._disk_full_since_log += events
        if time.monotonic() - self._disk_full_logged_at >= DISK_FULL_LOG_EVERY_S:
            log.warning(
                "disk full: %d event writes refused (latest: %s); acknowledged events are kept and "
                "retried until space returns, refused PutEvents entries were not acknowledged",
                self._disk_full_since_log,
                what,
            )
            self._disk_full_since_log, self._disk_full_logged_at = 0, time.monotonic()

    def _retry_disk_full(self, delivery: PendingDelivery, what: str) -> bool:
        """Schedule again a write the disk refused, on a journaled bus (its events were
        acknowledged: they wait for space, whatever the retry policy). False: not such a bus."""
        if self.journal is None:
            return False
        self.count_disk_full(delivery.due, delivery.rule, what)
        attempt = delivery.attempt + 1
        delay = self.rng.uniform(0.5, 1.0) * min(DISK_FULL_MAX_BACKOFF_S, 2.0 ** min(attempt - 1, 16))
        self._schedule(
            PendingDelivery(
                delivery.due + delay,
                delivery.rule,
                delivery.target_id,
                delivery.event,
                delivery.ingested,
                attempt,
                delivery.dead_letter,
            )
        )
        return True

    def _retry_or_dead_letter(self, delivery: PendingDelivery, target: Target, outcome: Outcome) -> None:
        if outcome.disk_full and self._retry_disk_full(delivery, f"{delivery.rule}/{target.id}"):
            return
        policy = target.retry
        next_due = delivery.due + backoff_s(delivery.attempt + 1, self.rng)
        if (
            outcome.retryable
            and delivery.attempt < policy.maximum_retry_attempts
            and next_due - delivery.ingested <= policy.maximum_event_age_s
        ):
            self._schedule(
                PendingDelivery(
                    next_due,
                    delivery.rule,
                    target.id,
                    delivery.event,
                    delivery.ingested,
                    delivery.attempt + 1,
                )
            )
            return
        at = delivery.due
        self.metrics.add(EventsMetric.INVOCATIONS, at, rule=delivery.rule)
        self.metrics.add(EventsMetric.FAILED_INVOCATIONS, at, rule=delivery.rule)
        exhausted = (
            ""
            if not outcome.retryable
            else (
                "MaximumRetryAttempts"
                if delivery.attempt >= policy.maximum_retry_attempts
                else "MaximumEventAgeInSeconds"
            )
        )
        self._dead_letter(delivery, target, outcome, exhausted, at)

    def _dead_letter(
        self,
        delivery: PendingDelivery,
        target: Target,
        outcome: Outcome,
        exhausted: str,
        at: float,
        retry_attempts: int | None = None,
    ) -> None:
        queue = self.dlqs.get(target.dead_letter_queue or "")
        if queue is None:
            self._done([delivery.event], delivery.rule, target.id)
            return  # EventBridge drops the event when the target has no DLQ
        attributes = {
            "ERROR_CODE": outcome.error_code,
            "ERROR_MESSAGE": outcome.error_message,
            "RETRY_ATTEMPTS": str(delivery.attempt if retry_attempts is None else retry_attempts),
            "RULE_ARN": self.rule_arn(delivery.rule),
            "TARGET_ARN": self.target_arn(target),
        }
        if exhausted:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        try:
            queue.send(delivery.event, attributes, datetime.fromtimestamp(at, UTC))
            self.metrics.add(EventsMetric.INVOCATIONS_SENT_TO_DLQ, at, rule=delivery.rule)
        except OSError as exc:
            if is_disk_full(exc):  # sent later, once space returns (counted as lost only if lost)
                attempts = delivery.attempt if retry_attempts is None else retry_attempts
                waiting = PendingDelivery(
                    at,
                    delivery.rule,
                    target.id,
                    delivery.event,
                    delivery.ingested,
                    delivery.attempt if delivery.dead_letter else 0,
                    (outcome, exhausted, attempts),
                )
                if self._retry_disk_full(waiting, f"dead-letter queue {queue.name}"):
                    return
            self.metrics.add(EventsMetric.INVOCATIONS_FAILED_TO_BE_SENT_TO_DLQ, at, rule=delivery.rule)
        self._done([delivery.event], delivery.rule, target.id)

    def flush(self) -> None:
        self.metrics.flush()

    # -- dead-letter redrive -----------------------------------------------------------
    def redrive(self, queue: str, message_ids: Iterable[str], now: datetime | None = None) -> RedriveResult:
        """Deliver the chosen dead letters' events again, once each, to the rule target that
        dead-lettered them (RULE_ARN, TARGET_ARN); delete only those delivered. A failure
        leaves the message where it is, with the reason in the result."""
        dlq = self.dlqs.get(queue) or self._dlq(queue)
        if queue not in self.dlqs and not dlq.path.exists():
            raise ValueError(f"unknown dead-letter queue {queue!r}; the bus has {', '.join(self.dlqs)}")
        wanted = set(message_ids)
        letters = [letter for letter in dlq.peek() if letter.message_id in wanted]
        result = RedriveResult(missing=sorted(wanted - {letter.message_id for letter in letters}))
        at = (now or clock.now()).timestamp()
        for letter in letters:
            problem = self._redeliver(letter, at)
            if problem:
                result.failed[letter.message_id] = problem
            else:
                result.sent.append(letter.message_id)
        dlq.delete(set(result.sent))
        return result

    def _redeliver(self, letter: DeadLetter, at: float) -> str:
        """Deliver one dead letter's event; '' when delivered, else why not."""
        try:
            event = letter.event
        except ValueError:
            return "the message body is not an EventBridge event"
        rule_name = letter.attributes.get("RULE_ARN", "").rsplit("/", 1)[-1]
        rule = self.rules.get(rule_name)
        target_arn = letter.attributes.get("TARGET_ARN", "")
        target = next((t for t in rule.targets if self.target_arn(t) == target_arn), None) if rule else None
        if target is None:
            return f"rule {rule_name!r} has no target {target_arn} any more"
        outcome = self._deliver_once(rule_name, target, event, at)
        return "" if outcome.ok else f"{outcome.error_code}: {outcome.error_message}"

    def _deliver_once(self, rule: str, target: Target, event: dict, at: float) -> Outcome:
        sink = self.targets[(rule, target.id)]
        if target.kind == TargetKind.LAKE and ids_in_lake(self.lake, [event]):
            return DELIVERED  # it reached the lake after all: the lake keeps each event once
        payload = self._payload(rule, target.id, event, at)
        [outcome] = sink.deliver([payload], [at])
        self.metrics.add(EventsMetric.INVOCATION_ATTEMPTS, at, rule=rule)
        self.metrics.add(EventsMetric.INVOCATIONS, at, rule=rule)
        self.metrics.add(
            EventsMetric.SUCCESSFUL_INVOCATION_ATTEMPTS if outcome.ok else EventsMetric.FAILED_INVOCATIONS,
            at,
            rule=rule,
        )
        return outcome

    # -- replays -----------------------------------------------------------------------
    def start_replay(self, replay: Replay) -> Replay:
        """Record a replay in state STARTING; :meth:`run_replay` then sends its events."""
        if replay.archive not in self.archives.archives:
            raise ResourceNotFoundException(f"Archive {replay.archive} does not exist.")
        for rule in replay.rules or ():
            if rule not in self.rules:
                raise ResourceNotFoundException(f"Rule {rule} does not exist on EventBus {self.name}.")
        if len(self.replays.active()) >= MAX_ACTIVE_REPLAYS:
            raise LimitExceededException(
                "The requested resource exceeds the maximum number allowed: "
                f"{MAX_ACTIVE_REPLAYS} active replays."
            )
        replay.state, replay.started = "STARTING", time.time()
        self.replays.add(replay)
        return replay

    def cancel_replay(self, name: str) -> Replay:
        """Ask a replay to stop after its current batch (EventBridge's CANCELLING)."""
        replay = self.replays.replays[name]
        replay.state = "CANCELLING"
        self.replays.save()
        return replay

    def run_replay(
        self,
        name: str,
        turn: Callable[[], AbstractContextManager] = nullcontext,
        save_every_s: float = 1.0,
        starting_s: float = 0.0,
    ) -> Replay:
        """Send a replay's archived events back through the rules, a batch of whole minutes
        at a time, each batch inside ``turn()`` (the server's lock); stops early when the
        replay is set CANCELLING. It stays STARTING for ``starting_s`` first (EventBridge's
        replays take a while to start), so that STARTING can be seen and cancelled."""
        replay = self.replays.replays[name]
        deadline = time.monotonic() + starting_s
        while replay.state == "STARTING" and time.monotonic() < deadline:
            time.sleep(min(0.05, starting_s))
        if replay.state == "STARTING":  # not if a CancelReplay came first
            replay.state = "RUNNING"
        self.replays.save()
        only = set(replay.rules) if replay.rules is not None else None
        saved = time.monotonic()
        try:
            self.archives.expire(time.time())
            for last, batch in replay_batches(
                self.archives.events(replay.archive, replay.start, replay.end), name
            ):
                if replay.state == "CANCELLING":
                    break
                with turn():
                    self.publish(batch, replay_name=name, only_rules=only)
                replay.replayed += len(batch)
                replay.last_replayed = last
                if time.monotonic() - saved >= save_every_s:
                    self.replays.save()
                    saved = time.monotonic()
            if replay.state == "CANCELLING":
                time.sleep(starting_s)  # cancelling takes a while too: CANCELLING can be seen
            replay.state = "CANCELLED" if replay.state == "CANCELLING" else "COMPLETED"
        except Exception as exc:
            replay.state, replay.reason = "FAILED", f"{type(exc).__name__}: {exc}"
        replay.ended = time.time()
        self.replays.save()
        return replay
