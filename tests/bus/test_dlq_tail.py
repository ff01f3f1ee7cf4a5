"""A dead-letter queue's newest messages are read from the file's end: the same messages,
in the same order, as reading every line and keeping the last ones."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.bus.dlq import LocalDeadLetterQueue, last_lines


def _naive(path: Path, count: int) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line.strip()][-count:]


@pytest.mark.parametrize("seed", range(6))
def test_last_lines_equal_the_naive_tail_at_every_block_size(tmp_path: Path, seed: int):
    draw = random.Random(seed)
    path = tmp_path / "q.jsonl"
    for _ in range(20):
        lines = [
            b" " * draw.randrange(0, 3) if draw.random() < 0.15 else b"x" * draw.randrange(1, 40)
            for _ in range(draw.randrange(0, 60))
        ]
        text = b"\n".join(lines) + (b"\n" if draw.random() < 0.7 else b"")
        path.write_bytes(text)
        for count in (1, 2, 5, 17, 59, 200):
            for block in (1, 3, 7, 64, 4096):
                assert last_lines(path, count, block) == _naive(path, count), (text, count, block)


def test_peek_reads_the_newest_messages_of_a_large_queue_oldest_first(tmp_path: Path):
    queue = LocalDeadLetterQueue(tmp_path / "orders-dlq.jsonl")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(3000):
        event = {"id": f"e{n}", "detail": {"pad": "y" * (n % 97)}}
        queue.send(event, {"ERROR_CODE": "X"}, start + timedelta(seconds=n))
    newest = queue.peek(500)
    assert [m.body for m in newest] == [m.body for m in queue.peek()[-500:]]
    assert '"e2999"' in newest[-1].body and '"e2500"' in newest[0].body
    assert queue.depth() == 3000
