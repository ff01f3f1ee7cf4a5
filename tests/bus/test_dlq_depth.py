"""A dead-letter queue's depth counts only what was appended since it was last counted,
and always equals counting every non-blank line of the file: across sends, blank and
white-space lines, a line still being written, a failed append cut back, deletes (a new
file) and any block size."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.bus import dlq
from app.bus.dlq import LocalDeadLetterQueue

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _naive(path: Path) -> int:
    return sum(1 for line in path.read_bytes().split(b"\n") if line.strip()) if path.exists() else 0


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as stream:
        stream.write(data)


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("seed", range(4))
def test_depth_equals_counting_every_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, seed: int
):
    monkeypatch.setattr(dlq, "COUNT_BLOCK", block)
    monkeypatch.setattr(dlq, "_COUNTED", {})
    draw = random.Random(seed)
    queue = LocalDeadLetterQueue(tmp_path / "q.jsonl")
    ids: list[str] = []
    assert queue.depth() == 0  # no file yet
    for _ in range(120):
        action = draw.random()
        if action < 0.45:
            ids.append(queue.send({"id": str(draw.random()), "detail": {"n": 1}}, {"ERROR_CODE": "x"}, AT))
        elif action < 0.6:  # blank and white-space-only lines
            _append(queue.path, draw.choice([b"\n", b"  \n", b"\t\r\n", b"\x0b\x0c\n"]))
        elif action < 0.72 and queue.path.exists():  # a line being written, then finished or cut back
            start = queue.path.stat().st_size
            record = json.dumps({"MessageId": "m", "Body": "{}", "Attributes": {}, "SentTimestamp": "t"})
            cut = draw.randrange(1, len(record))
            _append(queue.path, record[:cut].encode())
            assert queue.depth() == _naive(queue.path)
            if draw.random() < 0.5:
                os.truncate(queue.path, start)
            else:
                _append(queue.path, record[cut:].encode() + b"\n")
        elif action < 0.85 and ids:  # a redrive's delete rewrites the file
            gone = set(draw.sample(ids, draw.randrange(1, len(ids) + 1)))
            queue.delete(gone)
            ids = [i for i in ids if i not in gone]
        assert queue.depth() == _naive(queue.path)


def test_depth_reads_only_what_was_appended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(dlq, "_COUNTED", {})
    queue = LocalDeadLetterQueue(tmp_path / "q.jsonl")
    for n in range(50):
        queue.send({"id": str(n)}, {}, AT)
    assert queue.depth() == 50
    read: list[int] = []
    real_open = Path.open

    def counting_open(path: Path, *args, **kwargs):
        stream = real_open(path, *args, **kwargs)
        real_read = stream.read

        def read_counted(size: int = -1) -> bytes:
            data = real_read(size)
            read.append(len(data))
            return data

        stream.read = read_counted  # type: ignore[method-assign]
        return stream

    queue.send({"id": "new"}, {}, AT)
    counted_last, appended = (len(line) for line in queue.path.read_bytes().splitlines(keepends=True)[-2:])
    monkeypatch.setattr(Path, "open", counting_open)
    assert queue.depth() == 51
    # the last line counted still there (its start and its end), then the new line
    assert (
        sum(read)
        == min(counted_last - 1, dlq.LINE_START_KEPT) + min(counted_last, dlq.LINE_END_KEPT) + appended
    )


def test_a_rewritten_file_longer_than_the_counted_one_is_counted_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A delete writes a new file: sends after it can make it longer than the lines counted
    before, and its lines are not those."""
    monkeypatch.setattr(dlq, "_COUNTED", {})
    queue = LocalDeadLetterQueue(tmp_path / "q.jsonl")
    ids = [queue.send({"id": str(n), "detail": "x" * 40}, {}, AT) for n in range(10)]
    assert queue.depth() == 10
    queue.delete(set(ids[:8]))
    for n in range(3):
        queue.send({"id": f"short{n}"}, {}, AT)  # shorter messages: more lines in fewer bytes
    queue.send({"id": "long", "detail": "y" * 2_000}, {}, AT)
    assert queue.depth() == _naive(queue.path) == 6


def test_another_file_given_the_same_inode_is_counted_anew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The file system may give a deleted queue file's inode to a later one: the same inode,
    as long or longer, other lines (written over in place here, keeping the inode)."""
    monkeypatch.setattr(dlq, "_COUNTED", {})
    queue = LocalDeadLetterQueue(tmp_path / "q.jsonl")
    for n in range(10):
        queue.send({"id": str(n)}, {}, AT)
    assert queue.depth() == 10
    inode = queue.path.stat().st_ino
    other = b"".join(b'{"MessageId": "%d", "Body": "{}"}\n' % n + b"\n" * 3 for n in range(4))
    with queue.path.open("r+b") as stream:  # four messages and twelve blank lines, longer
        stream.write(other + b" " * (queue.path.stat().st_size - len(other)) + b"\n")
    assert queue.path.stat().st_ino == inode
    assert queue.depth() == _naive(queue.path) == 4


def test_a_reused_inode_with_the_same_line_end_at_the_counted_offset_is_counted_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Long messages of one rule sent together end alike over more than LINE_END_KEPT
    bytes: a later file given the inode back, with a line ending where the counted one did,
    is told apart by the line's start (its message id)."""
    monkeypatch.setattr(dlq, "_COUNTED", {})
    queue = LocalDeadLetterQueue(tmp_path / "q.jsonl")
    tail = b'"detail": "' + b"x" * (2 * dlq.LINE_END_KEPT) + b'"}\n'
    lines = [b'{"MessageId": "m-%d", ' % n + tail for n in range(3)]
    queue.path.write_bytes(b"".join(lines))
    assert queue.depth() == 3
    # The same inode (written over in place), as long: two lines, the last ending where the
    # third did, with the same end and another start.
    first = b'{"MessageId": "other", "detail": "' + b"y" * (len(lines[0]) * 2 - 37) + b'"}\n'
    replaced = first + b'{"MessageId": "m-9", ' + tail
    assert len(replaced) == 3 * len(lines[0])
    with queue.path.open("r+b") as stream:
        stream.write(replaced)
    assert queue.depth() == _naive(queue.path) == 2


def test_a_queue_whose_folder_is_a_file_has_no_messages(tmp_path: Path):
    (tmp_path / "dlq").write_text("not a folder")
    queue = LocalDeadLetterQueue(tmp_path / "dlq" / "q.jsonl")
    assert queue.depth() == 0 and queue.peek() == []
