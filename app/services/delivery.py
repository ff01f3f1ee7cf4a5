"""Delivery health: how well each rule delivered, from the bus metrics, and what sits in
the dead-letter queues (browse, and redrive after a confirmation).

Metric names and meanings are CloudWatch's
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html):
``MatchedEvents`` events the rule matched, ``TriggeredRules`` times it ran,
``Invocations`` target invocations, ``FailedInvocations`` invocations that failed for good
(after retries), ``InvocationAttempts`` every try (``SuccessfulInvocationAttempts`` the
good ones, ``RetryInvocationAttempts`` the retries), ``ThrottledRules`` runs throttled,
``InvocationsSentToDlq`` / ``InvocationsFailedToBeSentToDlq`` dead-lettered or lost.
EventBridge reports them per rule, not per target: a rule's targets are listed beside
its figures, and a dead letter names its target (``TARGET_ARN``).

The account-wide ``PutEvents*`` metrics have no rule (on AWS no dimension at all).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from app.bus.definition import BusDefinition, Target, load_definition
from app.dead_letters import DeadLetter
from app.metrics.names import EventsMetric
from app.services.common import BUCKET_LENGTH, to_local_time, weekly, whole_buckets
from app.services.context import Context
from app.services.timerange import CUSTOM, TimeRange, period_seconds

# Rule-level count metrics, and the column each one becomes in the rules table.
COUNT_COLUMNS = {
    EventsMetric.MATCHED_EVENTS: "matched",
    EventsMetric.TRIGGERED_RULES: "triggered",
    EventsMetric.INVOCATIONS: "invocations",
    EventsMetric.FAILED_INVOCATIONS: "failed",
    EventsMetric.INVOCATION_ATTEMPTS: "attempts",
    EventsMetric.SUCCESSFUL_INVOCATION_ATTEMPTS: "successful_attempts",
    EventsMetric.RETRY_INVOCATION_ATTEMPTS: "retries",
    EventsMetric.THROTTLED_RULES: "throttled",
    EventsMetric.INVOCATIONS_SENT_TO_DLQ: "sent_to_dlq",
    EventsMetric.INVOCATIONS_FAILED_TO_BE_SENT_TO_DLQ: "failed_to_dlq",
}
COUNTS = tuple(COUNT_COLUMNS)
LATENCIES = (
    EventsMetric.INGESTION_TO_INVOCATION_START_LATENCY,
    EventsMetric.INGESTION_TO_INVOCATION_SUCCESS_LATENCY,
)
LATENCY_LABELS = {
    EventsMetric.INGESTION_TO_INVOCATION_START_LATENCY: "Ingestion to invocation start",
    EventsMetric.INGESTION_TO_INVOCATION_SUCCESS_LATENCY: "Ingestion to invocation success",
}
PERCENTILES = (50, 90, 99)
PUT_EVENTS_COUNTS = (
    EventsMetric.PUT_EVENTS_APPROXIMATE_CALL_COUNT,
    EventsMetric.PUT_EVENTS_APPROXIMATE_SUCCESS_COUNT,
    EventsMetric.PUT_EVENTS_APPROXIMATE_FAILED_COUNT,
    EventsMetric.PUT_EVENTS_APPROXIMATE_THROTTLED_COUNT,
    EventsMetric.PUT_EVENTS_ENTRIES_COUNT,
    EventsMetric.PUT_EVENTS_FAILED_ENTRIES_COUNT,
    EventsMetric.PUT_EVENTS_REQUEST_SIZE,
)
PUT_EVENTS = (*PUT_EVENTS_COUNTS, EventsMetric.PUT_EVENTS_LATENCY)
# What the page charts per rule, in this order (ThrottledRules only when there is any).
CHART_METRICS = (
    EventsMetric.MATCHED_EVENTS,
    EventsMetric.INVOCATIONS,
    EventsMetric.FAILED_INVOCATIONS,
    EventsMetric.RETRY_INVOCATION_ATTEMPTS,
    EventsMetric.INVOCATIONS_SENT_TO_DLQ,
    EventsMetric.INGESTION_TO_INVOCATION_START_LATENCY,
)
RECENT_METRICS = (
    EventsMetric.INVOCATIONS,
    EventsMetric.RETRY_INVOCATION_ATTEMPTS,
    EventsMetric.FAILED_INVOCATIONS,
)
DLQ_ATTRIBUTES = (
    "ERROR_CODE",
    "ERROR_MESSAGE",
    "EXHAUSTED_RETRY_CONDITION",
    "RETRY_ATTEMPTS",
    "RULE_ARN",
    "TARGET_ARN",
)
HEALTH_COLUMNS = [
    "rule",
    "targets",
    "matched",
    "triggered",
    "invocations",
    "failed",
    "failure_rate",
    "attempts",
    "successful_attempts",
    "retries",
    "throttled",
    "sent_to_dlq",
    "failed_to_dlq",
    "latency_ms",
]
LATENCY_COLUMNS = ["rule", "latency", "samples", "mean_ms", "p50", "p90", "p99"]


@dataclass(frozen=True)
class PutEventsFigures:
    """The account's PutEvents calls over the range (sums; latency and size are means)."""

    calls: float = 0.0
    succeeded: float = 0.0
    failed: float = 0.0
    throttled: float = 0.0
    entries: float = 0.0
    failed_entries: float = 0.0
    mean_request_bytes: float | None = None
    mean_latency_ms: float | None = None
    trend: tuple[float, ...] = ()  # entries per period, for a sparkline

    @property
    def any(self) -> bool:
        return bool(self.calls or self.entries)


