"""Compaction of the S3 lake (``app/aws/compact.py``) on moto: one day as Firehose leaves it.

    .venv/bin/python bench/bench_compact_s3.py [--events-per-day 12000] [--files-per-partition 288]

One simulated day is written as Firehose would with a 300 s buffer: ``files-per-partition``
flushes, each a file in every partition that received events (8 sources × ``events`` + 8
entity tables = 16 partitions, 288 flushes: 4,608 files, the ~4,600 a day of issue 12).
The day is uploaded to moto's in-process S3, compacted, and compacted again (the idempotent
re-run). The baseline, in the same run: reading the whole day back from S3 before
compaction against after it (GET every object, parse every Parquet file) — what a query
over the day pays per file. moto answers from memory, in this process (CPU seconds are
printed; wall seconds beside them for compaction), so the seconds measure the compactor's
and the reader's own work and requests, not S3's latency; on S3 each file also costs a
GET's round trip (tens of ms), which makes the per-file cost larger, not smaller.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import boto3
import pyarrow.parquet as pq
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from app.aws.compact import compact_lake
from app.demo.enterprise import DemoConfig, Enterprise
from app.lake.writer import LakeWriter

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)  # the day is closed and settled


def write_day(root: Path, events_per_day: int, flushes: int) -> list[Path]:
    batch = next(
        b for b in Enterprise(DemoConfig(days=1, events_per_day=events_per_day, end=DAY)).day_batches()
    )
    events = [e for e in batch.events if e["time"].startswith(DAY.isoformat())]
    writer = LakeWriter(root)
    size = -(-len(events) // flushes)
    for start in range(0, len(events), size):
        writer.write(events[start : start + size], ingested_at=NOW)
    return sorted(p for p in root.rglob("*.parquet") if not p.name.startswith(".") and "dt=" in str(p))


def read_all(s3, bucket: str) -> tuple[int, int, float]:
    """(objects, rows, CPU seconds) to GET and parse every data object of the lake."""
    started = time.process_time()
    objects = rows = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            data = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            rows += pq.read_metadata(io.BytesIO(data)).num_rows
            pq.read_table(io.BytesIO(data), partitioning=None)
            objects += 1
    return objects, rows, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events-per-day", type=int, default=12_000)
    parser.add_argument("--files-per-partition", type=int, default=288)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, mock_aws():
        files = write_day(Path(tmp), args.events_per_day, args.files_per_partition)
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lake")
        s3.put_bucket_versioning(Bucket="lake", VersioningConfiguration={"Status": "Enabled"})
        started = time.perf_counter()
        for path in files:
            s3.put_object(Bucket="lake", Key=path.relative_to(tmp).as_posix(), Body=path.read_bytes())
        upload = time.perf_counter() - started
        before = read_all(s3, "lake")
        cpu = time.process_time()
        report = compact_lake(s3, "lake", days=1, now=NOW)
        cpu = time.process_time() - cpu
        after = read_all(s3, "lake")
        again = compact_lake(s3, "lake", days=1, now=NOW)
    print(f"one day, {args.events_per_day:,} events a day, {args.files_per_partition} flushes")
    print(f"  upload (Firehose's part): {len(files):,} files in {upload:.1f} s")
    print(
        f"  compaction: {report.line()} (wall), {cpu:.1f} CPU s, "
        f"{report.files_before / cpu:,.0f} files per CPU s"
    )
    print(f"  second run: {again.line()}")
    print(f"  read the day before: {before[0]:,} objects, {before[1]:,} rows in {before[2]:.2f} CPU s")
    print(f"  read the day after:  {after[0]:,} objects, {after[1]:,} rows in {after[2]:.2f} CPU s")
    print(f"  ratio before/after: {before[2] / after[2]:.1f}×; rows equal: {before[1] == after[1]}")
    print(f"  a year: {365 * before[0]:,} objects before, {365 * after[0]:,} after")


if __name__ == "__main__":
    main()
