"""A full disk (ENOSPC) never loses nor holds an acknowledged event (issue 10).

The disk is simulated: the journal's fsync, the lake's Parquet writes and the dead-letter
queue's append fail N times, then succeed. Whatever PutEvents acknowledged ends in the
lake exactly once, without a restart; whatever the disk refused was not acknowledged.
"""

import errno
import itertools
import json
import time
from datetime import UTC, date, datetime, timedelta

import pyarrow.parquet as pq
import pytest

import app.bus.journal as journal_module
import app.lake.compact as compact_module
import app.lake.writer as writer_module
import app.metrics.local as metrics_module
from app.bus.archive import ArchiveStore
from app.bus.definition import parse_definition
from app.bus.dlq import LocalDeadLetterQueue
from app.bus.journal import Journal
from app.bus.local import LocalBus
from app.bus.server import BusService, ServerConfig
from app.lake.writer import LakeWriter
from app.metrics.local import LocalMetricsSource, MetricsRecorder
from app.metrics.names import DISK_FULL_ERRORS
from tests.bus.server_helpers import write_definition
from tests.fixtures_lake import event

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DEFINITION = parse_definition(
    {
        "bus": "b",
        "endpoints": {"consumer": {"url": "http://consumer.test/events"}},
        "dead_letter_queues": ["consumer-dlq"],
        "rules": [
            {
                "name": "lake",
                "pattern": {"source": ["shop"]},
                # No retries allowed: a full disk is the bus's failure, retried all the same.
                "targets": [{"id": "lake", "kind": "lake", "retry": {"MaximumRetryAttempts": 0}}],
            },
            {
                "name": "consumer",
                "pattern": {"source": ["shop"]},
                "targets": [
                    {
                        "id": "consumer",
                        "kind": "http",
                        "endpoint": "consumer",
                        "dead_letter_queue": "consumer-dlq",
                        "retry": {"MaximumRetryAttempts": 0},
                    }
                ],
            },
        ],
    }
)


def disk_full() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


class FailsThenWorks:
    """``real``, but the first ``failures`` calls raise ENOSPC."""

    def __init__(self, real, failures: int):
        self.real, self.left, self.calls = real, failures, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            raise disk_full()
        return self.real(*args, **kwargs)


def entries(n):
    # OrderPlaced: each lake write is two files (raw events and the orders table).
    return [{"Source": "shop", "DetailType": "OrderPlaced", "Detail": json.dumps({"n": i})} for i in range(n)]


@pytest.fixture
def bus(tmp_path):
    journal = Journal(tmp_path / "state" / "journal.jsonl")
    return LocalBus(
        DEFINITION,
        tmp_path / "lake",
        state_dir=tmp_path / "state",
        journal=journal,
        transport=lambda url, event, at: 400,  # the consumer refuses: its events are dead-lettered
    )


def lake_ids(bus) -> list[str]:
    """Every event id in the lake's raw table, once per row (duplicates show)."""
    ids: list[str] = []
    for part in sorted((bus.lake / "events").rglob("*.parquet")):
        ids += pq.read_table(part, columns=["id"]).column("id").to_pylist()
    return ids


def order_ids(bus) -> list[str]:
    ids: list[str] = []
    for part in sorted((bus.lake / "orders").rglob("*.parquet")):
        ids += pq.read_table(part, columns=["event_id"]).column("event_id").to_pylist()
    return ids


def disk_full_errors(bus) -> float:
    return sum(
        point[0] for (_, metric, _), point in bus.metrics._points.items() if metric == DISK_FULL_ERRORS
    )


def retry_until_settled(bus, start: float, limit_s: float = 3600.0) -> None:
    """The retry thread's ticks, in simulated time, until nothing is pending."""
    now = start
    while bus.pending and now < start + limit_s:
        now = bus.pending[0][0]
        bus.run_due(now)
    assert not bus.pending


def acked(response) -> list[str]:
    return [e["EventId"] for e in response["Entries"] if "EventId" in e]


def test_a_journal_the_disk_refuses_fails_the_entries_and_acks_nothing(bus, monkeypatch):
    fsync = FailsThenWorks(journal_module.os.fsync, failures=1)
    monkeypatch.setattr(journal_module.os, "fsync", fsync)

    refused = bus.put_events(entries(3), now=NOW)
    assert refused["FailedEntryCount"] == 3
    assert {e["ErrorCode"] for e in refused["Entries"]} == {"InternalFailure"}
    assert acked(refused) == []
    assert bus.journal.open == {} and lake_ids(bus) == []
    assert disk_full_errors(bus) == 3

    kept = bus.put_events(entries(2), now=NOW)  # space is back
    assert kept["FailedEntryCount"] == 0
    bus.journal.close()
    # The refused call left no torn line: the journal reads back whole, the acked calls only.
    lines = bus.journal.path.read_text().splitlines()
    assert all(json.loads(line) for line in lines)
    assert sorted(lake_ids(bus)) == sorted(acked(kept))


