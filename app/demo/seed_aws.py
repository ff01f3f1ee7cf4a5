"""Seed the stack's S3 lake: the simulated enterprise, written with awswrangler where
Athena's partition projection finds it (``python -m app demo seed --backend aws``).

The history is the local seed's, row for row: :func:`app.demo.seed.seed_lake` runs the
same generator through the local bus into a temporary folder (same ``--seed``, same
clock), and each lake table's files there are written to S3 with ``wr.s3.to_parquet``,
one dataset per Glue table:

- **where**: the Glue table's ``Location`` (``s3://<LakeBucket>/<table>/``), partitioned as
  its ``storage.location.template`` declares (``dt=YYYY-MM-DD/`` and, for ``events``,
  ``source=<source>/``) — the prefixes Firehose writes, so that projection finds them
  with no crawler and no ``MSCK REPAIR``;
- **types**: the Glue table's column types, read from the catalog and checked against
  :mod:`app.lake.tables` (a stack deployed from an older template is refused, not
  half-written); timestamps as UTC milliseconds, as the local writer stores them;
- **re-running**: a lake whose tables already hold objects is refused unless ``force``
  (then every partition the seed writes is replaced — ``mode="overwrite_partitions"`` —
  and other partitions are left alone), or ``if_empty`` (then nothing is written).

Partition values must be plain folder names that the projection enumerates (the demo's
sources always are): an S3 key holds them unencoded, as Firehose writes them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from time import monotonic
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from app.aws.errors import AwsError
from app.aws.session import client
from app.demo.seed import Progress, SeedRefused, seed_lake
from app.lake.paths import encode_value
from app.lake.tables import TABLES, Table

# (table, days written, days of the table, rows written so far)
UploadProgress = Callable[[str, int, int, int], None]
Parts = list[tuple[dict[str, str], list[Path]]]  # ({partition key: value}, files) of each partition

DAYS_PER_WRITE = 31  # one wr.s3.to_parquet call per table and month: bounded memory for a year


@dataclass(frozen=True)
class GlueTarget:
    """A Glue table's place in S3 and its declared types."""

    table: Table
    bucket: str
    prefix: str  # "orders/": the table's Location inside the bucket
    partitions: tuple[str, ...]
    types: Mapping[str, str]  # column -> Glue type, partition keys excluded
    enums: Mapping[str, frozenset[str]]  # partition key -> values an enum projection allows

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class AwsSeedReport:
    days: int
    events: int
    objects: int
    rows: int
    simulate_seconds: float
    upload_seconds: float
    skipped: bool = False  # if_empty on a lake that had data: nothing written


def _split_location(location: str, table: str) -> tuple[str, str]:
    if not location.startswith("s3://") or "/" not in location[5:]:
        raise AwsError(f"The Glue table {table} has no S3 location ({location!r}): redeploy the stack.")
    bucket, _, prefix = location[5:].partition("/")
    return bucket, prefix.rstrip("/") + "/" if prefix else ""


