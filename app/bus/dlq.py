"""Dead-letter queues of the local bus: a JSON-lines file per queue.

A message carries the event as its body and the attributes EventBridge sets on messages it
dead-letters (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html):
ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS, RULE_ARN, TARGET_ARN.

The bus appends while ops delete what they redrove, possibly from another process (the
app's Delivery health page beside ``bus serve``): both hold an exclusive lock on
``<queue>.lock``, so a message sent during a delete is never lost.

The dashboard's and the CLI's view of these queues is
:class:`app.bus.dead_letter_source.LocalDeadLetters`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from app.dead_letters import DeadLetter

# SQS's rule for queue names (CreateQueue, QueueName): up to 80 alphanumerics, hyphens
# and underscores, a FIFO queue's ending in ".fifo". Nothing else can name a file here.
QUEUE_NAME = re.compile(r"^(?=.{1,80}\Z)[A-Za-z0-9_-]+(\.fifo)?\Z")


def queue_path(folder: Path, name: str) -> Path:
    """``<folder>/<name>.jsonl`` for a name SQS accepts; ValueError (one sentence) otherwise."""
    if not QUEUE_NAME.match(name):
        raise ValueError(
            f"{name[:100]!r} is not an SQS queue name: up to 80 letters, digits, hyphens and "
            "underscores, a FIFO queue's ending in .fifo."
        )
    return Path(folder) / f"{name}.jsonl"


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
        with self._locked():
            start = self.path.stat().st_size if self.path.exists() else 0
            try:
                with self.path.open("a") as queue:
                    queue.write(json.dumps(record) + "\n")
            except OSError:
                # A full disk: no torn line stays in the queue (the caller sends again later).
                with contextlib.suppress(OSError):
                    os.truncate(self.path, start)
                raise
        return message_id

    def peek(self, limit: int | None = None) -> list[DeadLetter]:
        """The newest ``limit`` messages (all when None), oldest first, without removing them.

        With a limit only the file's end is read (a queue of a million messages costs what
        its newest ``limit`` do: the Delivery health page shows 500)."""
        if not self.path.exists():
            return []
        if limit:
            lines = last_lines(self.path, limit)
        else:
            with self.path.open("rb") as queue:
                lines = [line for line in queue if line.strip()]
        return [_letter(json.loads(line)) for line in lines]

    def depth(self) -> int:
        """How many non-blank lines the file holds. The lines counted are remembered per
        file (:func:`counted_lines`): a view pays for the lines sent since the last one."""
        if not self.path.exists():  # nor its folder (a file there, a symlink loop: no queue)
            return 0
        try:
            with self.path.open("rb") as stream:
                return counted_lines(stream)
        except FileNotFoundError:  # deleted since
            return 0

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


# A file (its path) -> where its count stands (_Counted). The bus only appends to a queue;
# a failed append is cut back to where it began, after every line counted; a delete writes
# a new file, whose inode the file system may give again to a later one. A file is taken
# to start with the lines counted when it is on the same device with the same inode, at
# least as long, and still holds the last counted line's start (its message id) and end
# where they were. One entry per queue file.
_COUNTED: dict[str, _Counted] = {}
COUNT_BLOCK = 1 << 16
LINE_START_KEPT = 256
LINE_END_KEPT = 4096


@dataclass(frozen=True)
class _Counted:
    device: int
    inode: int
    offset: int  # after the last whole line counted
    lines: int  # non-blank lines before ``offset``
    last_at: int  # where the last whole line counted starts
    last_start: bytes  # its first LINE_START_KEPT bytes
    last_end: bytes  # its last LINE_END_KEPT bytes, newline included

    def holds(self, stream: BinaryIO, stat: os.stat_result) -> bool:
        """Whether the open file ``stream`` still starts with the lines counted."""
        if (self.device, self.inode) != (stat.st_dev, stat.st_ino) or stat.st_size < self.offset:
            return False
        stream.seek(self.last_at)
        if stream.read(len(self.last_start)) != self.last_start:
            return False
        stream.seek(self.offset - len(self.last_end))
        return stream.read(len(self.last_end)) == self.last_end


def counted_lines(stream: BinaryIO) -> int:
    """The non-blank lines of the open file ``stream`` (its whole lines, and a last one
    without a newline yet), reading only what was appended since it was last counted; each
    byte read is split into lines once, however long its line."""
    key, stat = stream.name, os.fstat(stream.fileno())
    counted = _COUNTED.get(key)
    if counted is None or not counted.holds(stream, stat):
        counted = _Counted(stat.st_dev, stat.st_ino, 0, 0, 0, b"", b"")
    offset, lines, last = counted.offset, counted.lines, None
    stream.seek(offset)
    pending: list[bytes] = []  # the line under way: the bytes after the last newline read
    while block := stream.read(COUNT_BLOCK):
        cut = block.rfind(b"\n") + 1
        if not cut:
            pending.append(block)
            continue
        data = b"".join([*pending, block[:cut]])  # whole lines, the first begun in earlier blocks
        whole = data.split(b"\n")[:-1]  # the empty piece after the last newline left out
        lines += sum(1 for line in whole if line.strip())
        offset += len(data)
        last = whole[-1]
        pending = [block[cut:]]
    if last is not None:
        counted = _Counted(
            stat.st_dev,
            stat.st_ino,
            offset,
            lines,
            offset - len(last) - 1,
            last[:LINE_START_KEPT],
            (last + b"\n")[-LINE_END_KEPT:],
        )
    _COUNTED[key] = counted
    return lines + (1 if b"".join(pending).strip() else 0)


def _letter(raw: dict) -> DeadLetter:
    return DeadLetter(raw["MessageId"], raw["Body"], raw["Attributes"], raw["SentTimestamp"])


TAIL_BLOCK = 64 * 1024


def last_lines(path: Path, count: int, block: int = TAIL_BLOCK) -> list[bytes]:
    """The last ``count`` non-blank lines of ``path``, oldest first, read from its end block
    by block (what reading every line and keeping the last ``count`` gives)."""
    with path.open("rb") as stream:
        position = stream.seek(0, os.SEEK_END)
        data = b""
        while position > 0:
            step = min(block, position)
            position -= step
            stream.seek(position)
            data = stream.read(step) + data
            # The first piece may be the end of a line that starts in an earlier block.
            whole = data.split(b"\n")[1:] if position > 0 else data.split(b"\n")
            if sum(1 for line in whole if line.strip()) >= count:
                break
    lines = data.split(b"\n")
    if position > 0:
        lines = lines[1:]
    return [line for line in lines if line.strip()][-count:]