@pytest.mark.parametrize("failures", [1, 5, 40])
def test_a_full_lake_is_retried_until_space_returns_each_event_written_once(bus, monkeypatch, failures):
    # The raw file of a call is written, then its orders file hits the full disk: the call
    # leaves nothing behind, so its retry does not write the raw rows twice.
    real = writer_module.write_parquet_atomic
    calls = {"n": 0, "refused events": 0}

    def second_write_fails(table, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] % 2 == 0 and writes.left > 0:
            writes.left -= 1
            calls["refused events"] += table.num_rows
            raise disk_full()
        return real(table, *args, **kwargs)

    writes = FailsThenWorks(real, failures)
    monkeypatch.setattr(writer_module, "write_parquet_atomic", second_write_fails)

    ids = acked(bus.put_events(entries(4), now=NOW)) + acked(bus.put_events(entries(3), now=NOW))
    assert len(ids) == 7
    assert bus.pending  # waiting for space, not dropped
    retry_until_settled(bus, NOW.timestamp())

    assert sorted(lake_ids(bus)) == sorted(ids)  # every acked event, exactly once
    assert sorted(order_ids(bus)) == sorted(ids)
    # Counted once per event per refused attempt (a refused batch of 4 counts 4).
    assert disk_full_errors(bus) == calls["refused events"] >= failures
    assert not list(bus.lake.rglob("*.tmp"))  # no half-written file kept the space
    assert bus.journal.open == {}  # every delivery made: nothing waits for a restart


def test_the_disk_full_backoff_is_bounded(bus, monkeypatch):
    monkeypatch.setattr(bus.writer, "write", FailsThenWorks(bus.writer.write, failures=30))
    [event_id] = acked(bus.put_events(entries(1), now=NOW))
    dues = []
    while bus.pending:
        dues.append(bus.pending[0][0])
        bus.run_due(dues[-1])
    gaps = [b - a for a, b in itertools.pairwise(dues)]
    assert max(gaps) <= 30.0
    assert lake_ids(bus) == [event_id]


def test_a_dead_letter_the_disk_refuses_is_sent_later_not_dropped(bus, monkeypatch):
    send = FailsThenWorks(LocalDeadLetterQueue.send, failures=3)

    def send_method(self, *args):  # a plain function: bound to the queue like the real one
        return send(self, *args)

    monkeypatch.setattr(LocalDeadLetterQueue, "send", send_method)

    ids = acked(bus.put_events(entries(2), now=NOW))
    assert len(bus.pending) == 2  # the consumer's dead letters wait for space
    retry_until_settled(bus, NOW.timestamp())

    letters = bus.dlqs["consumer-dlq"].peek()
    assert sorted(letter.event["id"] for letter in letters) == sorted(ids)  # each once
    # The letters read as the consumer's failure: its retries (none), not the disk's.
    assert {letter.attributes["RETRY_ATTEMPTS"] for letter in letters} == {"0"}
    assert {letter.attributes["ERROR_CODE"] for letter in letters} == {"CLIENT_ERROR"}
    assert disk_full_errors(bus) == 3
    totals = bus.metrics.pending_points().groupby("metric")["value"].sum().to_dict()
    assert totals["InvocationsSentToDlq"] == 2 and "InvocationsFailedToBeSentToDlq" not in totals
    assert bus.journal.open == {}


def test_done_marks_the_disk_refuses_are_written_later(bus, monkeypatch):
    journal = bus.journal
    real = journal._append_locked
    refused = {"n": 0}

    def marks_fail(record, sync):
        if "d" in record and refused["n"] < 3:
            refused["n"] += 1
            raise disk_full()
        return real(record, sync)

    monkeypatch.setattr(journal, "_append_locked", marks_fail)
    ids = acked(bus.put_events(entries(2), now=NOW))  # delivered; its marks refused
    assert journal.open == {} and refused["n"] == 3
    acked(bus.put_events(entries(1), now=NOW))  # the next records carry the waiting marks
    monkeypatch.undo()
    journal.close()
    assert Journal(journal.path).recover() == []  # nothing to redeliver after a restart
    assert len(lake_ids(bus)) == 3 and set(ids) <= set(lake_ids(bus))


