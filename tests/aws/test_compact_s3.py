"""Compaction of the S3 lake (app/aws/compact.py) against moto: the Glue tables are the
rendered template's own (created through the Glue API from its exact TableInput), the files
are the local writer's for three days of the demo, written in small batches as Firehose
would, plus one rewritten with INT96 timestamps as Firehose's Parquet serializer writes them."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import awswrangler as wr
import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from app.aws.compact import MANIFEST_PREFIX, MERGED_PREFIX, closed_days, compact_lake, conform
from app.bus.definition import load_definition
from app.cli.main import main
from app.demo.enterprise import DemoConfig, Enterprise
from app.infra.render import render_template
from app.lake.tables import TABLES
from app.lake.writer import LakeWriter
from tests.aws.cfn_moto import REGION, Resolver, _create_glue
from tests.instant import NOW, TODAY

TEMPLATE = render_template(load_definition())
STACK = "verticals-compact"
DATABASE = "verticals_compact"
BY_NAME = TABLES
CLOSED = {d.isoformat() for d in closed_days(7, now=NOW)}
STACK_TEMPLATE = {
    "Resources": {
        "LakeBucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
        }
    },
    "Outputs": {"LakeBucket": {"Value": {"Ref": "LakeBucket"}}},
}


@pytest.fixture
def lake(tmp_path):
    """A versioned lake bucket named by a stack output, the template's Glue tables over it,
    and three days (two closed, today open) of small files."""
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(STACK_TEMPLATE))
        resolver = Resolver(TEMPLATE, STACK, {})
        _create_glue(resolver, TEMPLATE["Resources"])
        bucket = resolver.ref("LakeBucket")
        s3 = boto3.client("s3", region_name=REGION)
        upload_small_files(s3, bucket, tmp_path / "local")
        yield s3, bucket


def upload_small_files(s3, bucket, root, per_file=30):
    enterprise = Enterprise(DemoConfig(days=3, events_per_day=300, end=TODAY))
    writer = LakeWriter(root)
    for batch in enterprise.day_batches():
        for start in range(0, len(batch.events), per_file):
            writer.write(batch.events[start : start + per_file], ingested_at=NOW)
    paths = sorted(
        p for t in TABLES.values() for p in (root / t.name).rglob("*.parquet") if not p.name.startswith(".")
    )
    for i, path in enumerate(paths):
        body = path.read_bytes()
        if i % 7 == 0:  # as Firehose writes timestamps: INT96, no zone, SNAPPY
            table = pq.read_table(path, partitioning=None)
            naive = table.cast(
                pa.schema(
                    [
                        f.with_type(pa.timestamp("ms")) if pa.types.is_timestamp(f.type) else f
                        for f in table.schema
                    ]
                )
            )
            out = io.BytesIO()
            pq.write_table(naive, out, use_deprecated_int96_timestamps=True, compression="snappy")
            body = out.getvalue()
        s3.put_object(Bucket=bucket, Key=str(path.relative_to(root)), Body=body)
    return len(paths)


def keys(s3, bucket):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def partition_of(key):
    return key.rsplit("/", 1)[0] + "/"


def data_files(s3, bucket):
    """{partition prefix: [data file keys]} — the files Athena reads (not hidden)."""
    found: dict[str, list[str]] = {}
    for key in keys(s3, bucket):
        if not key.rsplit("/", 1)[-1].startswith(("_", ".")):
            found.setdefault(partition_of(key), []).append(key)
    return found


def rows(s3, bucket):
    """Every row Athena would read, as a multiset of (partition, row as JSON)."""
    counts: Counter = Counter()
    for prefix, files in data_files(s3, bucket).items():
        table = BY_NAME[prefix.split("/")[0]]
        for key in files:
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            part = conform(pq.read_table(io.BytesIO(data), partitioning=None), table)
            for row in part.to_pylist():
                counts[(prefix, json.dumps(row, default=str, sort_keys=True))] += 1
    return counts


def day_of(prefix):
    return prefix.split("/")[1].removeprefix("dt=")


def test_closed_days_become_one_file_per_table_source_and_day_with_the_same_rows(lake):
    s3, bucket = lake
    before_files, before_rows = data_files(s3, bucket), rows(s3, bucket)
    days = {day_of(p) for p in before_files}
    assert days - CLOSED == {TODAY.isoformat()} and len(days & CLOSED) == 2  # two closed days, today open
    assert sum(len(f) > 1 for p, f in before_files.items() if day_of(p) in CLOSED) >= 20  # many small files
    report = compact_lake(s3, bucket, days=7, now=NOW)
    after_files = data_files(s3, bucket)
    for prefix, files in after_files.items():
        if day_of(prefix) in CLOSED:
            assert len(files) == 1, prefix
        else:
            assert files == before_files[prefix], f"the open day was touched: {prefix}"
    assert rows(s3, bucket) == before_rows
    assert not [k for k in keys(s3, bucket) if MANIFEST_PREFIX in k]
    merged = sum(len(f) for p, f in before_files.items() if day_of(p) in CLOSED and len(f) > 1)
    assert (report.files_before, report.recovered) == (merged, 0)
    assert (
        report.partitions
        == report.files_after
        == sum(1 for p, f in before_files.items() if day_of(p) in CLOSED and len(f) > 1)
    )


def test_the_glue_tables_read_the_compacted_files_with_the_schema_types(lake):
    """Each closed partition's location as Athena projects it from the Glue table's
    ``storage.location.template`` holds the compacted file and all the partition's rows."""
    s3, bucket = lake
    session = boto3.Session(region_name=REGION)
    glue = boto3.client("glue", region_name=REGION)
    before = Counter(prefix for prefix, _ in rows(s3, bucket).elements() if day_of(prefix) in CLOSED)
    compact_lake(s3, bucket, days=7, now=NOW)
    for prefix, count in before.items():
        name, dt, *source = prefix.rstrip("/").split("/")
        parameters = glue.get_table(DatabaseName=DATABASE, Name=name)["Table"]["Parameters"]
        location = parameters["storage.location.template"].replace("${dt}", dt.removeprefix("dt="))
        if source:
            value = source[0].removeprefix("source=")
            assert value in parameters["projection.source.values"].split(",")
            location = location.replace("${source}", value)
        assert location == f"s3://{bucket}/{prefix}"
        frame = wr.s3.read_parquet(path=location, boto3_session=session)
        assert len(frame) == count, prefix
    for key in keys(s3, bucket):
        if key.rsplit("/", 1)[-1].startswith(MERGED_PREFIX):
            schema = pq.ParquetFile(
                io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            ).schema_arrow
            expected = BY_NAME[key.split("/")[0]].arrow_schema()
            assert [schema.field(f.name).type for f in expected] == list(expected.types), key


