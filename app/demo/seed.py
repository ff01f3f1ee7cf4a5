"""Seed a local lake: the simulated enterprise publishes its history through the local bus.

Each simulated day goes through :meth:`LocalBus.publish` in virtual time, so rules,
targets, retries, the consumer's outages and the metrics all happen at the events' own
times. The planted truth is written beside the lake as ``ground_truth.json``.

Seeding a fresh lake deletes the lake folder and the local bus's state beside it
(``<lake>/../bus``). Only what is recognisably theirs is deleted, and data only when asked
(:func:`check_replaceable`): ``--lake ~/Documents`` is refused, not emptied.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic

from app import clock
from app.bus.definition import BusDefinition, load_definition
from app.bus.local import LocalBus
from app.demo.enterprise import DemoConfig, Enterprise, write_ground_truth
from app.events import format_time
from app.lake.metric_rollups import METRICS_DIR
from app.lake.metric_rollups import ROLLUP_DIR as METRIC_ROLLUPS
from app.lake.paths import QUARANTINE
from app.lake.rollups import ROLLUP_TABLES, STATE, refresh_rollups
from app.lake.tables import TABLES

Progress = Callable[[int, int, int], None]  # (days done, days total, events so far)


@dataclass(frozen=True)
class SeedReport:
    days: int
    events: int
    seconds: float


def demo_transport(enterprise: Enterprise, definition: BusDefinition):
    """HTTP consumers answered in-process by the simulation, at the simulated moment."""
    consumer_of_url = {e.url: name for name, e in definition.endpoints.items()}

    def send(url: str, event: dict, at: datetime) -> int:
        consumer = consumer_of_url.get(url, url)
        return 503 if enterprise.consumer_is_down(consumer, at) else 200

    return send


SEEDING = "_seeding"  # in the lake while it is seeded: a seed stopped half way may be redone
TRUTH = "ground_truth.json"  # beside the lake (its parent folder)


class SeedRefused(Exception):
    """Seeding would delete what is not a lake's or the bus's, or data without ``force``
    (locally; on aws, a lake that already holds data): one sentence."""


# What the local bus keeps in its state folder (app/bus: journal, rules, buses, schedules,
# connections, archives and replays, tags and policies, dead-letter queues, log targets).
BUS_STATE = frozenset(
    {
        "journal.jsonl",
        "rules.json",
        "buses.json",
        "buses",
        "schedules.json",
        "connections.json",
        "archives.json",
        "archives",
        "replays.json",
        "tags.json",
        "policies.json",
        "dlq",
        "logs",
    }
)
# The files the bus writes inside them (queues, logs and archives are JSON lines; locks and
# work files beside them).
BUS_FILE = re.compile(r".+\.(json|jsonl|lock|tmp)")
# A lake's own files: Parquet, and the hidden work files of its writers (app/lake: writer,
# compaction, rollups).
LAKE_FILE = re.compile(r"[^.].*\.parquet|\..+\.(tmp|compact|compact\.json)")
ROLLUP_STATE_FILE = re.compile(r"\.lock|version|\..+\.tmp")  # in <lake>/_rollups
PARTITIONED = frozenset({*TABLES, *ROLLUP_TABLES, METRICS_DIR, METRIC_ROLLUPS})


def _lake_stranger(lake: Path) -> Path | None:
    """The first entry under ``lake`` that a lake does not hold (None: all are its own):
    table folders of ``key=value`` partitions of Parquet and work files, the rollups' state,
    the quarantine (the lake's own files, moved aside) and the seed's marker."""
    for top in sorted(lake.iterdir()):
        if top.name == SEEDING and top.is_file():
            continue
        if top.name == QUARANTINE and top.is_dir():
            continue
        if top.name == STATE and top.is_dir():
            stranger = _stranger(
                top,
                lambda f: bool(ROLLUP_STATE_FILE.fullmatch(f.name)) or "=" in f.name,
                lambda d: d.name == "dirty",
            )
        elif top.name in PARTITIONED and top.is_dir():
            stranger = _stranger(top, lambda f: bool(LAKE_FILE.fullmatch(f.name)), lambda d: "=" in d.name)
        else:
            return top
        if stranger is not None:
            return stranger
    return None


def _bus_stranger(bus: Path) -> Path | None:
    """The first entry under ``bus`` that the local bus does not keep there (None: all are its own)."""
    for top in sorted(bus.iterdir()):
        if top.name not in BUS_STATE and not (
            top.is_file() and top.name.startswith(".") and BUS_FILE.fullmatch(top.name)
        ):
            return top
        if top.is_dir():
            # Each bus made through the API keeps a lake of its own under buses/.
            own = (
                (lambda f: bool(BUS_FILE.fullmatch(f.name) or LAKE_FILE.fullmatch(f.name)))
                if top.name == "buses"
                else (lambda f: bool(BUS_FILE.fullmatch(f.name)))
            )
            stranger = _stranger(top, own, lambda d: True)
            if stranger is not None:
                return stranger
    return None


def _stranger(
    folder: Path, file_ok: Callable[[Path], bool], folder_ok: Callable[[Path], bool]
) -> Path | None:
    """The first file or folder under ``folder`` that ``file_ok`` / ``folder_ok`` refuse
    (anything that is neither, such as a link or a pipe, is refused too)."""
    for root, folders, files in os.walk(folder):
        for name in sorted(folders):
            path = Path(root, name)
            if path.is_symlink() or not folder_ok(path):
                return path
        for name in sorted(files):
            path = Path(root, name)
            if path.is_symlink() or not path.is_file() or not file_ok(path):
                return path
    return None


def _folder(path: Path) -> bool:
    """Whether ``path`` is a folder to look into (missing: no); a file there is refused."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        kind = "a link" if path.is_symlink() else "a file"
        raise SeedRefused(f"{path} is {kind} where a folder goes: move it, or give --lake another folder")
    return path.is_dir()


def _truth_is_a_seeds(path: Path) -> bool:
    """``ground_truth.json`` as :func:`write_ground_truth` writes it (or none there)."""
    if not path.exists() and not path.is_symlink():
        return True
    try:
        truth = json.loads(path.read_text()) if path.is_file() and not path.is_symlink() else None
    except (OSError, ValueError):
        return False
    return isinstance(truth, dict) and {"seed", "days", "events_per_day", "start", "end"} <= truth.keys()


def check_replaceable(lake: Path, *, force: bool = False) -> None:
    """Raise :class:`SeedRefused` unless a fresh seed may delete ``lake`` and the bus state
    beside it and write ``ground_truth.json`` there: each missing or empty, or holding only
    what a lake, the bus or a seed writes (looked at file by file), and then only with
    ``force`` when they hold any (events, queues, a journal) and the lake was not left by a
    seed stopped half way."""
    try:
        _check_replaceable(Path(lake), force)
    except OSError as error:  # a folder this user may not read: nothing is deleted
        raise SeedRefused(
            f"{error.filename or lake} cannot be read ({error.strerror}): give --lake a folder of your own"
        ) from None


def _check_replaceable(lake: Path, force: bool) -> None:
    bus = lake.parent / "bus"
    in_lake, in_bus = _folder(lake) and any(lake.iterdir()), _folder(bus) and any(bus.iterdir())
    stranger = _lake_stranger(lake) if in_lake else None
    if stranger is not None:
        raise SeedRefused(
            f"{lake} holds {str(stranger.relative_to(lake))!r}, which is not part of a lake: "
            "give --lake a new or empty folder"
        )
    stranger = _bus_stranger(bus) if in_bus else None
    if stranger is not None:
        raise SeedRefused(
            f"{bus} (where the local bus keeps its state, beside the lake) holds "
            f"{str(stranger.relative_to(bus))!r}, which is not the bus's: move it, or put the lake in "
            "another folder"
        )
    truth = lake.parent / TRUTH
    if not _truth_is_a_seeds(truth):
        raise SeedRefused(
            f"{truth} is not a seed's record of its simulated enterprise, and a seed writes its own "
            "there: move it, or put the lake in another folder"
        )
    interrupted = (lake / SEEDING).is_file()  # a seed stopped half way
    if (in_lake or in_bus) and not (force or interrupted):
        raise SeedRefused(
            f"{lake} already holds a lake (or {bus} a bus's state): pass --force to replace them, "
            "or --if-empty to keep them"
        )


@contextmanager
def _only_seed(lake: Path) -> Iterator[None]:
    """Hold a lock on the lake's parent folder for the whole seed (the folder itself: no
    lock file is left anywhere): a second seed there is refused while one runs, where it
    would delete the lake under it."""
    lake.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(lake.parent, os.O_RDONLY)
    try:
        try:
            fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SeedRefused(f"another seed is writing in {lake.parent} now: wait for it to end") from None
        yield
    finally:
        os.close(folder)  # and with it the lock


def seed_lake(
    lake: Path,
    *,
    days: int = 365,
    events_per_day: int = 12_000,
    seed: int = 7,
    end: date | None = None,
    definition: BusDefinition | None = None,
    progress: Progress | None = None,
    fresh: bool = True,
    force: bool = False,
    rollups: bool = True,
) -> SeedReport:
    """Publish ``days`` of the simulated enterprise into ``lake``; ``fresh``: into an empty
    lake and bus, replacing any there only with ``force`` (:func:`check_replaceable`). One
    seed of a lake at a time."""
    lake = Path(lake)
    with _only_seed(lake):
        if fresh:
            check_replaceable(lake, force=force)
            for folder in (lake, lake.parent / "bus"):
                shutil.rmtree(folder, ignore_errors=True)
        lake.mkdir(parents=True, exist_ok=True)
        if fresh:
            (lake / SEEDING).touch()
        report = _publish_history(lake, days, events_per_day, seed, end, definition, progress, rollups)
        (lake / SEEDING).unlink(missing_ok=True)
        return report


def _publish_history(
    lake: Path,
    days: int,
    events_per_day: int,
    seed: int,
    end: date | None,
    definition: BusDefinition | None,
    progress: Progress | None,
    rollups: bool,
) -> SeedReport:
    started, began = clock.now(), monotonic()
    definition = definition or load_definition()
    enterprise = Enterprise(DemoConfig(days=days, events_per_day=events_per_day, seed=seed, end=end))
    last_day = end or clock.today()
    # The seeded history is kept by the lake; archives record what goes through `bus serve`.
    bus = LocalBus(
        definition,
        lake,
        transport=demo_transport(enterprise, definition),
        seed=seed,
        archive=False,
        metrics_now=datetime.combine(last_day + timedelta(days=1), time(), UTC),
    )
    # History stops at this moment: the simulation of today runs to midnight, but events
    # after now have not happened yet (the live publisher sends them as their time comes).
    cutoff = format_time(started)
    total = 0
    for done, batch in enumerate(enterprise.day_batches(), start=1):
        events = (
            [e for e in batch.events if e["time"] <= cutoff] if batch.date >= started.date() else batch.events
        )
        bus.publish(events, virtual_time=True)
        total += len(events)
        if done % 7 == 0:
            bus.flush()
        if progress:
            progress(done, days, total)
    bus.flush()
    if rollups:  # every day closed by now: pages read them from rollups
        refresh_rollups(lake, now=started)
    write_ground_truth(enterprise, lake)
    return SeedReport(days, total, monotonic() - began)


def lake_is_seeded(lake: Path) -> bool:
    """Seeded to the end: events, the truth beside them, and no seed under way or stopped
    half way (whose ``ground_truth.json`` may be an earlier seed's)."""
    lake = Path(lake)
    return (
        (lake.parent / "ground_truth.json").exists()
        and not (lake / SEEDING).exists()
        and any((lake / "events").glob("dt=*"))
    )
