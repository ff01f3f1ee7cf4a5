"""Dead-letter queues of the local bus: a JSON-lines file per queue.

A message carries the event as its body and the attributes EventBridge sets on messages it
dead-letters (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html):
ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS, RULE_ARN, TARGET_ARN.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    attributes: dict[str, str]
    sent_at: str

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class LocalDeadLetterQueue:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.name = self.path.stem

    def send(self, event: dict, attributes: dict[str, str], at: datetime) -> str:
        message_id = str(uuid.uuid4())
        record = {"MessageId": message_id, "Body": json.dumps(event), "Attributes": attributes,
                  "SentTimestamp": at.isoformat()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as queue:
            queue.write(json.dumps(record) + "\n")
        return message_id

    def peek(self, limit: int | None = None) -> list[DeadLetter]:
        """Messages oldest first, without removing them."""
        if not self.path.exists():
            return []
        letters = []
        with self.path.open() as queue:
            for line in queue:
                if line.strip():
                    raw = json.loads(line)
                    letters.append(DeadLetter(raw["MessageId"], raw["Body"], raw["Attributes"], raw["SentTimestamp"]))
        return letters[-limit:] if limit else letters

    def delete(self, message_ids: set[str]) -> int:
        """Remove messages (after a redrive); rewrites the file atomically."""
        kept = [m for m in self.peek() if m.message_id not in message_ids]
        removed = len(self.peek()) - len(kept)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as out:
            for m in kept:
                out.write(json.dumps({"MessageId": m.message_id, "Body": m.body,
                                      "Attributes": m.attributes, "SentTimestamp": m.sent_at}) + "\n")
        os.replace(tmp, self.path)
        return removed
