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
        pytest.param("lake", ".git", id="a-repository-in-the-lake-folder"),
        pytest.param("bus", "holiday.jpg", id="a-photo-in-the-bus-folder-beside"),
    ],
)
def test_a_folder_holding_what_is_not_a_lake_or_a_bus_is_refused_and_kept(tmp_path, capsys, where, name):
    from app.cli.main import main

    lake = tmp_path / "lake"
    (tmp_path / where).mkdir()
    (tmp_path / where / name).write_text("mine")
    for force in ([], ["--force"]):
        assert main(["demo", "seed", "--lake", str(lake), *SMALL, *force]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and repr(name) in err and "\n" not in err
        assert (tmp_path / where / name).read_text() == "mine"
        assert not (lake / "events").exists()


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


def test_a_seed_stopped_half_way_is_redone_without_force(tmp_path):
    lake = tmp_path / "lake"
    (lake / "events" / "dt=2026-01-01").mkdir(parents=True)
    (lake / SEEDING).touch()  # what a seed killed before its end leaves
    (tmp_path / "bus" / "dlq").mkdir(parents=True)
    check_replaceable(lake)  # no SeedRefused
    (tmp_path / "ground_truth.json").write_text("{}")  # an earlier seed's
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
    from pathlib import Path

    import app.bus

    names: set[str] = set()
    for source in Path(app.bus.__file__).parent.rglob("*.py"):
        text = source.read_text()
        names |= set(re.findall(r'state_dir\)?\s*/\s*"([^"]+)"', text))
        names |= set(re.findall(r'^[A-Z_]+ = "([\w.-]+\.jsonl?)"', text, flags=re.MULTILINE))
    assert {"journal.jsonl", "dlq", "rules.json", "archives", "replays.json"} <= names  # it finds them
    assert names <= BUS_STATE, sorted(names - BUS_STATE)