@dataclass(frozen=True)
class DeliveryMetrics:
    series: pd.DataFrame  # timestamp (local), rule, metric, value (per rule; whole periods only)
    rules: pd.DataFrame  # HEALTH_COLUMNS, worst rule first
    latency: pd.DataFrame  # LATENCY_COLUMNS, slowest first; p50/p90/p99 NaN where the source has none
    put_events: PutEventsFigures
    queue_depth: dict[str, int]  # messages waiting in each dead-letter queue
    # Per lake table its Firehose stream's figures (app.metrics.firehose.STREAM_COLUMNS);
    # None where the lake has no Firehose (the local bus writes Parquet itself).
    lake_streams: pd.DataFrame | None = None

    @property
    def is_empty(self) -> bool:
        return (
            self.rules["matched"].sum() == 0
            and not any(self.queue_depth.values())
            and not self.put_events.any
            and not self.lake_failures
        )

    @property
    def lake_failures(self) -> bool:
        """Whether a lake stream failed a conversion or a delivery to S3 in the range."""
        streams = self.lake_streams
        if streams is None or streams.empty:
            return False
        return bool((streams["failed_conversion"] > 0).any() or streams["delivery_failed"].any())

    @property
    def has_latency(self) -> bool:
        """Whether any delivery took time (seeded history is delivered at ingestion: 0 ms)."""
        return bool((self.latency["mean_ms"] > 0).any()) if not self.latency.empty else False

    @property
    def has_percentiles(self) -> bool:
        return bool(self.latency["p50"].notna().any()) if not self.latency.empty else False

    @property
    def waiting(self) -> int:
        return sum(self.queue_depth.values())


# --- metrics -----------------------------------------------------------------------------


def rule_metrics(ctx: Context, rng: TimeRange) -> pd.DataFrame:
    """The rule-level metrics over ``rng`` (rows with a RuleName dimension only)."""
    frame = ctx.metrics.get(
        list(COUNTS + LATENCIES), rng.start, rng.end, period_seconds(rng), bus=ctx.settings.bus_name
    )
    return frame[frame["rule"] != ""].reset_index(drop=True)


def _weighted_latency(latency: pd.DataFrame) -> pd.Series:
    """Mean latency per rule: period averages weighted by their sample counts."""
    if latency.empty:
        return pd.Series(dtype=float)
    weighted = latency.assign(total=latency["value"] * latency["samples"])
    sums = weighted.groupby("rule")[["total", "samples"]].sum()
    return sums["total"] / sums["samples"].replace(0, np.nan)


