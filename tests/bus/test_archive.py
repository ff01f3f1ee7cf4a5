"""Archives and replays: what is archived, what a replay sends where, and the API's errors."""

import json
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from app.bus.api import BusApi
from app.bus.archive import Archive, ArchiveStore, Replay, ReplayStore, replay_batches
from app.bus.definition import parse_definition
from app.bus.journal import Journal
from app.bus.local import LocalBus
from app.bus.rule_store import RuleStore

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/test-bus"
ARCHIVE_ARN = "arn:aws:events:us-east-1:123456789012:archive/"
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/test-bus/"

DEFINITION = parse_definition(
    {
        "bus": "test-bus",
        "rules": [
            {
                "name": "to-lake",
                "pattern": {"source": [{"prefix": "shop"}]},
                "targets": [{"id": "lake", "kind": "lake"}],
            },
            {
                "name": "orders",
                "pattern": {"detail-type": ["OrderPlaced"]},
                "targets": [{"id": "q", "kind": "queue", "queue": "orders"}],
            },
            {
                "name": "live-only",
                "pattern": {"detail-type": ["OrderPlaced"], "replay-name": [{"exists": False}]},
                "targets": [{"id": "q", "kind": "queue", "queue": "live"}],
            },
        ],
    }
)


def entry(minute=0, detail_type="OrderPlaced", source="shop", **detail):
    return {
        "Source": source,
        "DetailType": detail_type,
        "Time": NOW + timedelta(minutes=minute),
        "Detail": json.dumps(detail or {"order_id": f"o{minute}", "amount": 10.0}),
    }


def make_api(tmp_path, journal=None):
    bus = LocalBus(DEFINITION, tmp_path / "lake", journal=journal)
    return BusApi(bus, RuleStore(tmp_path / "bus" / "rules.json")), bus


def put(bus, *entries):
    return [e["EventId"] for e in bus.put_events(list(entries), now=NOW)["Entries"]]


def queue(bus, rule):
    return bus.targets[(rule, "q")]


def lake_ids(lake, table="events", column="id"):
    files = list((lake / table).rglob("*.parquet"))
    return sorted(i for f in files for i in pq.read_table(f, columns=[column]).column(column).to_pylist())


def create_archive(api, name="all", **extra):
    return api.call("CreateArchive", {"ArchiveName": name, "EventSourceArn": BUS_ARN, **extra})


def start_replay(api, name="r1", archive="all", start=NOW, end=NOW + timedelta(hours=1), **destination):
    return api.call(
        "StartReplay",
        {
            "ReplayName": name,
            "EventSourceArn": ARCHIVE_ARN + archive,
            "EventStartTime": start.timestamp(),
            "EventEndTime": end.timestamp(),
            "Destination": {"Arn": BUS_ARN, **destination},
        },
    )


# -- archiving ---------------------------------------------------------------------------


def test_an_archive_keeps_the_events_its_pattern_matches_from_its_creation_on(tmp_path):
    api, bus = make_api(tmp_path)
    before = put(bus, entry(0))
    create_archive(api, "orders", EventPattern=json.dumps({"detail-type": ["OrderPlaced"]}))
    create_archive(api, "all")
    order, stock = put(bus, entry(1), entry(2, "StockOut", "erp"))
    archived = {name: [e["id"] for _, e in bus.archives.events(name, 0, 2e9)] for name in ("orders", "all")}
    assert archived == {"orders": [order], "all": [order, stock]}
    assert before[0] not in archived["all"]
    described = api.call("DescribeArchive", {"ArchiveName": "all"})
    assert described["EventCount"] == 2 and described["SizeBytes"] > 0
    assert described["ArchiveArn"] == ARCHIVE_ARN + "all" and described["State"] == "ENABLED"
    assert "EventPattern" not in described
    assert json.loads(api.call("DescribeArchive", {"ArchiveName": "orders"})["EventPattern"]) == {
        "detail-type": ["OrderPlaced"]
    }


def test_archives_survive_a_restart(tmp_path):
    api, bus = make_api(tmp_path)
    create_archive(api, "all", RetentionDays=7, Description="everything")
    put(bus, entry(1))
    _, restarted = make_api(tmp_path)
    assert restarted.archives.archives["all"].retention_days == 7
    assert restarted.archives.stats("all")[0] == 1


