"""Compaction: merge a partition's many small Parquet files into one.

The live bus writes a file per partition per delivery batch; thousands of small files
make every query open thousands of files. ``compact`` rewrites each partition folder
holding ``min_files`` or more small files as one file, then removes the originals. A
folder of a *closed* day (``dt`` ended :data:`~app.lake.rollups.GRACE` ago: no writer adds
to it but a late event) is merged as soon as it holds two files below
:data:`CLOSED_FILE_BYTES`, so every closed day ends as one file per table (and source),
plus one per :data:`CLOSED_FILE_BYTES` of a very large day. The merge streams record
batches: memory stays about one row group's worth, whatever the folder holds.

Readers never see an event twice: the merged file is written under a hidden name with a
manifest naming the files it replaces, the originals are unlinked, then the merged file is
renamed into place (for that instant a reader may miss the partition's compacted events).
A crash in between leaves the hidden file and its manifest; the next run finishes the job.

Each run then refreshes the rollups (:func:`app.lake.rollups.refresh_rollups`): closed
days not rolled up yet, and days that late events made dirty.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from app import clock
from app.lake.metric_rollups import ROLLUP_DIR as METRIC_ROLLUPS
from app.lake.paths import QUARANTINE
from app.lake.rollups import GRACE, ROLLUP_TABLES, STATE, closed_days, refresh_rollups
from app.lake.writer import COMPRESSION

log = logging.getLogger("verticals.lake.compact")

SMALL_FILE_BYTES = 8 * 1024 * 1024
CLOSED_FILE_BYTES = 64 * 1024 * 1024  # a closed day's files below this are merged into one
CLOSED_MIN_FILES = 2
ROW_GROUP_ROWS = 128 * 1024  # merged files: row groups of about this many rows
PENDING_SUFFIX = ".compact"
# rollups: one file a day (per span for the metrics') already
NOT_COMPACTED = frozenset({QUARANTINE, STATE, *ROLLUP_TABLES, METRIC_ROLLUPS})


@dataclass(frozen=True)
class CompactionReport:
    partitions: int
    files_before: int
    files_after: int
    rollup_days: int = 0  # days whose rollups were built or rebuilt (app/lake/rollups.py)


def small_files(folder: Path, min_age_s: float, now: float, below: int = SMALL_FILE_BYTES) -> list[Path]:
    """Files old enough that no writer is still renaming them into place, and below ``below`` bytes."""
    return sorted(
        p
        for p in folder.glob("*.parquet")
        if not p.name.startswith(".") and p.stat().st_size < below and now - p.stat().st_mtime >= min_age_s
    )


def merged_name(files: list[Path]) -> str:
    """``compacted-<first file's stamp and id>.parquet``: the same length however often a
    folder is merged again (a merged file's own prefix is not repeated)."""
    stem = files[0].stem
    while stem.startswith(("part-", "compacted-")):
        stem = stem.removeprefix("part-").removeprefix("compacted-")
    return f"compacted-{stem}.parquet"


def _merge(files: list[Path], pending: Path) -> None:
    """Stream every file's record batches into one file, in row groups of about
    :data:`ROW_GROUP_ROWS`. Files written by different versions may differ by a column (a
    bus-metrics file from before latency histograms): the merged file has every column, null
    in the rows of files that lack it. Two files giving one column different types raise
    ``pyarrow.ArrowInvalid`` before anything is written."""
    schema = pa.unify_schemas([pq.read_schema(path) for path in files])
    with pq.ParquetWriter(pending, schema, compression=COMPRESSION) as out:
        buffered: list[pa.RecordBatch] = []
        rows = 0
        for path in files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_ROWS):
                buffered.append(_conform(batch, schema))
                rows += batch.num_rows
                if rows >= ROW_GROUP_ROWS:
                    out.write_table(pa.Table.from_batches(buffered, schema), row_group_size=rows)
                    buffered, rows = [], 0
        if buffered:
            out.write_table(pa.Table.from_batches(buffered, schema), row_group_size=rows)


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with ``schema``'s columns, in its order (a missing one all null)."""
    if batch.schema.equals(schema):
        return batch
    names = batch.schema.names
    columns = [
        batch.column(names.index(f.name)).cast(f.type) if f.name in names else pa.nulls(len(batch), f.type)
        for f in schema
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def compact_folder(folder: Path, files: list[Path]) -> Path:
    final = folder / merged_name(files)
    pending = folder / f".{final.name}{PENDING_SUFFIX}"
    try:
        _merge(files, pending)
        _write_synced(_manifest(pending), json.dumps([f.name for f in files]).encode())
    except (OSError, pa.ArrowException):
        # A full disk (or files that do not merge) before the manifest is whole: the
        # originals are untouched; drop the partial merge (and a torn manifest a restart's
        # finish_interrupted would trust).
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


def _day(root: Path, folder: Path) -> str | None:
    """The folder's ``dt`` partition value, if it has one."""
    return next((p[3:] for p in folder.relative_to(root).parts if p.startswith("dt=")), None)


def compact(
    lake: Path, *, min_files: int = 8, min_age_s: float = 60.0, now: datetime | None = None
) -> CompactionReport:
    """Merge the small files of every partition folder that has ``min_files`` or more, and
    of every closed day's folder that has two or more (``now``: the app's clock)."""
    root = Path(lake)
    finish_interrupted(root)
    wall = time.time()  # file ages compare with mtimes: the real clock
    folders = {p.parent for p in root.rglob("*.parquet") if p.relative_to(root).parts[0] not in NOT_COMPACTED}
    days = {folder: _day(root, folder) for folder in folders}
    closed = closed_days({d for d in days.values() if d}, (now or clock.now()) - GRACE)
    partitions = before = after = 0
    for folder in sorted(folders):
        if days[folder] in closed:
            files = small_files(folder, min_age_s, wall, CLOSED_FILE_BYTES)
            enough = CLOSED_MIN_FILES
        else:
            files, enough = small_files(folder, min_age_s, wall), min_files
        if len(files) < enough:
            continue
        try:
            compact_folder(folder, files)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            # Files that cannot be merged (one column, two types) stay as they are: readers
            # cope with them today, and the other folders and the rollups go on.
            log.warning("compaction: %s left as it is: %s", folder.relative_to(root), error)
            continue
        partitions += 1
        before += len(files)
        after += 1
    # The same periodic step keeps the rollups: closed days rolled up, dirty ones rebuilt.
    rolled = refresh_rollups(root, now).days_built
    return CompactionReport(partitions, before, after, rolled)
