"""Delivery health: how well each rule delivered, from the bus metrics, and what sits in
the dead-letter queues.

Metric names and meanings are CloudWatch's
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html):
``MatchedEvents`` events the rule matched, ``Invocations`` target invocations,
``FailedInvocations`` invocations that failed for good (after retries),
``RetryInvocationAttempts`` retries, ``InvocationsSentToDlq`` dead-lettered deliveries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.bus.dlq import DeadLetter
from app.services.common import to_local_time, weekly, whole_buckets
from app.services.context import Context
from app.services.timerange import TimeRange, period_seconds

COUNTS = ("MatchedEvents", "Invocations", "FailedInvocations", "RetryInvocationAttempts",
          "InvocationsSentToDlq", "ThrottledRules")
LATENCIES = ("IngestionToInvocationStartLatency", "IngestionToInvocationSuccessLatency")
# What the page charts per rule, in this order (ThrottledRules only when there is any).
CHART_METRICS = ("MatchedEvents", "Invocations", "FailedInvocations", "RetryInvocationAttempts",
                 "InvocationsSentToDlq", "IngestionToInvocationStartLatency")
DLQ_ATTRIBUTES = ("ERROR_CODE", "ERROR_MESSAGE", "EXHAUSTED_RETRY_CONDITION", "RETRY_ATTEMPTS",
                  "RULE_ARN", "TARGET_ARN")
HEALTH_COLUMNS = ["rule", "matched", "invocations", "failed", "failure_rate", "retries", "sent_to_dlq",
                  "throttled", "latency_ms"]


@dataclass(frozen=True)
class DeliveryHealth:
    series: pd.DataFrame  # timestamp, rule, metric, value (per rule; whole periods only)
    rules: pd.DataFrame  # HEALTH_COLUMNS, worst rule first
    dead_letters: pd.DataFrame  # the newest messages: queue, sent_at, rule, source, detail_type, ERROR_CODE, …
    queue_depth: dict[str, int]  # messages waiting in each dead-letter queue

    @property
    def is_empty(self) -> bool:
        return self.rules["matched"].sum() == 0 and not any(self.queue_depth.values())

    @property
    def has_latency(self) -> bool:
        """Whether the bus reported any delivery latency (seeded history has none)."""
        return bool((self.rules["latency_ms"].fillna(0) > 0).any())


def rule_metrics(ctx: Context, rng: TimeRange) -> pd.DataFrame:
    """The rule-level metrics over ``rng`` (rows with a RuleName dimension only)."""
    frame = ctx.metrics.get(list(COUNTS + LATENCIES), rng.start, rng.end, period_seconds(rng),
                            bus=ctx.settings.bus_name)
    return frame[frame["rule"] != ""].reset_index(drop=True)


def _weighted_latency(latency: pd.DataFrame) -> pd.Series:
    """Mean latency per rule: period averages weighted by their sample counts."""
    if latency.empty:
        return pd.Series(dtype=float)
    weighted = latency.assign(total=latency["value"] * latency["samples"])
    sums = weighted.groupby("rule")[["total", "samples"]].sum()
    return sums["total"] / sums["samples"].replace(0, np.nan)


def rule_health(metrics: pd.DataFrame, rules: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per rule with its totals; the highest failure rate first, then most failures."""
    counts = metrics[metrics["metric"].isin(COUNTS)].pivot_table(
        index="rule", columns="metric", values="value", aggfunc="sum")
    counts = counts.reindex(columns=list(COUNTS), fill_value=0.0)
    counts = counts.reindex(sorted(set(metrics["rule"]) | set(rules)), fill_value=0.0).fillna(0.0)
    start_latency = metrics[metrics["metric"] == "IngestionToInvocationStartLatency"]
    table = pd.DataFrame({
        "rule": counts.index,
        "matched": counts["MatchedEvents"].to_numpy(),
        "invocations": counts["Invocations"].to_numpy(),
        "failed": counts["FailedInvocations"].to_numpy(),
        "retries": counts["RetryInvocationAttempts"].to_numpy(),
        "sent_to_dlq": counts["InvocationsSentToDlq"].to_numpy(),
        "throttled": counts["ThrottledRules"].to_numpy(),
    })
    table["failure_rate"] = table["failed"] / table["invocations"].replace(0, np.nan)
    table["latency_ms"] = table["rule"].map(_weighted_latency(start_latency))
    table = table.sort_values(["failure_rate", "failed", "rule"], ascending=[False, False, True],
                              na_position="last")
    return table[HEALTH_COLUMNS].reset_index(drop=True)