def test_an_archive_append_the_disk_refuses_is_retried_each_event_archived_once(tmp_path, monkeypatch):
    raw = {
        "bus": "b",
        "archives": [{"name": "all"}],
        "rules": [
            {"name": "lake", "pattern": {"source": ["shop"]}, "targets": [{"id": "lake", "kind": "lake"}]}
        ],
    }
    journal = Journal(tmp_path / "state" / "journal.jsonl")
    bus = LocalBus(parse_definition(raw), tmp_path / "lake", state_dir=tmp_path / "state", journal=journal)
    append = FailsThenWorks(ArchiveStore.append, failures=2)

    def append_method(self, *args):
        return append(self, *args)

    monkeypatch.setattr(ArchiveStore, "append", append_method)
    ids = acked(bus.put_events(entries(3), now=NOW))
    assert sorted(lake_ids(bus)) == sorted(ids)  # the lake is not held back by the archive
    assert bus.pending and journal.open  # the archive's part waits for space
    retry_until_settled(bus, NOW.timestamp())

    archived = [e["id"] for _, e in bus.archives.events("all", 0, 2e9)]
    assert sorted(archived) == sorted(ids)
    assert disk_full_errors(bus) == 3 + 1  # the call's 3 events, then one of them again
    assert journal.open == {}


def test_a_refused_archive_append_leaves_no_partial_day(tmp_path):
    store = ArchiveStore(tmp_path)
    folder = store._folder("all")
    folder.mkdir(parents=True)
    (folder / "2026-11-21.jsonl").mkdir()  # the second day's file cannot be written
    (folder / "2026-11-20.jsonl").write_text('{"id":"old"}\n')
    events = [{"id": "a", "time": "2026-11-20T10:00:00Z"}, {"id": "b", "time": "2026-11-21T10:00:00Z"}]
    with pytest.raises(OSError):
        store.append("all", events)
    assert (folder / "2026-11-20.jsonl").read_text() == '{"id":"old"}\n'


def test_metrics_a_full_disk_refuses_are_written_by_the_next_flush(tmp_path, monkeypatch):
    recorder = MetricsRecorder(tmp_path, "b", now=NOW)
    at = NOW.timestamp() - 600
    recorder.add(DISK_FULL_ERRORS, at, 4, rule="lake")
    monkeypatch.setattr(
        metrics_module, "write_parquet_atomic", FailsThenWorks(metrics_module.write_parquet_atomic, 1)
    )
    with pytest.raises(OSError):
        recorder.flush()
    recorder.add(DISK_FULL_ERRORS, at, 1, rule="lake")
    assert recorder.flush() == 2  # the refused row, then the new one
    frame = LocalMetricsSource(tmp_path).get([DISK_FULL_ERRORS], NOW - timedelta(minutes=10), NOW, 600)
    assert frame["value"].sum() == 5


def test_bus_serve_delivers_what_it_acked_once_space_returns_without_a_restart(tmp_path, monkeypatch):
    definition = write_definition(
        tmp_path,
        "bus: test-bus\nrules:\n  - name: lake\n    pattern: {source: [shop]}\n"
        "    targets: [{id: lake, kind: lake}]\n",
    )
    config = ServerConfig(
        lake=tmp_path / "lake", definition=definition, metrics_every_s=600, retry_tick_s=0.05
    )
    service = BusService(config)
    bus = service.bus
    monkeypatch.setattr(bus.writer, "write", FailsThenWorks(bus.writer.write, failures=2))
    service.start()
    try:
        request = {"Entries": [{**e, "EventBusName": "test-bus"} for e in entries(5)]}
        ids = acked(service.call("PutEvents", request))
        assert len(ids) == 5
        deadline = time.monotonic() + 20
        while service.journal.open and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.journal.open == {}  # delivered by the running service: no restart
        assert sorted(lake_ids(bus)) == sorted(ids)  # each acked event once
        totals = bus.metrics.pending_points().groupby("metric")["value"].sum().to_dict()
        assert totals[DISK_FULL_ERRORS] == 5 + 1  # the batch of 5, then one event's first retry
    finally:
        service.stop()


def test_a_compaction_the_disk_refuses_keeps_the_originals_and_leaves_no_partial_merge(tmp_path, monkeypatch):
    writer = LakeWriter(tmp_path)
    for i in range(3):
        writer.write([event("OrderPlaced", date(2026, 11, 20), 10 + i, n=i)])
    folder = next(p.parent for p in (tmp_path / "events").rglob("*.parquet"))
    files = sorted(folder.glob("*.parquet"))
    monkeypatch.setattr(compact_module, "_write_synced", FailsThenWorks(compact_module._write_synced, 1))
    with pytest.raises(OSError):
        compact_module.compact_folder(folder, files)
    assert sorted(folder.iterdir()) == files  # the originals, and nothing else
