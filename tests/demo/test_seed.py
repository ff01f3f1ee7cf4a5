import json
import tempfile
import threading
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from app.demo.seed import BUS_STATE, SEEDING, SeedRefused, check_replaceable, lake_is_seeded, seed_lake
from tests.instant import NOW


@pytest.mark.dated
def test_seeding_history_stops_at_now_and_records_metrics_and_truth(tmp_path):
    lake = tmp_path / "lake"
    report = seed_lake(lake, days=3, events_per_day=600, seed=3)
    times = ds.dataset(lake / "events", format="parquet", partitioning="hive").to_table(columns=["time"])[
        "time"
    ]
    assert report.events == len(times) > 0
    assert max(times.to_pylist()) <= NOW
    assert (NOW - min(times.to_pylist())).days <= 3
    assert lake_is_seeded(lake)
    assert (tmp_path / "ground_truth.json").exists()
    assert any((lake / "_bus_metrics").rglob("*.parquet"))
    assert not list((tmp_path / "bus").rglob("archives/*/*")), (
        "seeded history is the lake's, not archived again"
    )


# --- what a fresh seed may delete (app/demo/seed.py: check_replaceable) ------------------

SMALL = ["--days", "1", "--events-per-day", "200", "--quiet"]


@pytest.mark.parametrize(
    ("where", "name"),
    [
        pytest.param("lake", "thesis.docx", id="a-document-in-the-lake-folder"),
        pytest.param("lake", ".git/config", id="a-repository-in-the-lake-folder"),
        pytest.param("bus", "holiday.jpg", id="a-photo-in-the-bus-folder-beside"),
        # Folders named as a lake's or the bus's, holding what they never write:
        pytest.param("lake", "orders/invoice-2025-001.pdf", id="a-table-named-folder-of-invoices"),
        pytest.param("lake", "events/dt=2026-01-01/.secret", id="a-hidden-file-in-a-partition"),
        pytest.param("lake", "events/holidays/photo.parquet", id="a-folder-that-is-no-partition"),
        pytest.param("lake", "_private/secret.txt", id="an-underscore-folder-of-the-user"),
        pytest.param("lake", "_rollups/diary.txt", id="a-file-in-the-rollups-state"),
        pytest.param("bus", "logs/mine.log", id="a-log-of-the-user-in-the-bus-logs"),
    ],
)
def test_a_folder_holding_what_is_not_a_lake_or_a_bus_is_refused_and_kept(tmp_path, capsys, where, name):
    from app.cli.main import main

    lake = tmp_path / "lake"
    planted = tmp_path / where / name
    planted.parent.mkdir(parents=True)
    planted.write_text("mine")
    before = sorted(tmp_path.rglob("*"))
    for force in ([], ["--force"]):
        assert main(["demo", "seed", "--lake", str(lake), *SMALL, *force]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err
        parts = name.split("/")  # the entry named: the planted file or a folder holding it
        assert any(repr("/".join(parts[:n])) in err for n in range(1, len(parts) + 1)), err
        assert planted.read_text() == "mine"
        assert sorted(tmp_path.rglob("*")) == before  # nothing deleted, nothing seeded


def test_a_seeded_lake_is_replaced_only_with_force(tmp_path, capsys):
    from app.cli.main import main

    lake = tmp_path / "lake"
    assert main(["demo", "seed", "--lake", str(lake), *SMALL]) == 0
    days = sorted(p.name for p in (lake / "events").iterdir())
    (lake / "events" / "dt=2001-01-01").mkdir()  # stands for data only this lake holds
    capsys.readouterr()
    assert main(["demo", "seed", "--lake", str(lake), *SMALL]) == 2
    err = capsys.readouterr().err.strip()
    assert "--force" in err and "--if-empty" in err and "\n" not in err
    assert (lake / "events" / "dt=2001-01-01").is_dir()
    assert main(["demo", "seed", "--lake", str(lake), *SMALL, "--force"]) == 0
    assert sorted(p.name for p in (lake / "events").iterdir()) == days


EARLIER_TRUTH = {"seed": 7, "days": 2, "events_per_day": 300, "start": "2026-12-05", "end": "2026-12-07"}


def test_a_seed_stopped_half_way_is_redone_without_force(tmp_path):
    lake = tmp_path / "lake"
    (lake / "events" / "dt=2026-01-01").mkdir(parents=True)
    (lake / SEEDING).touch()  # what a seed killed before its end leaves
    (tmp_path / "bus" / "dlq").mkdir(parents=True)
    check_replaceable(lake)  # no SeedRefused
    (tmp_path / "ground_truth.json").write_text(json.dumps(EARLIER_TRUTH))  # an earlier seed's
    assert not lake_is_seeded(lake)  # `make run` (--if-empty) seeds it again
    (lake / SEEDING).unlink()
    assert lake_is_seeded(lake)
    with pytest.raises(SeedRefused, match="--force"):
        check_replaceable(lake)


def test_a_seed_leaves_no_marker_and_an_empty_or_missing_folder_needs_no_force(tmp_path):
    lake = tmp_path / "lake"
    check_replaceable(lake)
    lake.mkdir()
    check_replaceable(lake)
    seed_lake(lake, days=1, events_per_day=200, seed=3)
    assert not (lake / SEEDING).exists()
    with pytest.raises(SeedRefused):
        check_replaceable(lake)


def test_a_file_where_the_lake_or_the_bus_folder_goes_is_refused(tmp_path):
    (tmp_path / "lake").write_text("not a folder")
    with pytest.raises(SeedRefused, match="is a file"):
        check_replaceable(tmp_path / "lake")
    (tmp_path / "lake").unlink()
    (tmp_path / "bus").write_text("not a folder")
    with pytest.raises(SeedRefused, match="is a file"):
        check_replaceable(tmp_path / "lake", force=True)


def test_every_file_the_bus_keeps_in_its_state_folder_is_known_to_the_seed():
    """A drift guard: a state file added to app/bus and not to BUS_STATE would make a fresh
    seed refuse a bus folder it made itself. The names the bus code writes there: every
    ``state_dir / "name"`` and every ``*.json`` / ``*.jsonl`` file name constant."""
    import re

    import app.bus

    names: set[str] = set()
    for source in Path(app.bus.__file__).parent.rglob("*.py"):
        text = source.read_text()
        names |= set(re.findall(r'state_dir\)?\s*/\s*"([^"]+)"', text))
        names |= set(re.findall(r'^[A-Z_]+ = "([\w.-]+\.jsonl?)"', text, flags=re.MULTILINE))
    assert {"journal.jsonl", "dlq", "rules.json", "archives", "replays.json"} <= names  # it finds them
    assert names <= BUS_STATE, sorted(names - BUS_STATE)


def test_a_seed_stopped_half_way_does_not_cover_what_is_not_a_lake(tmp_path):
    lake = tmp_path / "lake"
    (lake / "_private").mkdir(parents=True)
    (lake / "_private" / "secret.txt").write_text("mine")
    (lake / SEEDING).touch()
    with pytest.raises(SeedRefused, match="_private"):
        check_replaceable(lake, force=True)


@pytest.mark.parametrize(
    "truth",
    [
        pytest.param('{"my": "notes"}', id="a-json-file-of-the-user"),
        pytest.param("not json at all", id="a-text-file"),
        pytest.param(None, id="a-folder"),
    ],
)
def test_a_ground_truth_json_beside_the_lake_that_no_seed_wrote_is_kept(tmp_path, truth):
    path = tmp_path / "ground_truth.json"
    if truth is None:
        path.mkdir()
    else:
        path.write_text(truth)
    with pytest.raises(SeedRefused, match=r"ground_truth\.json is not a seed's"):
        seed_lake(tmp_path / "lake", days=1, events_per_day=200, force=True)
    assert path.is_dir() if truth is None else path.read_text() == truth
    path.unlink() if truth is not None else path.rmdir()
    path.write_text(json.dumps(EARLIER_TRUTH))
    check_replaceable(tmp_path / "lake")  # an earlier seed's is replaced


def test_a_second_seed_of_the_same_lake_is_refused_while_the_first_runs(tmp_path):
    from app.demo import seed as seeding

    lake = tmp_path / "lake"
    inside, release = threading.Event(), threading.Event()
    original = seeding._publish_history

    def slow(*args, **kwargs):
        inside.set()
        release.wait(30)
        return original(*args, **kwargs)

    seeding._publish_history = slow
    try:
        first = threading.Thread(target=seed_lake, args=(lake,), kwargs={"days": 1, "events_per_day": 200})
        first.start()
        assert inside.wait(30)
        with pytest.raises(SeedRefused, match="another seed is writing in"):
            seed_lake(lake, days=1, events_per_day=200, force=True)
        assert (lake / SEEDING).exists()  # the first seed's lake was not deleted under it
        release.set()
        first.join(60)
    finally:
        seeding._publish_history = original
        release.set()
    assert lake_is_seeded(lake)


def test_a_folder_that_cannot_be_read_is_refused_in_one_sentence(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "orders").mkdir()

    def unreadable(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", unreadable)
    with pytest.raises(SeedRefused, match=r"cannot be read \(Permission denied\)"):
        check_replaceable(lake, force=True)


def test_a_bus_made_through_the_api_with_its_own_lake_is_the_bus_s(tmp_path):
    own = tmp_path / "bus" / "buses" / "123456789012" / "us-east-1" / "mine"
    (own / "_bus_metrics" / "dt=2026-01-01").mkdir(parents=True)
    (own / "_bus_metrics" / "dt=2026-01-01" / "part-1.parquet").write_bytes(b"PAR1")
    (own / "rules.json").write_text("[]")
    check_replaceable(tmp_path / "lake", force=True)  # no SeedRefused: all of it is the bus's
    (own / "notes.txt").write_text("mine")
    with pytest.raises(SeedRefused, match=r"notes\.txt"):
        check_replaceable(tmp_path / "lake", force=True)


def test_a_seed_leaves_no_lock_file(tmp_path):
    before = set(Path(tempfile.gettempdir()).iterdir())
    seed_lake(tmp_path / "lake", days=1, events_per_day=200)
    assert set(tmp_path.iterdir()) == {tmp_path / n for n in ("lake", "bus", "ground_truth.json")}
    assert not {p for p in set(Path(tempfile.gettempdir()).iterdir()) - before if "verticals" in p.name}
