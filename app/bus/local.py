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
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.bus.definition import BusDefinition, Rule, Target
from app.bus.dlq import LocalDeadLetterQueue
from app.bus.patterns import PatternIndex, compile_pattern
from app.bus.targets import HttpTarget, LakeTarget, LogTarget, Outcome, QueueTarget, Transport, http_transport
from app.events import (
    DEFAULT_MAX_ENTRY_BYTES, EntryError, check_entry_count, entry_size, make_envelope, validate_entry,
)
from app.lake.writer import LakeWriter
from app.metrics.local import MetricsRecorder

MAX_BACKOFF_S = 300.0


def backoff_s(attempt: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter: up to 1 s, 2 s, 4 s … capped at 5 minutes."""
    return rng.uniform(0.5, 1.0) * min(MAX_BACKOFF_S, 2.0 ** (attempt - 1))


@dataclass(order=True)
class PendingDelivery:
    due: float  # epoch seconds
    seq: int
    rule: str = field(compare=False)
    target_id: str = field(compare=False)
    event: dict = field(compare=False)
    ingested: float = field(compare=False)
    attempt: int = field(compare=False, default=0)


class _EpochCache:
    """Envelope time text → epoch seconds, parsed once per distinct minute."""

    def __init__(self) -> None:
        self._minutes: dict[str, float] = {}

    def __call__(self, text: str) -> float:
        minute = text[:16]
        base = self._minutes.get(minute)
        if base is None:
            base = datetime.strptime(minute, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC).timestamp()
            self._minutes[minute] = base
        return base + int(text[17:19])


class LocalBus:
    def __init__(
        self, definition: BusDefinition, lake: Path, *, state_dir: Path | None = None,
        transport: Transport | None = None, account: str = "123456789012", region: str = "us-east-1",
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES, metrics_now: datetime | None = None, seed: int = 0,
    ):
        self.definition = definition
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
        self.targets: dict[tuple[str, str], Any] = {}
        self.dlqs = {q: LocalDeadLetterQueue(self.state_dir / "dlq" / f"{q}.jsonl")
                     for q in definition.dead_letter_queues}
        self.pending: list[PendingDelivery] = []
        self._seq = itertools.count()
        self._epoch = _EpochCache()
        for rule in definition.rules:
            self.add_rule(rule)

    # -- rules -------------------------------------------------------------------------
    def add_rule(self, rule: Rule) -> None:
        self.rules[rule.name] = rule
        if rule.state == "ENABLED":
            self.index.add(rule.name, compile_pattern(rule.pattern))
        for target in rule.targets:
            self.targets[(rule.name, target.id)] = self._build_target(target)

    def _build_target(self, target: Target) -> Any:
        if target.kind == "lake":
            return LakeTarget(self.writer)
        if target.kind == "http":
            return HttpTarget(self.definition.endpoints[target.endpoint].url, self.transport)
        if target.kind == "queue":
            return QueueTarget(target.queue or target.id)
        return LogTarget(self.state_dir / "logs" / f"{target.log or target.id}.jsonl")

    def rule_arn(self, rule: str) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:rule/{self.name}/{rule}"

    def target_arn(self, target: Target) -> str:
        prefix = f"arn:aws:{{}}:{self.region}:{self.account}:"
        return {
            "lake": prefix.format("firehose") + f"deliverystream/{self.name}-lake",
            "http": prefix.format("events") + f"api-destination/{target.endpoint}",
            "queue": prefix.format("sqs") + f"{target.queue or target.id}",
            "log": prefix.format("logs") + f"log-group:/verticals/{target.log or target.id}",
        }[target.kind]

    # -- PutEvents ---------------------------------------------------------------------
    def put_events(self, entries: Sequence[Any], now: datetime | None = None) -> dict:
        """PutEvents: each entry accepted or failed on its own; raises for a bad call."""
        check_entry_count(entries)
        now = now or datetime.now(UTC)
        results, accepted = [], []
        for entry in entries:
            detail = validate_entry(entry, self.max_entry_bytes)
            if isinstance(detail, EntryError):
                results.append({"ErrorCode": detail.code, "ErrorMessage": detail.message})
                continue
            envelope = make_envelope(entry, detail, account=self.account, region=self.region, now=now)
            accepted.append(envelope)
            results.append({"EventId": envelope["id"]})
        self._count_put_events(entries, len(accepted), now)
        if accepted:
            self.publish(accepted, ingested_at=now)
        return {"FailedEntryCount": len(entries) - len(accepted), "Entries": results}

    def _count_put_events(self, entries: Sequence[Any], accepted: int, now: datetime) -> None:
        at = now.timestamp()
        failed = len(entries) - accepted
        self.metrics.add("PutEventsApproximateCallCount", at)
        self.metrics.add("PutEventsEntriesCount", at, len(entries))
        self.metrics.add("PutEventsFailedEntriesCount", at, failed)
        self.metrics.add("PutEventsApproximateSuccessCount" if not failed else "PutEventsApproximateFailedCount", at)
        size = sum(entry_size(e) for e in entries if isinstance(e, dict))
        self.metrics.add("PutEventsRequestSize", at, size)

    # -- routing -----------------------------------------------------------------------
    def publish(
        self, events: Sequence[dict], *, ingested_at: datetime | None = None,
        virtual_time: bool = False, replay_name: str | None = None, only_rules: set[str] | None = None,
    ) -> None:
        """Route envelopes to every matching rule's targets, then run what is due."""
        ingest = None if virtual_time else (ingested_at or datetime.now(UTC)).timestamp()
        matched: dict[str, list[dict]] = defaultdict(list)
        counts: Counter = Counter()
        for event in events:
            at = self._epoch(event["time"]) if ingest is None else ingest
            for rule in self.index.match(event):
                if only_rules is None or rule in only_rules:
                    matched[rule].append(event)
                    counts[(at, rule)] += 1
        self.metrics.add_counts("MatchedEvents", counts)
        self.metrics.add_counts("TriggeredRules", counts)
        for rule_name, rule_events in matched.items():
            for target in self.rules[rule_name].targets:
                self._start_delivery(rule_name, target, rule_events, ingest, replay_name)
        self.run_due(None if virtual_time else datetime.now(UTC).timestamp())

    def _start_delivery(self, rule: str, target: Target, events: list[dict], ingest: float | None,
                        replay_name: str | None) -> None:
        sink = self.targets[(rule, target.id)]
        if sink.batch:
            outcome = sink.deliver(events, replay_name=replay_name)
            self._count_batch(rule, events, ingest, outcome)
            if not outcome.ok:
                for event in events:
                    at = ingest if ingest is not None else self._epoch(event["time"])
                    self._schedule(rule, target, event, at, at, attempt=1)
            return
        for event in events:
            at = ingest if ingest is not None else self._epoch(event["time"])
            self._schedule(rule, target, event, at, at, attempt=0)

    def _count_batch(self, rule: str, events: list[dict], ingest: float | None, outcome: Outcome) -> None:
        counts = Counter((ingest if ingest is not None else self._epoch(e["time"]), rule) for e in events)
        self.metrics.add_counts("InvocationAttempts", counts)
        if outcome.ok:
            self.metrics.add_counts("Invocations", counts)
            self.metrics.add_counts("SuccessfulInvocationAttempts", counts)

    def _schedule(self, rule: str, target: Target, event: dict, due: float, ingested: float, attempt: int) -> None:
        heapq.heappush(self.pending, PendingDelivery(due, next(self._seq), rule, target.id, event, ingested, attempt))

    def run_due(self, now: float | None) -> int:
        """Attempt every delivery due by ``now`` (None: all of them, in simulated time)."""
        done = 0
        while self.pending and (now is None or self.pending[0].due <= now):
            self._attempt(heapq.heappop(self.pending))
            done += 1
        return done

    def _attempt(self, delivery: PendingDelivery) -> None:
        rule = self.rules.get(delivery.rule)
        target = next((t for t in rule.targets if t.id == delivery.target_id), None) if rule else None
        if target is None:
            return  # the rule or target was removed while the delivery waited
        sink = self.targets[(delivery.rule, target.id)]
        at = delivery.due
        moment = datetime.fromtimestamp(at, UTC)
        outcome = sink.invoke(delivery.event, moment) if not sink.batch else sink.deliver([delivery.event])
        self.metrics.add("InvocationAttempts", at, rule=delivery.rule)
        if delivery.attempt == 0:
            self.metrics.add("IngestionToInvocationStartLatency", at, (at - delivery.ingested) * 1000.0,
                             rule=delivery.rule)
        else:
            self.metrics.add("RetryInvocationAttempts", at, rule=delivery.rule)
        if outcome.ok:
            self.metrics.add("SuccessfulInvocationAttempts", at, rule=delivery.rule)
            self.metrics.add("Invocations", at, rule=delivery.rule)
            latency_ms = (at - delivery.ingested) * 1000.0
            self.metrics.add("IngestionToInvocationSuccessLatency", at, latency_ms, rule=delivery.rule)
            return
        self._retry_or_dead_letter(delivery, target, outcome)

    def _retry_or_dead_letter(self, delivery: PendingDelivery, target: Target, outcome: Outcome) -> None:
        policy = target.retry
        next_due = delivery.due + backoff_s(delivery.attempt + 1, self.rng)
        if outcome.retryable and delivery.attempt < policy.maximum_retry_attempts \
                and next_due - delivery.ingested <= policy.maximum_event_age_s:
            self._schedule(delivery.rule, target, delivery.event, next_due, delivery.ingested, delivery.attempt + 1)
            return
        at = delivery.due
        self.metrics.add("Invocations", at, rule=delivery.rule)
        self.metrics.add("FailedInvocations", at, rule=delivery.rule)
        exhausted = "" if not outcome.retryable else (
            "MaximumRetryAttempts" if delivery.attempt >= policy.maximum_retry_attempts
            else "MaximumEventAgeInSeconds")
        self._dead_letter(delivery, target, outcome, exhausted, at)

    def _dead_letter(self, delivery: PendingDelivery, target: Target, outcome: Outcome,
                     exhausted: str, at: float) -> None:
        queue = self.dlqs.get(target.dead_letter_queue or "")
        if queue is None:
            return  # EventBridge drops the event when the target has no DLQ
        attributes = {
            "ERROR_CODE": outcome.error_code, "ERROR_MESSAGE": outcome.error_message,
            "RETRY_ATTEMPTS": str(delivery.attempt), "RULE_ARN": self.rule_arn(delivery.rule),
            "TARGET_ARN": self.target_arn(target),
        }
        if exhausted:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        try:
            queue.send(delivery.event, attributes, datetime.fromtimestamp(at, UTC))
            self.metrics.add("InvocationsSentToDlq", at, rule=delivery.rule)
        except OSError:
            self.metrics.add("InvocationsFailedToBeSentToDlq", at, rule=delivery.rule)

    def flush(self) -> None:
        self.metrics.flush()

