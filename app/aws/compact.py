"""Compaction of the S3 lake: a closed day's small Firehose files merged into one object per
table, source and day, in the partition folder Athena's projected table already reads.

Firehose writes a file per partition per buffer interval (about 4,600 a day); nothing else
merges them. :func:`compact_lake` visits the last ``days`` closed days of every lake table
and, in each ``<table>/dt=…/[source=…/]`` folder holding two or more data files:

1. writes a manifest ``_compaction-<id>.json`` (hidden from Athena: it ignores names
   starting with ``_`` or ``.``) naming the merged object to come and the files it replaces;
2. PUTs the merged ``compacted-<id>.parquet`` — an S3 PUT (multipart too) is visible only
   once whole;
3. deletes the replaced files (DeleteObjects, up to 1,000 keys a call);
4. deletes the manifest.

A crash or an error at any point is finished by the next run before it does anything else:
a manifest whose merged object exists has its replaced files deleted; one whose merged
object does not exist is dropped (the originals were never touched). Nothing is lost at any
point — an original is deleted only once the merged object that holds its rows exists —
and after the next run nothing is counted twice. What a concurrent query may see: between
steps 2 and 3 (one DeleteObjects round trip, or until the next run after a crash there)
both the merged object and the originals; a query that listed the originals and reads one
after step 3 fails with Athena's "The specified key does not exist" and can be re-run.
Publishing before deleting keeps that window shorter than the reverse order would (a copy
of the whole day), and its failure mode is a duplicate that the next run removes, not a
silent gap. The bucket is versioned: a deleted original stays recoverable as a
non-current version for 30 days (the lake bucket's lifecycle).

Never touched: a day that is not closed — today by the app clock (:mod:`app.clock`), a
later day, and yesterday until ``settle`` after midnight (Firehose's buffer, up to 900 s,
and its dynamic-partitioning retries, 300 s). Files that arrive later for a compacted day
(a replay, a redrive, a late producer) are merged into it by the next run that covers it.

Types: every file is cast to the Glue table's schema (:mod:`app.lake.tables`), so Firehose's
INT96 timestamps and the local writer's millisecond ones come out as one type — timestamps
as Parquet INT64 milliseconds, UTC, as awswrangler writes them for Athena. A column a file
lacks is NULL; a column the schema lacks is kept. One compactor at a time: two runs on the
same partition at once could merge the same files twice.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from app import clock
from app.lake.paths import check_dt
from app.lake.tables import TABLES, Table

MANIFEST_PREFIX = "_compaction-"  # hidden from Athena and Hive (leading underscore)
MERGED_PREFIX = "compacted-"
COMPRESSION = "snappy"  # what Firehose's Parquet serializer writes and Athena reads
SETTLE = timedelta(hours=2)  # after midnight UTC before yesterday counts as closed
MAX_PARTITION_BYTES = 1024**3  # compressed; a larger partition is reported, not read into memory
DELETE_BATCH = 1000  # DeleteObjects' limit


@dataclass(frozen=True)
class Partition:
    table: Table
    prefix: str  # "<table>/dt=YYYY-MM-DD/" or "<table>/dt=YYYY-MM-DD/source=…/"


@dataclass
class CompactionReport:
    partitions: int = 0  # partitions merged this run
    files_before: int = 0  # data files those partitions held
    files_after: int = 0
    rows: int = 0
    recovered: int = 0  # interrupted compactions finished
    skipped: list[str] = field(default_factory=list)  # "<prefix> (why)": too large, or unreadable
    seconds: float = 0.0

    def line(self) -> str:
        text = (
            f"{self.partitions} partition(s) compacted: {self.files_before:,} files → {self.files_after:,} "
            f"({self.rows:,} rows) in {self.seconds:.1f} s"
        )
        if self.recovered:
            text += f"; {self.recovered} interrupted compaction(s) finished"
        if self.skipped:
            text += f"; left as they are: {', '.join(self.skipped)}"
        return text


def closed_days(days: int, *, now: datetime | None = None, settle: timedelta = SETTLE) -> list[date]:
    """The last ``days`` closed days, newest first: before today, and yesterday only once
    ``settle`` has passed since midnight (UTC, the app clock)."""
    now = (now or clock.now()).astimezone(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC)
    newest = now.date() - timedelta(days=1 if now - midnight >= settle else 2)
    return [newest - timedelta(days=i) for i in range(days)]


def _is_data(key: str, prefix: str) -> bool:
    """A file Athena reads in this partition: directly in it, not hidden."""
    name = key[len(prefix) :]
    return bool(name) and "/" not in name and not name.startswith(("_", "."))


def _list(s3: Any, bucket: str, prefix: str, delimiter: str | None = None) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        yield from page.get("Contents", [])
        for common in page.get("CommonPrefixes", []):
            yield {"Prefix": common["Prefix"]}


def partitions_of(s3: Any, bucket: str, table: Table, day: date) -> list[Partition]:
    """The day's partition folders of ``table`` that exist (sources as S3 lists them)."""
    dt = check_dt(day.isoformat())
    prefix = f"{table.name}/dt={dt}/"
    if "source" not in table.partitions:
        return [Partition(table, prefix)]
    found = [p["Prefix"] for p in _list(s3, bucket, prefix, "/") if "Prefix" in p]
    return [Partition(table, p) for p in sorted(found) if p[len(prefix) :].startswith("source=")]


