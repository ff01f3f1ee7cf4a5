"""The bus's dead-letter queues in SQS: peek without deleting, and redrive to the bus.

EventBridge sends an event it could not deliver to the target's DLQ with message attributes
that say why (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html):
ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS, RULE_ARN, TARGET_ARN.

SQS has no "peek": a received message is hidden for its visibility timeout. Peeking here
receives with a short visibility timeout until it has seen every message, then makes them
visible again at once (ChangeMessageVisibility 0). Each peek adds one to the messages'
``ApproximateReceiveCount``; these DLQs have no redrive policy of their own, so that count
moves nothing.

Redrive sends each chosen event back to the bus with PutEvents (same source, detail-type,
detail, resources and time, so it lands in the same lake partition) and deletes the message
only once EventBridge has accepted that entry. The bus gives it a new id, and every rule
whose pattern matches sees it again — not only the target that failed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from app.dead_letters import DeadLetter, RedriveResult
from app.events import DEFAULT_MAX_ENTRY_BYTES, entry_size, parse_time

log = logging.getLogger("verticals.aws.dlq")
BATCH = 10  # ReceiveMessage, ChangeMessageVisibilityBatch, DeleteMessageBatch and PutEvents
EMPTY_RECEIVES_BEFORE_DONE = 3  # short polling can miss messages of a small queue


def parse_message(raw: Mapping[str, Any]) -> DeadLetter:
    """An SQS message (ReceiveMessage with all attributes) as a :class:`DeadLetter`."""
    attributes = {
        name: str(value.get("StringValue", value.get("BinaryValue", "")))
        for name, value in raw.get("MessageAttributes", {}).items()
    }
    sent_ms = raw.get("Attributes", {}).get("SentTimestamp")
    sent_at = datetime.fromtimestamp(int(sent_ms) / 1000, UTC).isoformat() if sent_ms else ""
    return DeadLetter(raw["MessageId"], raw["Body"], attributes, sent_at)


def put_events_entry(body: str, bus: str) -> dict[str, Any]:
    """The PutEvents entry that sends a dead-lettered event back to ``bus``."""
    try:
        event = json.loads(body)
    except ValueError:
        event = None
    if not isinstance(event, dict) or not {"source", "detail-type", "detail"} <= set(event):
        raise ValueError("the message is not an EventBridge event")
    entry: dict[str, Any] = {
        "EventBusName": bus,
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"], separators=(",", ":")),
    }
    if event.get("resources"):
        entry["Resources"] = list(event["resources"])
    if event.get("time"):
        entry["Time"] = parse_time(event["time"])
    return entry


def chunks(items: list[Any], size: int = BATCH) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def put_events_batches(
    entries: list[tuple[Any, dict[str, Any]]],
) -> Iterable[list[tuple[Any, dict[str, Any]]]]:
    """``(message, entry)`` pairs in PutEvents calls: at most BATCH entries and, together,
    at most DEFAULT_MAX_ENTRY_BYTES as EventBridge counts them ("The total entry size must
    be less than 256KB", eb-putevent-size.html). Ten dead letters of 30 KB each would
    otherwise fail the whole call."""
    batch: list[tuple[Any, dict[str, Any]]] = []
    size = 0
    for pair in entries:
        grown = size + entry_size(pair[1])
        if batch and (len(batch) == BATCH or grown > DEFAULT_MAX_ENTRY_BYTES):
            yield batch
            batch, grown = [], entry_size(pair[1])
        batch.append(pair)
        size = grown
    if batch:
        yield batch


class SqsDeadLetters:
    """The DLQs of the stack (name -> queue URL); the Delivery health page's dead-letter source."""

    def __init__(
        self,
        sqs: Any,
        urls: Mapping[str, str],
        *,
        events: Any = None,
        bus: str = "",
        visibility_s: int = 30,
        max_messages: int = 1000,
    ):
        self.sqs = sqs
        self.urls = dict(urls)
        self.events, self.bus = events, bus  # for redrive
        self.visibility_s = visibility_s
        self.max_messages = max_messages

    @classmethod
    def from_settings(cls, resources: Any, session: Any) -> SqsDeadLetters:
        from app.aws.session import client

        return cls(
            client(session, "sqs"),
            resources.dead_letter_queue_urls,
            events=client(session, "events"),
            bus=resources.bus_name,
        )

    def queues(self) -> list[str]:
        return list(self.urls)

    def depth(self, queue: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self._url(queue), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0))

    def peek(self, queue: str, limit: int | None = None) -> list[DeadLetter]:
        """The newest ``limit`` messages (all when None), oldest first; nothing is deleted."""
        if self.depth(queue) == 0:
            return []
        url = self._url(queue)
        messages = self._receive_until(url, lambda seen: False)
        self._release(url, messages)
        letters = sorted((parse_message(m) for m in messages), key=lambda letter: letter.sent_at)
        return letters[-limit:] if limit else letters

    def redrive(
        self, queue: str, message_ids: Iterable[str], events: Any = None, bus: str = ""
    ) -> RedriveResult:
        """Send the chosen messages' events back to the bus; delete each once it is accepted."""
        events, bus = events or self.events, bus or self.bus
        if events is None or not bus:
            raise ValueError("redrive needs an EventBridge client and the bus name")
        url, wanted = self._url(queue), set(message_ids)
        messages = self._receive_until(url, lambda seen: wanted <= seen)
        chosen = [m for m in messages if m["MessageId"] in wanted]
        result = RedriveResult(missing=sorted(wanted - {m["MessageId"] for m in chosen}))
        accepted = self._put_back(chosen, events, bus, result)
        self._delete(url, accepted, result)
        done = set(result.sent)  # deleted; the rest is made visible again
        self._release(url, [m for m in messages if m["MessageId"] not in done])
        return result

    # internals

    def _url(self, queue: str) -> str:
        try:
            return self.urls[queue]
        except KeyError:
            raise ValueError(
                f"unknown dead-letter queue {queue!r}; the stack has {', '.join(self.urls)}"
            ) from None

    def _receive_until(self, url: str, done: Callable[[set[str]], bool]) -> list[dict[str, Any]]:
        """Receive (and so hide) messages until ``done(ids seen)``, the queue looks empty, or the cap."""
        seen: dict[str, dict[str, Any]] = {}
        empty = 0
        while len(seen) < self.max_messages and not done(set(seen)) and empty < EMPTY_RECEIVES_BEFORE_DONE:
            batch = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=BATCH,
                VisibilityTimeout=self.visibility_s,
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            empty = 0 if fresh else empty + 1
            # A message seen again (its visibility ran out) keeps its newest receipt handle:
            # SQS deletes a message only by the handle of its latest receive.
            seen.update((m["MessageId"], m) for m in batch)
        return list(seen.values())

    def _release(self, url: str, messages: list[dict[str, Any]]) -> None:
        """Make the messages visible again. One SQS did not release (its ``Failed`` list)
        is visible again when its visibility timeout ends: nothing is lost, so it is logged."""
        for batch in chunks(messages):
            answer = self.sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(batch)
                ],
            )
            for failure in answer.get("Failed", []):
                log.warning(
                    "SQS kept dead letter %s hidden (%s); it is visible again in %s s",
                    batch[int(failure["Id"])]["MessageId"],
                    failure.get("Code"),
                    self.visibility_s,
                )

    def _put_back(
        self, messages: list[dict[str, Any]], events: Any, bus: str, result: RedriveResult
    ) -> list[dict[str, Any]]:
        entries = []
        for message in messages:
            try:
                entries.append((message, put_events_entry(message["Body"], bus)))
            except ValueError as exc:
                result.failed[message["MessageId"]] = str(exc)
        accepted = []
        for batch in put_events_batches(entries):
            answers = events.put_events(Entries=[entry for _, entry in batch])["Entries"]
            for (message, _), answer in zip(batch, answers, strict=False):
                if answer.get("ErrorCode"):
                    result.failed[message["MessageId"]] = (
                        f"{answer['ErrorCode']}: {answer.get('ErrorMessage', '')}"
                    )
                else:
                    accepted.append(message)
                    result.sent.append(message["MessageId"])
        return accepted

    def _delete(self, url: str, messages: list[dict[str, Any]], result: RedriveResult) -> None:
        """Delete the redriven messages. DeleteMessageBatch answers 200 and lists the ones it
        did not delete in ``Failed``: their events were sent, yet they are still in the
        queue, so they move from ``sent`` to ``failed`` with a sentence saying so (a second
        redrive would send them twice)."""
        for batch in chunks(messages):
            answer = self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
            for failure in answer.get("Failed", []):
                message_id = batch[int(failure["Id"])]["MessageId"]
                result.sent.remove(message_id)
                result.failed[message_id] = (
                    f"sent to the bus again, but SQS kept the message ({failure.get('Code')}: "
                    f"{failure.get('Message', '')}); redriving it again would send its event twice"
                )