def chart_series(metrics: pd.DataFrame, rng: TimeRange, timezone: str) -> pd.DataFrame:
    """timestamp (local), rule, metric, value over whole periods; weekly for long ranges."""
    frame = metrics.loc[metrics["metric"].isin(CHART_METRICS), ["timestamp", "rule", "metric", "value"]].copy()
    period = pd.Timedelta(seconds=period_seconds(rng))
    if rng.bucket == "week" and not frame.empty:
        counts = frame[frame["metric"].isin(COUNTS)]
        latency = frame[frame["metric"].isin(LATENCIES)]
        frame = pd.concat([weekly(counts, "timestamp", ["rule", "metric"], {"value": "sum"}),
                           weekly(latency, "timestamp", ["rule", "metric"], {"value": "mean"})],
                          ignore_index=True)
        period = pd.Timedelta(days=7)
    frame = whole_buckets(frame, "timestamp", period, rng)
    frame = frame.assign(timestamp=to_local_time(frame["timestamp"], timezone))
    return frame.sort_values(["rule", "metric", "timestamp"]).reset_index(drop=True)


def _letter_row(queue: str, letter: DeadLetter) -> dict:
    try:
        event = letter.event
    except ValueError:
        event = {}
    rule_arn = letter.attributes.get("RULE_ARN", "")
    return {
        "queue": queue, "sent_at": letter.sent_at, "rule": rule_arn.rsplit("/", 1)[-1],
        "source": event.get("source", ""), "detail_type": event.get("detail-type", ""),
        "event_id": event.get("id", ""), "event_time": event.get("time", ""),
        **{name: letter.attributes.get(name, "") for name in DLQ_ATTRIBUTES},
        "message_id": letter.message_id, "detail": event_summary(letter.body),
    }


def dead_letters(ctx: Context, limit: int = 500) -> pd.DataFrame:
    """The newest ``limit`` messages of each DLQ, newest first — whenever they were sent,
    not only in the range: a dead letter waits until someone redrives it."""
    rows = [_letter_row(queue, letter) for queue in ctx.dead_letters.queues()
            for letter in ctx.dead_letters.peek(queue, limit)]
    columns = ["queue", "sent_at", "rule", "source", "detail_type", "event_id", "event_time",
               *DLQ_ATTRIBUTES, "message_id", "detail"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["sent_at"] = pd.to_datetime(frame["sent_at"], utc=True, format="ISO8601")
    frame["sent_at"] = to_local_time(frame["sent_at"], ctx.settings.timezone)
    frame["RETRY_ATTEMPTS"] = pd.to_numeric(frame["RETRY_ATTEMPTS"], errors="coerce").astype("Int64")
    return frame.sort_values("sent_at", ascending=False).reset_index(drop=True)


def delivery_health(ctx: Context, rng: TimeRange) -> DeliveryHealth:
    metrics = rule_metrics(ctx, rng)
    depth = {queue: ctx.dead_letters.depth(queue) for queue in ctx.dead_letters.queues()}
    return DeliveryHealth(chart_series(metrics, rng, ctx.settings.timezone),
                          rule_health(metrics, ctx.rules), dead_letters(ctx), depth)


def dlq_summary(letters: pd.DataFrame, depth: dict[str, int]) -> pd.DataFrame:
    """Per queue and error code (what broke, how often) among the messages read, with
    how many wait in the queue in all."""
    columns = ["queue", "waiting", "ERROR_CODE", "messages", "latest"]
    if letters.empty:
        return pd.DataFrame(columns=columns)
    summary = (letters.groupby(["queue", "ERROR_CODE"], as_index=False)
               .agg(messages=("message_id", "count"), latest=("sent_at", "max")))
    summary["waiting"] = summary["queue"].map(depth).fillna(0).astype("int64")
    return summary[columns].sort_values(["messages", "queue", "ERROR_CODE"], ascending=[False, True, True]
                                        ).reset_index(drop=True)


def event_summary(body: str) -> str:
    """A dead-lettered event's detail, compact, for a table cell."""
    try:
        return json.dumps(json.loads(body).get("detail", {}), separators=(",", ":"))[:200]
    except (ValueError, AttributeError):
        return body[:200]