def test_retention_drops_days_older_than_the_archive_keeps(tmp_path):
    store = ArchiveStore(tmp_path)
    store.put(Archive("week", None, retention_days=7))
    store.put(Archive("forever", None))
    old = {"id": "old", "time": "2026-11-01T10:00:00Z"}
    new = {"id": "new", "time": "2026-11-19T10:00:00Z"}
    for name in ("week", "forever"):
        store.append(name, [old, new])
    assert store.expire(NOW.timestamp()) == 1
    assert [e["id"] for _, e in store.events("week", 0, 2e9)] == ["new"]
    assert [e["id"] for _, e in store.events("forever", 0, 2e9)] == ["old", "new"]
    assert store.stats("week") == (1, len(json.dumps(new, separators=(",", ":"))) + 1)


def test_an_event_archived_twice_is_read_once(tmp_path):
    store = ArchiveStore(tmp_path)
    store.put(Archive("a", None))
    event = {"id": "e1", "time": "2026-11-20T10:00:00Z"}
    store.append("a", [event])
    store.append("a", [event])  # a crash after archiving, before the journal's mark
    assert [e["id"] for _, e in store.events("a", 0, 2e9)] == ["e1"]


def test_an_event_accepted_before_a_crash_is_archived_once_after_recovery(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    api, bus = make_api(tmp_path, journal)
    create_archive(api, "all")
    response, _ = bus.accept_entries([entry(1), entry(2)], NOW)  # the process dies before routing
    journal.close()
    restarted_journal = Journal(tmp_path / "j.jsonl")
    _, restarted = make_api(tmp_path, restarted_journal)
    restarted.recover(restarted_journal.recover())
    archived = [e["id"] for _, e in restarted.archives.events("all", 0, 2e9)]
    assert sorted(archived) == sorted(e["EventId"] for e in response["Entries"])
    assert restarted.archives.stats("all")[0] == 2
    assert restarted_journal.open == {}


# -- replay ------------------------------------------------------------------------------


def test_a_replay_sends_the_window_to_every_rule_with_replay_name_and_the_same_ids(tmp_path):
    api, bus = make_api(tmp_path)
    create_archive(api, "all")
    ids = put(bus, entry(0), entry(5), entry(70))
    answer = start_replay(api, end=NOW + timedelta(minutes=60))
    assert answer["State"] == "STARTING" and answer["ReplayArn"].endswith(":replay/r1")
    replayed = list(queue(bus, "orders").messages)[3:]
    assert [e["id"] for e in replayed] == ids[:2]  # the 70th minute is outside the window
    assert {e["replay-name"] for e in replayed} == {"r1"}
    assert len(queue(bus, "live-only").messages) == 3  # a rule may refuse replays by pattern
    described = api.call("DescribeReplay", {"ReplayName": "r1"})
    assert described["State"] == "COMPLETED"
    assert described["EventLastReplayedTime"] == (NOW + timedelta(minutes=5)).timestamp()
    assert described["Destination"] == {"Arn": BUS_ARN}
    assert described["ReplayEndTime"] >= described["ReplayStartTime"]


def test_a_replay_to_chosen_rules_reaches_only_them(tmp_path):
    api, bus = make_api(tmp_path)
    create_archive(api, "all")
    put(bus, entry(1))
    start_replay(api, FilterArns=[RULE_ARN + "to-lake"])
    assert len(queue(bus, "orders").messages) == 1  # the live delivery only
    assert api.call("DescribeReplay", {"ReplayName": "r1"})["Destination"]["FilterArns"] == [
        RULE_ARN + "to-lake"
    ]


def test_the_lake_counts_a_replayed_event_once(tmp_path):
    api, bus = make_api(tmp_path)
    create_archive(api, "all")
    ids = put(bus, entry(1), entry(2))
    before = lake_ids(tmp_path / "lake"), lake_ids(tmp_path / "lake", "orders", "event_id")
    start_replay(api)
    assert (lake_ids(tmp_path / "lake"), lake_ids(tmp_path / "lake", "orders", "event_id")) == before
    assert before[0] == sorted(ids)


def test_a_replay_fills_in_an_event_the_lake_lacks_once_and_marks_it(tmp_path):
    api, bus = make_api(tmp_path)
    create_archive(api, "all")
    bus.remove_rule("to-lake")  # the lake misses the live events
    ids = put(bus, entry(1))
    bus.add_rule(DEFINITION.rule("to-lake"))
    start_replay(api)
    start_replay(api, "r2")
    lake = tmp_path / "lake"
    assert lake_ids(lake) == ids and lake_ids(lake, "orders", "event_id") == ids
    rows = pq.read_table(next((lake / "events").rglob("*.parquet"))).to_pylist()
    assert rows[0]["replay_name"] == "r1"


def test_replayed_events_are_not_archived_again(tmp_path):
    api, bus = make_api(tmp_path)
    create_archive(api, "all")
    put(bus, entry(1))
    start_replay(api)
    assert bus.archives.stats("all")[0] == 1


def test_replay_batches_hold_whole_minutes_in_time_order():
    events = [(60.0 * m + s, {"id": f"{m}-{s}"}) for m in range(3) for s in (0, 30)]
    batches = list(replay_batches(iter(events), "r", size=3))
    assert [[e["id"] for e in b] for _, b in batches] == [["0-0", "0-30", "1-0", "1-30"], ["2-0", "2-30"]]
    assert [last for last, _ in batches] == [90.0, 150.0]
    assert all(e["replay-name"] == "r" for _, b in batches for e in b)


def test_a_cancelled_replay_stops_before_its_next_batch(tmp_path):
    api, bus = make_api(tmp_path)
    create_archive(api, "all")
    put(bus, *[entry(m) for m in range(3)])
    api.run_replay = lambda name: None  # the server would run it on a thread
    start_replay(api)
    assert api.call("CancelReplay", {"ReplayName": "r1"})["State"] == "CANCELLING"
    assert bus.run_replay("r1").state == "CANCELLED"
    assert len(queue(bus, "orders").messages) == 3  # nothing replayed


def test_a_replay_the_bus_stopped_during_is_failed_at_the_next_start(tmp_path):
    store = ReplayStore(tmp_path)
    store.add(Replay("r1", "all", 0, 1, state="RUNNING"))
    store.add(Replay("r2", "all", 0, 1, state="COMPLETED"))
    assert ReplayStore(tmp_path).fail_interrupted(5.0) == ["r1"]
    reloaded = ReplayStore(tmp_path).replays
    assert (reloaded["r1"].state, reloaded["r1"].ended, reloaded["r2"].state) == ("FAILED", 5.0, "COMPLETED")


def test_list_archives_and_replays(tmp_path):
    api, _bus = make_api(tmp_path)
    create_archive(api, "a1")
    create_archive(api, "b1")
    assert [a["ArchiveName"] for a in api.call("ListArchives", {})["Archives"]] == ["a1", "b1"]
    assert [a["ArchiveName"] for a in api.call("ListArchives", {"NamePrefix": "b"})["Archives"]] == ["b1"]
    start_replay(api, "r1", "a1")
    start_replay(api, "r2", "b1")
    listed = api.call("ListReplays", {"EventSourceArn": ARCHIVE_ARN + "b1"})["Replays"]
    assert [(r["ReplayName"], r["State"]) for r in listed] == [("r2", "COMPLETED")]
    assert api.call("ListReplays", {"State": "RUNNING"})["Replays"] == []
    api.call("DeleteArchive", {"ArchiveName": "a1"})
    assert [a["ArchiveName"] for a in api.call("ListArchives", {})["Archives"]] == ["b1"]


def test_update_archive_changes_its_pattern_and_retention(tmp_path):
    api, bus = make_api(tmp_path)
    create_archive(api, "a")
    api.call(
        "UpdateArchive",
        {"ArchiveName": "a", "EventPattern": json.dumps({"source": ["erp"]}), "RetentionDays": 3},
    )
    put(bus, entry(1), entry(2, "StockOut", "erp"))
    assert [e["source"] for _, e in bus.archives.events("a", 0, 2e9)] == ["erp"]
    assert api.call("DescribeArchive", {"ArchiveName": "a"})["RetentionDays"] == 3


# -- errors ------------------------------------------------------------------------------


def _started(api):
    create_archive(api, "all")
    start_replay(api, "done")


@pytest.mark.parametrize(
    "operation, request_, code, words",
    [
        pytest.param(
            "CreateArchive",
            {"ArchiveName": "all", "EventSourceArn": BUS_ARN},
            "ResourceAlreadyExistsException",
            "Archive all already exists",
            id="archive-exists",
        ),
        pytest.param(
            "CreateArchive",
            {"ArchiveName": "x" * 49, "EventSourceArn": BUS_ARN},
            "ValidationException",
            "length less than or equal to 48",
            id="archive-name-too-long",
        ),
        pytest.param(
            "CreateArchive",
            {"ArchiveName": "a b", "EventSourceArn": BUS_ARN},
            "ValidationException",
            "regular expression pattern",
            id="archive-name-characters",
        ),
        pytest.param(
            "CreateArchive",
            {"ArchiveName": "x", "EventSourceArn": BUS_ARN, "EventPattern": "{bad"},
            "InvalidEventPatternException",
            "",
            id="archive-invalid-pattern",
        ),
        pytest.param(
            "CreateArchive",
            {"ArchiveName": "x", "EventSourceArn": BUS_ARN, "RetentionDays": -1},
            "ValidationException",
            "greater than or equal to 0",
            id="negative-retention",
        ),
        pytest.param(
            "CreateArchive",
            {"ArchiveName": "x", "EventSourceArn": "arn:aws:events:us-east-1:123456789012:event-bus/other"},
            "ResourceNotFoundException",
            "Event bus other does not exist",
            id="archive-unknown-bus",
        ),
        pytest.param(
            "DescribeArchive",
            {"ArchiveName": "missing"},
            "ResourceNotFoundException",
            "Archive missing does not exist",
            id="describe-missing-archive",
        ),
        pytest.param(
            "StartReplay",
            {
                "ReplayName": "r",
                "EventSourceArn": ARCHIVE_ARN + "missing",
                "EventStartTime": 0,
                "EventEndTime": 1,
                "Destination": {"Arn": BUS_ARN},
            },
            "ValidationException",
            "Parameter EventSourceArn is not valid. Reason: Archive missing does not exist.",
            id="replay-unknown-archive",
        ),
        pytest.param(
            "StartReplay",
            {
                "ReplayName": "r",
                "EventSourceArn": ARCHIVE_ARN + "all",
                "EventStartTime": 5,
                "EventEndTime": 5,
                "Destination": {"Arn": BUS_ARN},
            },
            "ValidationException",
            "EventStartTime must be before EventEndTime",
            id="replay-empty-window",
        ),
        pytest.param(
            "StartReplay",
            {
                "ReplayName": "r",
                "EventSourceArn": ARCHIVE_ARN + "all",
                "EventStartTime": 0,
                "EventEndTime": 1,
                "Destination": {"Arn": "arn:aws:events:us-east-1:123456789012:event-bus/other"},
            },
            "ResourceNotFoundException",
            "Event bus other does not exist.",
            id="replay-other-bus",
        ),
        pytest.param(
            "StartReplay",
            {
                "ReplayName": "r",
                "EventSourceArn": ARCHIVE_ARN + "all",
                "EventStartTime": 0,
                "EventEndTime": 1,
                "Destination": {"Arn": BUS_ARN, "FilterArns": [RULE_ARN + "nope"]},
            },
            "ResourceNotFoundException",
            "Rule nope does not exist",
            id="replay-unknown-rule",
        ),
        pytest.param(
            "StartReplay",
            {
                "ReplayName": "done",
                "EventSourceArn": ARCHIVE_ARN + "all",
                "EventStartTime": 0,
                "EventEndTime": 1,
                "Destination": {"Arn": BUS_ARN},
            },
            "ResourceAlreadyExistsException",
            "Replay done already exists",
            id="replay-exists",
        ),
        pytest.param(
            "StartReplay",
            {
                "ReplayName": "r",
                "EventSourceArn": ARCHIVE_ARN + "all",
                "EventStartTime": 0,
                "Destination": {"Arn": BUS_ARN},
            },
            "ValidationException",
            "eventEndTime",
            id="replay-no-end",
        ),
        pytest.param(
            "DescribeReplay",
            {"ReplayName": "missing"},
            "ResourceNotFoundException",
            "Replay missing does not exist",
            id="describe-missing-replay",
        ),
        pytest.param(
            "CancelReplay",
            {"ReplayName": "done"},
            "IllegalStatusException",
            "not in a valid state",
            id="cancel-completed",
        ),
        pytest.param(
            "ListArchives",
            {"NamePrefix": "a", "State": "ENABLED"},
            "ValidationException",
            "At most one filter",
            id="list-two-filters",
        ),
        pytest.param(
            "ListReplays", {"State": "DONE"}, "ValidationException", "enum value set", id="list-unknown-state"
        ),
    ],
)
def test_archive_and_replay_errors_carry_eventbridge_names(tmp_path, operation, request_, code, words):
    api, _ = make_api(tmp_path)
    _started(api)
    with pytest.raises(Exception) as excinfo:
        api.call(operation, request_)
    assert excinfo.value.code == code
    assert words in excinfo.value.message