def test_a_second_run_changes_nothing(lake):
    s3, bucket = lake
    compact_lake(s3, bucket, days=7, now=NOW)
    first = keys(s3, bucket)
    again = compact_lake(s3, bucket, days=7, now=NOW)
    assert (again.partitions, again.files_before, again.recovered) == (0, 0, 0)
    assert keys(s3, bucket) == first


def test_a_day_is_closed_only_once_it_has_settled():
    just_after_midnight = datetime(2026, 3, 4, 0, 30, tzinfo=UTC)
    assert closed_days(2, now=just_after_midnight)[0].isoformat() == "2026-03-02"
    assert closed_days(2, now=datetime(2026, 3, 4, 2, 0, tzinfo=UTC))[0].isoformat() == "2026-03-03"
    assert all(d < TODAY for d in closed_days(30, now=NOW))


def test_yesterday_is_left_alone_before_it_settles(lake):
    s3, bucket = lake
    before = data_files(s3, bucket)
    compact_lake(
        s3, bucket, days=7, now=datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(minutes=30)
    )
    after = data_files(s3, bucket)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert {p: f for p, f in after.items() if day_of(p) >= yesterday} == {
        p: f for p, f in before.items() if day_of(p) >= yesterday
    }


def test_late_files_for_a_compacted_day_are_merged_by_the_next_run(lake, tmp_path):
    s3, bucket = lake
    compact_lake(s3, bucket, days=7, now=NOW)
    compacted = data_files(s3, bucket)
    prefix = next(p for p in compacted if p.startswith("orders/") and day_of(p) in CLOSED)
    late = compacted[prefix][0].replace(MERGED_PREFIX, "late-")
    s3.copy_object(Bucket=bucket, Key=late, CopySource={"Bucket": bucket, "Key": compacted[prefix][0]})
    expected = rows(s3, bucket)  # the late copy's rows count twice: they are new events here
    report = compact_lake(s3, bucket, days=7, now=NOW)
    assert report.partitions == 1 and len(data_files(s3, bucket)[prefix]) == 1
    assert rows(s3, bucket) == expected


class Crash(Exception):
    pass


