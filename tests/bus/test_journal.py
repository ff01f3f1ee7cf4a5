"""The journal: accepted events survive a crash and are delivered once after it."""

import json
from datetime import UTC, datetime

from app.bus.definition import parse_definition
from app.bus.journal import Journal, ids_in_lake
from app.bus.local import LocalBus

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DEFINITION = parse_definition(
    {
        "bus": "b",
        "rules": [
            {"name": "lake", "pattern": {"source": ["shop"]}, "targets": [{"id": "lake", "kind": "lake"}]},
            {
                "name": "log",
                "pattern": {"source": ["shop"]},
                "targets": [{"id": "log", "kind": "log", "log": "ops"}],
            },
        ],
    }
)


def entries(n):
    return [{"Source": "shop", "DetailType": "OrderPlaced", "Detail": json.dumps({"n": i})} for i in range(n)]


def bus_over(tmp_path, journal):
    return LocalBus(DEFINITION, tmp_path / "lake", journal=journal)


def test_a_delivered_event_is_settled_and_compacted_away(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    bus_over(tmp_path, journal).put_events(entries(3), now=NOW)
    assert journal.open == {}
    assert Journal(tmp_path / "j.jsonl").recover() == []
    assert (tmp_path / "j.jsonl").read_text() == ""


def test_events_accepted_but_not_delivered_are_recovered(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    bus = bus_over(tmp_path, journal)
    response, _accepted = bus.accept_entries(entries(4), NOW)  # crash before routing
    recovered = Journal(tmp_path / "j.jsonl").recover()
    assert sorted(e.event["id"] for e in recovered) == sorted(e["EventId"] for e in response["Entries"])
    assert all(e.ingested == NOW.timestamp() for e in recovered)


def test_a_lake_write_whose_done_mark_was_lost_is_not_written_twice(tmp_path, monkeypatch):
    journal = Journal(tmp_path / "j.jsonl")
    bus = bus_over(tmp_path, journal)
    monkeypatch.setattr(journal, "done", lambda *args: None)  # the process dies after each write
    ids = sorted(e["EventId"] for e in bus.put_events(entries(5), now=NOW)["Entries"])
    monkeypatch.undo()
    journal.close()

    restarted = Journal(tmp_path / "j.jsonl")
    bus = bus_over(tmp_path, restarted)
    assert bus.recover(restarted.recover()) == 5
    in_lake = sorted(ids_in_lake(tmp_path / "lake", list(restarted_events(tmp_path, ids))))
    assert in_lake == ids
    lake_rows = list((tmp_path / "lake" / "events").rglob("*.parquet"))
    assert len(lake_rows) == 1  # no second file: nothing was written again
    logged = (tmp_path / "bus" / "logs" / "ops.jsonl").read_text().splitlines()
    assert len(logged) == 10  # the log target has no dedupe: at-least-once, as EventBridge
    assert restarted.open == {}


def restarted_events(tmp_path, ids):
    return [{"id": i, "time": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "source": "shop"} for i in ids]


def test_done_marks_skip_targets_already_served(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    bus = bus_over(tmp_path, journal)
    _, accepted = bus.accept_entries(entries(2), NOW)
    journal.done([accepted[0]["id"]], "log", "log")
    recovered = Journal(tmp_path / "j.jsonl")
    bus_over(tmp_path, recovered).recover(recovered.recover())
    logged = [
        json.loads(line)["id"] for line in (tmp_path / "bus" / "logs" / "ops.jsonl").read_text().splitlines()
    ]
    assert logged == [accepted[1]["id"]]


def test_a_torn_last_line_is_ignored(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    bus_over(tmp_path, journal).accept_entries(entries(1), NOW)
    journal.close()
    with (tmp_path / "j.jsonl").open("a") as f:
        f.write('{"a": [{"id": "half')
    assert len(Journal(tmp_path / "j.jsonl").recover()) == 1


def test_ids_in_lake_finds_events_whose_source_the_lake_encodes(tmp_path):
    # Replays ask which ids the lake holds: the folder must be the writer's own, encoded one.
    from app.lake.writer import LakeWriter
    from tests.fixtures_lake import event

    sent = [
        event("OrderPlaced", datetime(2026, 3, 4, tzinfo=UTC).date(), 8, order_id=f"o{k}") for k in range(3)
    ]
    sent[0]["source"] = "aws.partner/example.com/123"
    sent[1]["source"] = "Verticals.Shop"
    LakeWriter(tmp_path / "lake").write(sent)
    assert ids_in_lake(tmp_path / "lake", sent) == {e["id"] for e in sent}
    outside = {**sent[2], "id": "x", "source": "../../etc"}
    assert ids_in_lake(tmp_path / "lake", [outside]) == set()