def _delete(s3: Any, bucket: str, keys: list[str], batch: int = DELETE_BATCH) -> None:
    for start in range(0, len(keys), batch):
        chunk = keys[start : start + batch]
        answer = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
        )
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise OSError(
                f"S3 refused to delete {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
            )


def finish_interrupted(s3: Any, bucket: str, partition: Partition, *, batch: int = DELETE_BATCH) -> int:
    """Finish (or drop) the compactions a crash left in this partition; how many there were."""
    objects = list(_list(s3, bucket, partition.prefix))
    keys = {o["Key"] for o in objects if "Key" in o}
    manifests = sorted(k for k in keys if k[len(partition.prefix) :].startswith(MANIFEST_PREFIX))
    for key in manifests:
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        merged = manifest["merged"]
        if merged in keys and merged.startswith(partition.prefix):
            # Its rows are all in the merged object: the originals still listed go.
            _delete(
                s3,
                bucket,
                [k for k in manifest["replaces"] if k in keys and k.startswith(partition.prefix)],
                batch,
            )
        _delete(s3, bucket, [key])
    return len(manifests)


class Unreadable(Exception):
    """A data file that is not Parquet, or whose columns do not cast to the table's types."""


def _read(s3: Any, bucket: str, key: str, table: Table) -> pa.Table:
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        return conform(pq.read_table(io.BytesIO(data), partitioning=None), table)
    except pa.ArrowException as exc:
        raise Unreadable(f"{key.rsplit('/', 1)[-1]} is not Parquet of the {table.name} table: {exc}") from exc


def conform(part: pa.Table, table: Table) -> pa.Table:
    """``part`` with the Glue schema's columns and types first (missing ones NULL), then any
    column the schema lacks, as it was."""
    schema = table.arrow_schema()
    columns, fields = [], []
    for f in schema:
        if f.name in part.column_names:
            columns.append(part.column(f.name).cast(f.type))
        else:
            columns.append(pa.nulls(part.num_rows, f.type))
        fields.append(f)
    for name in part.column_names:
        if name not in schema.names:
            columns.append(part.column(name))
            fields.append(part.schema.field(name))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def compact_partition(
    s3: Any, bucket: str, partition: Partition, files: list[dict[str, Any]], *, batch: int = DELETE_BATCH
) -> int:
    """Merge ``files`` (S3 listing entries of the partition's data files) into one object;
    the number of rows merged."""
    merged_table = pa.concat_tables(
        [_read(s3, bucket, f["Key"], partition.table) for f in files], promote_options="permissive"
    )
    out = io.BytesIO()
    pq.write_table(
        merged_table, out, compression=COMPRESSION, coerce_timestamps="ms", allow_truncated_timestamps=False
    )
    token = uuid.uuid4().hex
    merged = f"{partition.prefix}{MERGED_PREFIX}{token}.parquet"
    manifest = f"{partition.prefix}{MANIFEST_PREFIX}{token}.json"
    replaces = [f["Key"] for f in files]
    s3.put_object(
        Bucket=bucket, Key=manifest, Body=json.dumps({"merged": merged, "replaces": replaces}).encode()
    )
    out.seek(0)
    s3.upload_fileobj(out, bucket, merged)  # multipart for large ones; visible only once whole
    _delete(s3, bucket, replaces, batch)
    _delete(s3, bucket, [manifest])
    return merged_table.num_rows


def compact_lake(
    s3: Any,
    bucket: str,
    *,
    days: int = 7,
    tables: Iterable[Table] | None = None,
    now: datetime | None = None,
    settle: timedelta = SETTLE,
    min_files: int = 2,
    batch: int = DELETE_BATCH,
    on_partition: Callable[[str, int], None] | None = None,
) -> CompactionReport:
    """Compact the last ``days`` closed days of every table in the lake bucket."""
    started = time.monotonic()
    report = CompactionReport()
    for day in closed_days(days, now=now, settle=settle):
        for table in TABLES.values() if tables is None else tables:
            for partition in partitions_of(s3, bucket, table, day):
                report.recovered += finish_interrupted(s3, bucket, partition, batch=batch)
                files = sorted(
                    (
                        o
                        for o in _list(s3, bucket, partition.prefix)
                        if "Key" in o and _is_data(o["Key"], partition.prefix)
                    ),
                    key=lambda o: o["Key"],
                )
                if len(files) < min_files:
                    continue
                if sum(int(f.get("Size", 0)) for f in files) > MAX_PARTITION_BYTES:
                    report.skipped.append(f"{partition.prefix} (over {MAX_PARTITION_BYTES // 1024**2:,} MiB)")
                    continue
                try:
                    report.rows += compact_partition(s3, bucket, partition, files, batch=batch)
                except Unreadable as exc:  # raised while reading, before anything is written
                    report.skipped.append(f"{partition.prefix} ({exc})")
                    continue
                report.partitions += 1
                report.files_before += len(files)
                report.files_after += 1
                if on_partition:
                    on_partition(partition.prefix, len(files))
    report.seconds = time.monotonic() - started
    return report