def rule_health(
    metrics: pd.DataFrame, rules: tuple[str, ...] = (), targets: dict[str, str] | None = None
) -> pd.DataFrame:
    """One row per rule with its totals; the highest failure rate first, then most failures."""
    counts = metrics[metrics["metric"].isin(COUNTS)].pivot_table(
        index="rule", columns="metric", values="value", aggfunc="sum"
    )
    counts = counts.reindex(columns=list(COUNTS), fill_value=0.0)
    counts = counts.reindex(sorted(set(metrics["rule"]) | set(rules)), fill_value=0.0).fillna(0.0)
    table = counts.rename(columns=COUNT_COLUMNS).rename_axis(columns=None).rename_axis("rule").reset_index()
    table["targets"] = [(targets or {}).get(rule, "") for rule in table["rule"]]
    table["failure_rate"] = table["failed"] / table["invocations"].replace(0, np.nan)
    start_latency = metrics[metrics["metric"] == EventsMetric.INGESTION_TO_INVOCATION_START_LATENCY]
    table["latency_ms"] = table["rule"].map(_weighted_latency(start_latency))
    table = table.sort_values(
        ["failure_rate", "failed", "sent_to_dlq", "rule"],
        ascending=[False, False, False, True],
        na_position="last",
    )
    return table[HEALTH_COLUMNS].reset_index(drop=True)