class Faulty:
    """The S3 client, except that the ``n``-th call of ``method`` whose arguments ``match``
    raises before reaching S3 (the process dying there)."""

    def __init__(self, s3, method, n=1, match=lambda kwargs: True):
        self._s3, self._method, self._n, self._match, self.calls = s3, method, n, match, 0

    def __getattr__(self, name):
        real = getattr(self._s3, name)
        if name != self._method:
            return real

        def call(*args, **kwargs):
            if self._match(kwargs):
                self.calls += 1
                if self.calls == self._n:
                    raise Crash(name)
            return real(*args, **kwargs)

        return call


def _deletes_manifest(kwargs):
    return any(MANIFEST_PREFIX in o["Key"] for o in kwargs["Delete"]["Objects"])


CRASHES = {
    "writing the manifest": ("put_object", 1, lambda kwargs: True),
    "uploading the merged file": ("upload_fileobj", 1, lambda kwargs: True),
    "deleting the first originals": ("delete_objects", 1, lambda kwargs: not _deletes_manifest(kwargs)),
    "deleting later originals": ("delete_objects", 2, lambda kwargs: not _deletes_manifest(kwargs)),
    "deleting the manifest": ("delete_objects", 1, _deletes_manifest),
    "a later partition": ("upload_fileobj", 5, lambda kwargs: True),
}


@pytest.mark.parametrize("where", CRASHES)
def test_a_run_interrupted_anywhere_loses_nothing_and_the_next_run_finishes_it(lake, where):
    s3, bucket = lake
    before_files, before_rows = data_files(s3, bucket), rows(s3, bucket)
    method, n, match = CRASHES[where]
    faulty = Faulty(s3, method, n, match)
    with pytest.raises(Crash):
        compact_lake(faulty, bucket, days=7, now=NOW, batch=3)  # batch=3: several DeleteObjects calls
    crashed = rows(s3, bucket)
    assert not before_rows - crashed, "rows were lost"  # at worst duplicates, until the next run
    if where == "deleting the first originals":
        assert crashed - before_rows  # the documented window: merged and originals both visible
    report = compact_lake(s3, bucket, days=7, now=NOW, batch=3)
    assert rows(s3, bucket) == before_rows
    for prefix, files in data_files(s3, bucket).items():
        assert len(files) == 1 if day_of(prefix) in CLOSED else files == before_files[prefix]
    assert not [k for k in keys(s3, bucket) if MANIFEST_PREFIX in k]
    manifest_left = where not in ("writing the manifest",)
    assert report.recovered == (1 if manifest_left else 0)


def test_the_cli_compacts_the_stacks_lake(lake, capsys):
    s3, bucket = lake
    before = rows(s3, bucket)
    assert (
        main(["lake", "compact", "--backend", "aws", "--stack", STACK, "--region", REGION, "--days", "3"])
        == 0
    )
    out = capsys.readouterr().out
    assert f"s3://{bucket}:" in out and "partition(s) compacted" in out
    assert rows(s3, bucket) == before
    assert all(len(f) == 1 for p, f in data_files(s3, bucket).items() if day_of(p) in CLOSED)
    assert main(["lake", "compact", "--backend", "aws", "--stack", STACK, "--region", REGION, "--quiet"]) == 0
    assert "0 partition(s) compacted" in capsys.readouterr().out


def test_the_cli_says_which_stack_is_missing(lake, capsys):
    assert main(["lake", "compact", "--backend", "aws", "--stack", "nope", "--region", REGION]) == 1
    assert "nope" in capsys.readouterr().err


def test_a_partition_too_large_to_merge_in_memory_is_reported_and_left_alone(lake, monkeypatch):
    s3, bucket = lake
    before = keys(s3, bucket)
    monkeypatch.setattr("app.aws.compact.MAX_PARTITION_BYTES", 100)
    report = compact_lake(s3, bucket, days=7, now=NOW)
    assert report.partitions == 0 and report.skipped and "left as they are" in report.line()
    assert keys(s3, bucket) == before


def test_a_partition_with_a_file_that_is_not_parquet_is_left_alone_and_the_others_compacted(lake):
    s3, bucket = lake
    before = data_files(s3, bucket)
    broken = next(p for p in before if p.startswith("orders/") and day_of(p) in CLOSED)
    s3.put_object(Bucket=bucket, Key=f"{broken}stray.json", Body=b'{"not": "parquet"}')
    report = compact_lake(s3, bucket, days=7, now=NOW)
    assert len(report.skipped) == 1
    assert report.skipped[0].startswith(f"{broken} (stray.json is not Parquet of the orders table")
    assert data_files(s3, bucket)[broken] == sorted([*before[broken], f"{broken}stray.json"])
    assert all(len(f) == 1 for p, f in data_files(s3, bucket).items() if day_of(p) in CLOSED and p != broken)