def glue_target(glue: Any, database: str, table: Table, bucket: str) -> GlueTarget:
    """The Glue table ``table`` of ``database``, checked to be where and what this version writes."""
    try:
        found = glue.get_table(DatabaseName=database, Name=table.name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        raise AwsError(
            f"The Glue table {database}.{table.name} does not exist: deploy the stack with "
            "python -m app infra deploy first."
        ) from None
    storage = found.get("StorageDescriptor", {})
    location_bucket, prefix = _split_location(storage.get("Location", ""), table.name)
    if location_bucket != bucket or not prefix:
        raise AwsError(
            f"The Glue table {table.name} is at {storage.get('Location')!r}, not in the lake bucket "
            f"{bucket}: check the stack's LakeBucket output."
        )
    partitions = tuple(k["Name"] for k in found.get("PartitionKeys", []))
    types = {c["Name"]: c["Type"] for c in storage.get("Columns", [])}
    declared = {c.name: c.type for c in table.columns}
    if partitions != table.partitions or types != declared:
        raise AwsError(
            f"The Glue table {table.name} does not have the columns and partitions this version writes: "
            "update the stack with python -m app infra deploy."
        )
    parameters = found.get("Parameters", {})
    layout = "".join(f"{p}=${{{p}}}/" for p in partitions)
    template = parameters.get("storage.location.template")
    if template is not None and template != f"s3://{bucket}/{prefix}{layout}":
        raise AwsError(
            f"The Glue table {table.name} projects its partitions at {template!r}, not at "
            f"s3://{bucket}/{prefix}{layout}: update the stack with python -m app infra deploy."
        )
    enums = {
        p: frozenset(parameters.get(f"projection.{p}.values", "").split(","))
        for p in partitions
        if parameters.get(f"projection.{p}.type") == "enum"
    }
    return GlueTarget(table, bucket, prefix, partitions, types, enums)


def glue_targets(session: Any, database: str, bucket: str) -> list[GlueTarget]:
    glue = client(session, "glue")
    return [glue_target(glue, database, table, bucket) for table in TABLES.values()]


def tables_with_data(session: Any, targets: list[GlueTarget]) -> list[str]:
    """The tables whose S3 prefix already holds at least one object."""
    s3 = client(session, "s3")
    return [
        t.table.name
        for t in targets
        if s3.list_objects_v2(Bucket=t.bucket, Prefix=t.prefix, MaxKeys=1).get("KeyCount", 0)
    ]


def _partition_value(folder: Path, key: str, target: GlueTarget) -> str:
    name = folder.name
    value = name[len(key) + 1 :]
    if not name.startswith(f"{key}=") or encode_value(value) != value:
        raise AwsError(f"The seeded folder {name} is not a plain {key} partition for an S3 key.")
    allowed = target.enums.get(key)
    if allowed is not None and value not in allowed:
        raise AwsError(
            f"The {target.table.name} table's projection does not enumerate {key}={value}: "
            "update the stack with python -m app infra deploy."
        )
    return value


def _partition_files(root: Path, target: GlueTarget) -> Iterator[tuple[dict[str, str], list[Path]]]:
    """({partition key: value}, files) of every leaf partition of a local table, by day."""

    def walk(folder: Path, keys: tuple[str, ...], values: dict[str, str]):
        if not keys:
            files = sorted(folder.glob("*.parquet"))
            if files:
                yield values, files
            return
        for child in sorted(p for p in folder.glob(f"{keys[0]}=*") if p.is_dir()):
            yield from walk(child, keys[1:], {**values, keys[0]: _partition_value(child, keys[0], target)})

    yield from walk(root / target.table.name, target.partitions, {})


def _frame(parts: Parts, target: GlueTarget) -> pd.DataFrame:
    schema = target.table.arrow_schema()
    tables = []
    for values, files in parts:
        data = pa.concat_tables(pq.read_table(f, schema=schema) for f in files)
        for key in target.partitions:
            data = data.append_column(key, pa.array([values[key]] * data.num_rows, pa.string()))
        tables.append(data)
    return pa.concat_tables(tables).to_pandas()


def upload_table(
    session: Any,
    parts: Parts,
    target: GlueTarget,
    progress: UploadProgress | None = None,
    *,
    replace: bool = True,
) -> tuple[int, int]:
    """Write one local table's partitions to its Glue table's location; (objects, rows) written.

    ``replace``: first delete the objects of every partition written (False: the lake is
    known to be empty there, which saves a listing and a delete per partition).
    """
    import awswrangler as wr

    by_day: dict[str, Parts] = {}
    for values, files in parts:
        by_day.setdefault(values["dt"], []).append((values, files))
    days = sorted(by_day)
    # Timestamps keep the frame's UTC milliseconds: a "timestamp" dtype would make them naive.
    dtype = {name: kind for name, kind in target.types.items() if kind != "timestamp"}
    objects = rows = 0
    for start in range(0, len(days), DAYS_PER_WRITE):
        chunk = days[start : start + DAYS_PER_WRITE]
        frame = _frame([part for day in chunk for part in by_day[day]], target)
        written = wr.s3.to_parquet(
            frame,
            path=target.location,
            dataset=True,
            partition_cols=list(target.partitions),
            mode="overwrite_partitions" if replace else "append",
            dtype=dtype,
            compression="snappy",  # what Firehose's Parquet serializer writes
            # Timestamps as the local writer stores them (int64 UTC milliseconds), not the
            # INT96 awswrangler's default Spark flavour writes.
            pyarrow_additional_kwargs={"use_deprecated_int96_timestamps": False, "version": "2.6"},
            boto3_session=session,
        )
        objects += len(written["paths"])
        rows += len(frame)
        if progress:
            progress(target.table.name, start + len(chunk), len(days), rows)
    return objects, rows


def seed_aws(
    session: Any,
    *,
    database: str,
    bucket: str,
    days: int = 365,
    events_per_day: int = 12_000,
    seed: int = 7,
    end: date | None = None,
    force: bool = False,
    if_empty: bool = False,
    simulate_progress: Progress | None = None,
    upload_progress: UploadProgress | None = None,
) -> AwsSeedReport:
    """Simulate ``days`` of history and write it into the stack's lake (see the module doc)."""
    targets = glue_targets(session, database, bucket)
    occupied = tables_with_data(session, targets)
    if occupied and if_empty:
        return AwsSeedReport(0, 0, 0, 0, 0.0, 0.0, skipped=True)
    if occupied and not force:
        raise SeedRefused(
            f"The lake s3://{bucket}/ already holds data ({', '.join(occupied)}): pass --force to replace "
            "the days this seed writes (other days are kept), or --if-empty to leave it as it is."
        )
    with tempfile.TemporaryDirectory(prefix="verticals-seed-") as work:
        lake = Path(work) / "lake"
        began = monotonic()
        simulated = seed_lake(
            lake,
            days=days,
            events_per_day=events_per_day,
            seed=seed,
            end=end,
            progress=simulate_progress,
            rollups=False,  # the pages on Athena read the raw tables
        )
        simulate_seconds, began = monotonic() - began, monotonic()
        # Every partition checked before the first object is written.
        parts = {t.table.name: list(_partition_files(lake, t)) for t in targets}
        objects = rows = 0
        for target in targets:
            written, count = upload_table(
                session,
                parts[target.table.name],
                target,
                upload_progress,
                replace=target.table.name in occupied,
            )
            objects, rows = objects + written, rows + count
    return AwsSeedReport(
        simulated.days, simulated.events, objects, rows, simulate_seconds, monotonic() - began
    )
