"""Dead letters as every backend shows them: the message, the result of a redrive, and the
interface of a dead-letter source (the local bus's JSON-lines queues, or SQS).

Owned by neither backend: :mod:`app.bus.dead_letter_source` and :mod:`app.aws.dlq` both
implement :class:`DeadLetterSource` over these types, and the services read through it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    attributes: dict[str, str]
    sent_at: str

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class RedriveResult:
    sent: list[str] = field(default_factory=list)  # message ids delivered again (and deleted)
    failed: dict[str, str] = field(default_factory=dict)  # message id -> why (the message stays)
    missing: list[str] = field(default_factory=list)  # ids not found in the queue


class DeadLetterSource(Protocol):
    def queues(self) -> list[str]:
        """Names of the dead-letter queues the bus definition declares."""
        ...

    def peek(self, queue: str, limit: int | None = None) -> list[DeadLetter]:
        """The newest ``limit`` messages of one queue (all if None), oldest first, without
        removing them."""
        ...

    def depth(self, queue: str) -> int:
        """How many messages wait in the queue (SQS: ApproximateNumberOfMessages)."""
        ...

    def redrive(self, queue: str, message_ids: Iterable[str]) -> RedriveResult:
        """Send the chosen messages on again; only those that went leave the queue."""
        ...
