"""Compaction: merge a partition's many small Parquet files into one.

The live bus writes a file per partition per delivery batch; thousands of small files
make every query open thousands of files. ``compact`` rewrites each partition folder
holding more than ``min_files`` small files as one file, then removes the originals.

Readers never see an event twice: the merged file is written under a hidden name with a
manifest naming the files it replaces, the originals are unlinked, then the merged file is
renamed into place (for that instant a reader may miss the partition's compacted events).
A crash in between leaves the hidden file and its manifest; the next run finishes the job.

Each run then refreshes the rollups (:func:`app.lake.rollups.refresh_rollups`): closed
days not rolled up yet, and days that late events made dirty.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from app.lake.paths import QUARANTINE
from app.lake.rollups import refresh_rollups
from app.lake.writer import COMPRESSION

SMALL_FILE_BYTES = 8 * 1024 * 1024
PENDING_SUFFIX = ".compact"


@dataclass(frozen=True)
class CompactionReport:
    partitions: int
    files_before: int
    files_after: int
    rollup_days: int = 0  # days whose rollups were built or rebuilt (app/lake/rollups.py)


def small_files(folder: Path, min_age_s: float, now: float) -> list[Path]:
    """Files old enough that no writer is still renaming them into place, and small."""
    return sorted(
        p
        for p in folder.glob("*.parquet")
        if p.stat().st_size < SMALL_FILE_BYTES and now - p.stat().st_mtime >= min_age_s
    )


def compact_folder(folder: Path, files: list[Path]) -> Path:
    # Each file keeps the writer's schema, so they concatenate without casts.
    table = pa.concat_tables([pq.read_table(f, partitioning=None) for f in files])
    final = folder / f"compacted-{files[0].stem.removeprefix('part-')}.parquet"
    pending = folder / f".{final.name}{PENDING_SUFFIX}"
    try:
        pq.write_table(table, pending, compression=COMPRESSION)
        _write_synced(_manifest(pending), json.dumps([f.name for f in files]).encode())
    except OSError:
        # A full disk before the manifest is whole: the originals are untouched; drop the
        # partial merge (and a torn manifest a restart's finish_interrupted would trust).
        _manifest(pending).unlink(missing_ok=True)
        pending.unlink(missing_ok=True)
        raise
    _finish(pending)
    return final


def _manifest(pending: Path) -> Path:
    return pending.with_name(pending.name + ".json")


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _finish(pending: Path) -> None:
    """Unlink the files the manifest names, then put the merged file in place."""
    manifest = _manifest(pending)
    for name in json.loads(manifest.read_text()):
        (pending.parent / name).unlink(missing_ok=True)
    os.replace(pending, pending.with_name(pending.name[1:].removesuffix(PENDING_SUFFIX)))
    manifest.unlink()


def finish_interrupted(root: Path) -> None:
    """Complete compactions a crash interrupted; drop merged files that have no manifest."""
    for pending in root.rglob(f".*{PENDING_SUFFIX}"):
        if _manifest(pending).exists():
            _finish(pending)
        else:
            pending.unlink()  # died before the manifest: the originals are all still there


def compact(lake: Path, *, min_files: int = 8, min_age_s: float = 60.0) -> CompactionReport:
    """Merge small files in every partition folder of the lake that has ``min_files`` or more."""
    root = Path(lake)
    finish_interrupted(root)
    now = time.time()
    folders = {p.parent for p in root.rglob("*.parquet") if p.relative_to(root).parts[0] != QUARANTINE}
    partitions = before = after = 0
    for folder in sorted(folders):
        files = small_files(folder, min_age_s, now)
        if len(files) < min_files:
            continue
        compact_folder(folder, files)
        partitions += 1
        before += len(files)
        after += 1
    # The same periodic step keeps the rollups: closed days rolled up, dirty ones rebuilt.
    rolled = refresh_rollups(root).days_built
    return CompactionReport(partitions, before, after, rolled)