def latency_table(metrics: pd.DataFrame, percentiles: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per rule and latency metric: samples, mean and (where the source gives them) p50,
    p90, p99 in ms; the slowest (p99, then mean) first. Rules without samples are left out."""
    latency = metrics[metrics["metric"].isin(LATENCIES) & (metrics["samples"] > 0)]
    if latency.empty:
        return pd.DataFrame(columns=LATENCY_COLUMNS)
    weighted = latency.assign(total=latency["value"] * latency["samples"])
    table = weighted.groupby(["rule", "metric"], as_index=False)[["total", "samples"]].sum()
    table["mean_ms"] = table["total"] / table["samples"]
    wanted = ["rule", "metric", "p50", "p90", "p99"]
    if percentiles is not None and not percentiles.empty:
        table = table.merge(percentiles[wanted], on=["rule", "metric"], how="left")
    else:
        table = table.assign(p50=np.nan, p90=np.nan, p99=np.nan)
    table["latency"] = table["metric"].map(LATENCY_LABELS)
    # p99 as shown (0.1 ms), so that estimates equal on the page do not order by float noise
    table["slowest"] = table["p99"].round(1).fillna(table["mean_ms"])
    table = table.sort_values(["slowest", "mean_ms", "rule", "latency"], ascending=[False, False, True, True])
    return table[LATENCY_COLUMNS].astype({"p50": float, "p90": float, "p99": float}).reset_index(drop=True)


def latency_percentiles(ctx: Context, rng: TimeRange) -> pd.DataFrame | None:
    """p50/p90/p99 per rule over the range, when the metrics source can give them (the
    local store from its histograms, CloudWatch from GetMetricData's pNN statistics),
    else None."""
    reader = getattr(ctx.metrics, "latency_percentiles", None)
    if reader is None:
        return None
    frame = reader(list(LATENCIES), rng.start, rng.end, percentiles=PERCENTILES, bus=ctx.settings.bus_name)
    return frame[frame["rule"] != ""] if not frame.empty else frame


def chart_series(metrics: pd.DataFrame, rng: TimeRange, timezone: str) -> pd.DataFrame:
    """timestamp (local), rule, metric, value per bucket of the range (hour, day or week,
    as Event rates draws it; the live view has its own per-minute chart), whole buckets
    only. Counts are summed; latencies are means weighted by their samples."""
    frame = metrics.loc[
        metrics["metric"].isin(CHART_METRICS), ["timestamp", "rule", "metric", "value", "samples"]
    ]
    frame = frame.assign(weighted=frame["value"].fillna(0) * frame["samples"])
    sums = {"value": "sum", "samples": "sum", "weighted": "sum"}
    if rng.bucket == "week":
        frame = weekly(frame, "timestamp", ["rule", "metric"], sums)
    else:
        frame = frame.assign(timestamp=frame["timestamp"].dt.floor(BUCKET_LENGTH[rng.bucket]))
        frame = frame.groupby(["timestamp", "rule", "metric"], as_index=False)[list(sums)].sum()
    latency = frame["metric"].isin(LATENCIES)
    frame.loc[latency, "value"] = frame.loc[latency, "weighted"] / frame.loc[latency, "samples"].replace(
        0, np.nan
    )
    frame = whole_buckets(frame, "timestamp", BUCKET_LENGTH[rng.bucket], rng)
    frame = frame.assign(timestamp=to_local_time(frame["timestamp"], timezone))
    columns = ["timestamp", "rule", "metric", "value"]
    return frame[columns].sort_values(["rule", "metric", "timestamp"]).reset_index(drop=True)


def account_rows(frame: pd.DataFrame, bus: str) -> pd.DataFrame:
    """The account-wide rows: CloudWatch's have no dimension (bus ""), the local store's
    carry the bus name; never both, so nothing is counted twice."""
    unruled = frame[frame["rule"] == ""]
    no_dimension = unruled[unruled["bus"] == ""]
    return no_dimension if not no_dimension.empty else unruled[unruled["bus"] == bus]


def put_events_figures(frame: pd.DataFrame) -> PutEventsFigures:
    """Sums of the PutEvents counts, the mean request size and the mean latency."""
    if frame.empty:
        return PutEventsFigures()
    sums = frame.groupby("metric")["value"].sum()
    samples = frame.groupby("metric")["samples"].sum()
    latency = frame[frame["metric"] == EventsMetric.PUT_EVENTS_LATENCY]
    weight = latency["samples"].sum()
    calls = samples.get(EventsMetric.PUT_EVENTS_REQUEST_SIZE, 0.0)
    entries = (
        frame[frame["metric"] == EventsMetric.PUT_EVENTS_ENTRIES_COUNT].groupby("timestamp")["value"].sum()
    )
    return PutEventsFigures(
        calls=float(sums.get(EventsMetric.PUT_EVENTS_APPROXIMATE_CALL_COUNT, 0.0)),
        succeeded=float(sums.get(EventsMetric.PUT_EVENTS_APPROXIMATE_SUCCESS_COUNT, 0.0)),
        failed=float(sums.get(EventsMetric.PUT_EVENTS_APPROXIMATE_FAILED_COUNT, 0.0)),
        throttled=float(sums.get(EventsMetric.PUT_EVENTS_APPROXIMATE_THROTTLED_COUNT, 0.0)),
        entries=float(sums.get(EventsMetric.PUT_EVENTS_ENTRIES_COUNT, 0.0)),
        failed_entries=float(sums.get(EventsMetric.PUT_EVENTS_FAILED_ENTRIES_COUNT, 0.0)),
        mean_request_bytes=float(sums[EventsMetric.PUT_EVENTS_REQUEST_SIZE] / calls) if calls else None,
        mean_latency_ms=float((latency["value"] * latency["samples"]).sum() / weight) if weight else None,
        trend=tuple(float(v) for v in entries.sort_index()),
    )


def put_events(ctx: Context, rng: TimeRange) -> PutEventsFigures:
    frame = ctx.metrics.get(list(PUT_EVENTS), rng.start, rng.end, period_seconds(rng))
    return put_events_figures(account_rows(frame, ctx.settings.bus_name))


def target_label(target: Target) -> str:
    dlq = f" → {target.dead_letter_queue}" if target.dead_letter_queue else ""
    return f"{target.id} ({target.kind}{dlq})"


def rule_targets(definition: BusDefinition, rules: Iterable[str]) -> dict[str, str]:
    """Each rule's targets as one line; a deployed lake fan-out rule (``<rule>-<table>``)
    has its base rule's targets."""
    by_name = {rule.name: rule for rule in definition.rules}
    labels = {}
    for name in rules:
        base = by_name.get(name) or next((r for r in definition.rules if name.startswith(f"{r.name}-")), None)
        if base is not None:
            labels[name] = ", ".join(target_label(t) for t in base.targets)
    return labels


def queue_depth(ctx: Context) -> dict[str, int]:
    return {queue: ctx.dead_letters.depth(queue) for queue in ctx.dead_letters.queues()}


def lake_streams(ctx: Context, rng: TimeRange) -> pd.DataFrame | None:
    """The lake's Firehose streams over the range, when the metrics source has them (the
    CloudWatch one), else None."""
    reader = getattr(ctx.metrics, "firehose_health", None)
    return None if reader is None else reader(rng.start, rng.end)


def lake_failure_sentence(streams: pd.DataFrame) -> str:
    """Where to look when a stream failed: its error prefix in the lake bucket."""
    failing = streams[(streams["failed_conversion"] > 0) | streams["delivery_failed"]]
    where = ", ".join(failing["errors_at"])
    return f"Firehose wrote the records it could not convert or deliver under {where}."


def delivery_metrics(ctx: Context, rng: TimeRange) -> DeliveryMetrics:
    """Everything but the dead letters' contents: cheap enough to refresh every few seconds
    (peeking SQS receives and releases every message, so that waits for the user)."""
    metrics = rule_metrics(ctx, rng)
    names = tuple(dict.fromkeys([*ctx.rules, *metrics["rule"].unique()]))
    return DeliveryMetrics(
        chart_series(metrics, rng, ctx.settings.timezone),
        rule_health(metrics, ctx.rules, rule_targets(load_definition(), names)),
        latency_table(metrics, latency_percentiles(ctx, rng)),
        put_events(ctx, rng),
        queue_depth(ctx),
        lake_streams(ctx, rng),
    )


def recent_activity(ctx: Context, now: datetime, minutes: int = 60) -> pd.DataFrame:
    """Invocations, retries and failures per minute over the last whole ``minutes``, all
    rules together: timestamp (local), metric, value."""
    end = pd.Timestamp(now).floor("min").to_pydatetime()
    rng = TimeRange(end - timedelta(minutes=minutes), end, CUSTOM, f"last {minutes} minutes")
    frame = ctx.metrics.get(list(RECENT_METRICS), rng.start, rng.end, 60, bus=ctx.settings.bus_name)
    frame = whole_buckets(frame[frame["rule"] != ""], "timestamp", pd.Timedelta(minutes=1), rng)
    totals = frame.groupby(["timestamp", "metric"], as_index=False)["value"].sum()
    totals["timestamp"] = to_local_time(totals["timestamp"], ctx.settings.timezone)
    return totals.sort_values(["metric", "timestamp"]).reset_index(drop=True)


# --- dead letters ------------------------------------------------------------------------

LETTER_COLUMNS = [
    "queue",
    "sent_at",
    "rule",
    "target",
    "source",
    "detail_type",
    "event_id",
    "event_time",
    *DLQ_ATTRIBUTES,
    "message_id",
    "detail",
]


def _letter_row(queue: str, letter: DeadLetter) -> dict:
    try:
        event = letter.event
    except (ValueError, RecursionError):  # not JSON, or nested deeper than json's parser goes
        event = None
    if not isinstance(event, dict):
        event = {}
    rule_arn = letter.attributes.get("RULE_ARN", "")
    return {
        "queue": queue,
        "sent_at": letter.sent_at,
        "rule": rule_arn.rsplit("/", 1)[-1],
        "target": target_name(letter.attributes.get("TARGET_ARN", "")),
        "source": event.get("source", ""),
        "detail_type": event.get("detail-type", ""),
        "event_id": event.get("id", ""),
        "event_time": event.get("time", ""),
        **{name: letter.attributes.get(name, "") for name in DLQ_ATTRIBUTES},
        "message_id": letter.message_id,
        "detail": event_summary(letter.body, event),
    }


def target_name(arn: str) -> str:
    """The readable end of a target ARN: ``api-destination/crm-webhook``, ``payments-orders``."""
    resource = arn.split(":", 5)[-1] if arn.count(":") >= 5 else arn
    return resource.split("/", 1)[-1] if resource.startswith(("deliverystream/", "log-group:")) else resource


def dead_letters(ctx: Context, limit: int = 500, queues: tuple[str, ...] = ()) -> pd.DataFrame:
    """The newest ``limit`` messages of each DLQ (or of ``queues``), newest first — whenever
    they were sent, not only in the range: a dead letter waits until someone redrives it."""
    rows = [
        _letter_row(queue, letter)
        for queue in (queues or ctx.dead_letters.queues())
        for letter in ctx.dead_letters.peek(queue, limit)
    ]
    frame = pd.DataFrame(rows, columns=LETTER_COLUMNS)
    frame["sent_at"] = pd.to_datetime(frame["sent_at"], utc=True, format="ISO8601")
    frame["sent_at"] = to_local_time(frame["sent_at"], ctx.settings.timezone)
    frame["RETRY_ATTEMPTS"] = pd.to_numeric(frame["RETRY_ATTEMPTS"], errors="coerce").astype("Int64")
    return frame.sort_values("sent_at", ascending=False).reset_index(drop=True)


def dlq_summary(letters: pd.DataFrame, depth: dict[str, int]) -> pd.DataFrame:
    """Per queue and error code (what broke, how often) among the messages read, with
    how many wait in the queue in all."""
    columns = ["queue", "waiting", "ERROR_CODE", "messages", "latest"]
    if letters.empty:
        return pd.DataFrame(columns=columns)
    summary = letters.groupby(["queue", "ERROR_CODE"], as_index=False).agg(
        messages=("message_id", "count"), latest=("sent_at", "max")
    )
    summary["waiting"] = summary["queue"].map(depth).fillna(0).astype("int64")
    return (
        summary[columns]
        .sort_values(["messages", "queue", "ERROR_CODE"], ascending=[False, True, True])
        .reset_index(drop=True)
    )


def event_summary(body: str, event: dict | None = None) -> str:
    """A dead-lettered event's detail, compact, for a table cell (``event``: the body
    already parsed, when it is a JSON object)."""
    try:
        parsed = event or json.loads(body)
        return json.dumps(parsed.get("detail", {}), separators=(",", ":"))[:200]
    except (ValueError, AttributeError, RecursionError):
        return body[:200]


# --- redrive -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RedriveReport:
    queue: str
    backend: str  # "local": delivered to the target again; "aws": put back on the bus
    asked: int
    sent: tuple[str, ...]
    failed: dict[str, str]  # message id -> why; the message stays in the queue
    missing: tuple[str, ...]  # no longer in the queue (redriven or deleted meanwhile)

    @property
    def sentence(self) -> str:
        done = "delivered again" if self.backend == "local" else "put back on the bus"
        parts = [f"{len(self.sent)} of {self.asked} message{'s' if self.asked != 1 else ''} {done}"]
        if self.failed:
            reasons = pd.Series(list(self.failed.values())).value_counts()
            top = "; ".join(f"{reason} ({count})" for reason, count in reasons.head(2).items())
            parts.append(f"{len(self.failed)} failed again and stay in {self.queue}: {top}")
        if self.missing:
            parts.append(
                f"{len(self.missing)} {'was' if len(self.missing) == 1 else 'were'} no longer in the queue"
            )
        return ", ".join(parts) + "."

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing


def redrive(ctx: Context, queue: str, message_ids: Iterable[str]) -> RedriveReport:
    """Redrive the chosen messages of one queue: the local bus delivers each again to the
    target that dead-lettered it; on AWS each event goes back on the bus (PutEvents).
    Only what succeeded leaves the queue."""
    ids = list(dict.fromkeys(message_ids))
    result = ctx.dead_letters.redrive(queue, ids)
    return RedriveReport(
        queue, ctx.backend, len(ids), tuple(result.sent), dict(result.failed), tuple(result.missing)
    )


def redrive_question(letters: pd.DataFrame, queue: str) -> str:
    """What the confirmation asks: how many messages, from where, to which targets."""
    targets = letters[["rule", "target"]].drop_duplicates().sort_values(["rule", "target"])
    where = ", ".join(
        f"{r.target} (rule {r.rule})" if r.rule else r.target or "?" for r in targets.itertuples()
    )
    count = len(letters)
    return f"Redrive {count} message{'s' if count != 1 else ''} from {queue} to {where}?"
