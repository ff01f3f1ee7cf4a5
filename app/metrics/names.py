"""CloudWatch's names for the bus's metrics (namespace ``AWS/Events``), owned here and used
everywhere: the local bus that counts them, the sources that read them, the services and
the template's alarms (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html).

The values are plain ``str``: they are stored, queried and compared as CloudWatch spells them.
"""

from __future__ import annotations

from typing import Final

NAMESPACE: Final = "AWS/Events"


class EventsMetric:
    """The metric names, as constants."""

    MATCHED_EVENTS: Final = "MatchedEvents"
    TRIGGERED_RULES: Final = "TriggeredRules"
    INVOCATIONS: Final = "Invocations"
    FAILED_INVOCATIONS: Final = "FailedInvocations"
    INVOCATION_ATTEMPTS: Final = "InvocationAttempts"
    SUCCESSFUL_INVOCATION_ATTEMPTS: Final = "SuccessfulInvocationAttempts"
    RETRY_INVOCATION_ATTEMPTS: Final = "RetryInvocationAttempts"
    THROTTLED_RULES: Final = "ThrottledRules"
    INVOCATIONS_SENT_TO_DLQ: Final = "InvocationsSentToDlq"
    INVOCATIONS_FAILED_TO_BE_SENT_TO_DLQ: Final = "InvocationsFailedToBeSentToDlq"
    PUT_EVENTS_REQUEST_SIZE: Final = "PutEventsRequestSize"
    PUT_EVENTS_APPROXIMATE_CALL_COUNT: Final = "PutEventsApproximateCallCount"
    PUT_EVENTS_APPROXIMATE_SUCCESS_COUNT: Final = "PutEventsApproximateSuccessCount"
    PUT_EVENTS_APPROXIMATE_FAILED_COUNT: Final = "PutEventsApproximateFailedCount"
    PUT_EVENTS_APPROXIMATE_THROTTLED_COUNT: Final = "PutEventsApproximateThrottledCount"
    PUT_EVENTS_ENTRIES_COUNT: Final = "PutEventsEntriesCount"
    PUT_EVENTS_FAILED_ENTRIES_COUNT: Final = "PutEventsFailedEntriesCount"
    INGESTION_TO_INVOCATION_START_LATENCY: Final = "IngestionToInvocationStartLatency"
    INGESTION_TO_INVOCATION_SUCCESS_LATENCY: Final = "IngestionToInvocationSuccessLatency"
    PUT_EVENTS_LATENCY: Final = "PutEventsLatency"


M = EventsMetric
COUNT_METRICS: Final = (
    M.MATCHED_EVENTS,
    M.TRIGGERED_RULES,
    M.INVOCATIONS,
    M.FAILED_INVOCATIONS,
    M.INVOCATION_ATTEMPTS,
    M.SUCCESSFUL_INVOCATION_ATTEMPTS,
    M.RETRY_INVOCATION_ATTEMPTS,
    M.THROTTLED_RULES,
    M.INVOCATIONS_SENT_TO_DLQ,
    M.INVOCATIONS_FAILED_TO_BE_SENT_TO_DLQ,
    M.PUT_EVENTS_REQUEST_SIZE,
    M.PUT_EVENTS_APPROXIMATE_CALL_COUNT,
    M.PUT_EVENTS_APPROXIMATE_SUCCESS_COUNT,
    M.PUT_EVENTS_APPROXIMATE_FAILED_COUNT,
    M.PUT_EVENTS_APPROXIMATE_THROTTLED_COUNT,
    M.PUT_EVENTS_ENTRIES_COUNT,
    M.PUT_EVENTS_FAILED_ENTRIES_COUNT,
)
LATENCY_METRICS: Final = (
    M.INGESTION_TO_INVOCATION_START_LATENCY,
    M.INGESTION_TO_INVOCATION_SUCCESS_LATENCY,
    M.PUT_EVENTS_LATENCY,
)
METRIC_NAMES: Final = COUNT_METRICS + LATENCY_METRICS

# Ours, not CloudWatch's: the local bus's own health, stored beside the AWS/Events metrics
# in the local metrics store (never sent to CloudWatch, absent from METRIC_NAMES).
# Event writes a full disk refused (ENOSPC, EDQUOT): one per event per attempt (a refused
# batch of 4 counts 4), the journal's refusals under rule "" and the deliveries' under their rule.
DISK_FULL_ERRORS: Final = "VerticalsDiskFullErrors"
