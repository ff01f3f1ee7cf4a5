"""Dead-letter queues of the local bus: a JSON-lines file per queue.

A message carries the event as its body and the attributes EventBridge sets on messages it
dead-letters (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html):
ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS, RULE_ARN, TARGET_ARN.

The bus appends while ops delete what they redrove, possibly from another process (the
app's Delivery health page beside ``bus serve``): both hold an exclusive lock on
``<queue>.lock``, so a message sent during a delete is never lost.

:class:`LocalDeadLetters` is the dashboard's view of these queues, with the interface of
the aws backend's ``SqsDeadLetters``: ``queues()``, ``peek()``, ``depth()``, ``redrive()``.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.bus.definition import BusDefinition
    from app.bus.local import LocalBus


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    attributes: dict[str, str]
    sent_at: str

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class RedriveResult:
    sent: list[str] = field(default_factory=list)  # message ids delivered again (and deleted)
    failed: dict[str, str] = field(default_factory=dict)  # message id -> why (the message stays)
    missing: list[str] = field(default_factory=list)  # ids not found in the queue


class LocalDeadLetterQueue:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.name = self.path.stem

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.with_suffix(".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def send(self, event: dict, attributes: dict[str, str], at: datetime) -> str:
        message_id = str(uuid.uuid4())
        record = {
            "MessageId": message_id,
            "Body": json.dumps(event),
            "Attributes": attributes,
            "SentTimestamp": at.isoformat(),
        }
        with self._locked(), self.path.open("a") as queue:
            queue.write(json.dumps(record) + "\n")
        return message_id

    def peek(self, limit: int | None = None) -> list[DeadLetter]:
        """The newest ``limit`` messages (all when None), oldest first, without removing them."""
        if not self.path.exists():
            return []
        letters = []
        with self.path.open() as queue:
            for line in queue:
                if line.strip():
                    raw = json.loads(line)
                    letters.append(
                        DeadLetter(raw["MessageId"], raw["Body"], raw["Attributes"], raw["SentTimestamp"])
                    )
        return letters[-limit:] if limit else letters

    def depth(self) -> int:
        if not self.path.exists():
            return 0
        with self.path.open() as lines:
            return sum(1 for line in lines if line.strip())

    def delete(self, message_ids: set[str]) -> int:
        """Remove messages (after a redrive); rewrites the file atomically."""
        if not message_ids:
            return 0
        with self._locked():
            letters = self.peek()
            kept = [m for m in letters if m.message_id not in message_ids]
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("w") as out:
                for m in kept:
                    out.write(
                        json.dumps(
                            {
                                "MessageId": m.message_id,
                                "Body": m.body,
                                "Attributes": m.attributes,
                                "SentTimestamp": m.sent_at,
                            }
                        )
                        + "\n"
                    )
            os.replace(tmp, self.path)
        return len(letters) - len(kept)


class LocalDeadLetters:
    """The local bus's DLQs as the Delivery health page sees them: ``<state>/dlq/<queue>.jsonl``.

    ``redrive`` delivers each chosen message's event again to the rule target that
    dead-lettered it (its RULE_ARN and TARGET_ARN attributes), once, through a bus built on
    demand over the same lake and state folder, and deletes only the messages delivered.
    """

    def __init__(self, folder: Path, queues: Sequence[str], bus: Callable[[], LocalBus] | None = None):
        self.folder = Path(folder)
        self._declared = list(queues)
        self._bus = bus

    @classmethod
    def for_lake(
        cls, lake: Path, definition: BusDefinition | None = None, state_dir: Path | None = None
    ) -> LocalDeadLetters:
        from app.bus.definition import load_definition

        definition = definition or load_definition()
        state_dir = Path(state_dir) if state_dir else Path(lake).parent / "bus"
        return cls(
            state_dir / "dlq",
            definition.dead_letter_queues,
            bus=lambda: open_local_bus(definition, Path(lake), state_dir),
        )

    def _queue(self, name: str) -> LocalDeadLetterQueue:
        return LocalDeadLetterQueue(self.folder / f"{name}.jsonl")

    def queues(self) -> list[str]:
        """The queues bus.yaml declares, then any a rule made through the API uses."""
        found = sorted(p.stem for p in self.folder.glob("*.jsonl")) if self.folder.exists() else []
        return list(dict.fromkeys(self._declared + found))

    def peek(self, queue: str, limit: int | None = None) -> list[DeadLetter]:
        return self._queue(queue).peek(limit)

    def depth(self, queue: str) -> int:
        return self._queue(queue).depth()

    def redrive(self, queue: str, message_ids: Iterable[str]) -> RedriveResult:
        if self._bus is None:
            raise ValueError("this dead-letter source cannot redrive: it has no bus")
        bus = self._bus()
        try:
            return bus.redrive(queue, message_ids)
        finally:
            bus.flush()  # the redrive's invocation metrics


def open_local_bus(definition: BusDefinition, lake: Path, state_dir: Path) -> LocalBus:
    """A bus with the rules ``bus serve`` has: bus.yaml's, with the API's changes laid over."""
    from app.bus.api import RuleStore, apply_stored_rules
    from app.bus.local import LocalBus

    bus = LocalBus(definition, lake, state_dir=state_dir)
    apply_stored_rules(bus, RuleStore(state_dir / "rules.json"))
    return bus
