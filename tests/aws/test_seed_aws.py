"""``python -m app demo seed --backend aws`` against moto: the rendered template deployed
(tests/aws/cfn_moto.py), the seed run through the command line, and its objects read back
at the Glue tables' locations, under the projected partitions, through the Glue tables
with awswrangler — the same rows as the local seed of the same parameters and clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import awswrangler as wr
import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from app.bus.definition import load_definition
from app.cli.main import main
from app.departments import SOURCES
from app.infra.render import render_template
from app.lake.tables import TABLES, Table
from tests.aws.cfn_moto import REGION, create_stack
from tests.aws.seed_moto import PARAMETERS, lake_keys, seed_args, seeded_stack
from tests.instant import TODAY

STACK = "seeded"
SEED_ARGS = seed_args(STACK)


@pytest.fixture(scope="module")
def stack() -> Iterator[dict]:
    """The stack on moto, seeded once through the command line."""
    with seeded_stack(STACK) as (resolver, env):
        yield {"resolver": resolver, "env": env, "keys": sorted(lake_keys(resolver))}


def local_rows(lake: Path, table: Table) -> pd.DataFrame:
    partitioning = ds.partitioning(pa.schema([(p, pa.string()) for p in table.partitions]), flavor="hive")
    data = ds.dataset(lake / table.name, format="parquet", partitioning=partitioning).to_table()
    return data.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)  # as awswrangler reads bigint


def comparable(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Cells as text in one column order and row order: the two readers' dtypes differ
    (categorical partitions, nullable integers), the values must not."""
    columns = table.column_names + list(table.partitions)

    def text(value) -> str:
        if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
            return "<null>"
        if value is pd.NA:
            return "<null>"
        if isinstance(value, pd.Timestamp):
            return value.tz_convert("UTC").isoformat() if value.tzinfo else value.isoformat()
        if hasattr(value, "tolist"):
            return repr(value.tolist())
        return repr(value) if not isinstance(value, str) else value

    out = pd.DataFrame({c: [text(v) for v in frame[c].astype(object)] for c in columns})
    return out.sort_values(columns).reset_index(drop=True)


def test_objects_are_at_the_glue_tables_locations_under_the_projected_partitions(stack, small_local_lake):
    resolver = stack["resolver"]
    bucket = resolver.ref("LakeBucket")
    glue = boto3.client("glue", region_name=REGION)
    keys = lake_keys(resolver)
    for table in TABLES.values():
        described = glue.get_table(DatabaseName=resolver.ref("GlueDatabase"), Name=table.name)["Table"]
        location = described["StorageDescriptor"]["Location"]
        assert location == f"s3://{bucket}/{table.name}/"
        template = described["Parameters"]["storage.location.template"]
        # Each object's folder is the projection's template with the partition values put in.
        layout = re.escape(template).replace(r"\$\{dt\}", r"(\d{4}-\d{2}-\d{2})")
        layout = layout.replace(r"\$\{source\}", "(" + "|".join(map(re.escape, SOURCES)) + ")")
        pattern = re.compile(layout + r"[^/]+\.parquet")
        mine = [f"s3://{bucket}/{k}" for k in keys if k.startswith(f"{table.name}/")]
        assert mine and all(pattern.fullmatch(k) for k in mine), mine[:3]
        seeded_days = {m.group(1) for m in map(pattern.fullmatch, mine) if m}
        local_days = {p.name[3:] for p in (small_local_lake / table.name).glob("dt=*")}
        assert seeded_days == local_days
    assert all(k.split("/", 1)[0] in TABLES for k in keys)  # nothing outside the tables' prefixes


def test_the_objects_carry_the_glue_types(stack):
    resolver = stack["resolver"]
    bucket = resolver.ref("LakeBucket")
    s3 = boto3.client("s3", region_name=REGION)
    keys = lake_keys(resolver)
    for table in TABLES.values():
        key = next(k for k in keys if k.startswith(f"{table.name}/"))
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        schema = pq.read_schema(pa.BufferReader(body))
        assert schema.names == table.column_names  # partition columns are in the key only
        for column in table.columns:
            assert schema.field(column.name).type == column.arrow_type, (table.name, column.name)


@pytest.mark.parametrize("name", list(TABLES))
def test_rows_read_through_the_glue_tables_are_the_local_seeds(name, stack, small_local_lake):
    table = TABLES[name]
    session = boto3.Session(region_name=REGION)
    database = stack["resolver"].ref("GlueDatabase")
    on_s3 = wr.s3.read_parquet_table(database=database, table=name, boto3_session=session)
    local = local_rows(small_local_lake, table)
    assert len(on_s3) == len(local) > 0
    pd.testing.assert_frame_equal(comparable(on_s3, table), comparable(local, table))


def test_a_lake_with_data_is_refused_then_left_alone_or_replaced(stack, capsys):
    """On a second stack beside the first (its names are its own), seeded small."""
    env = stack["env"]
    other = create_stack(render_template(load_definition()), "reseed", PARAMETERS)
    env.setenv("VERTICALS_ATHENA_DATABASE", other.ref("GlueDatabase"))
    small = [*("demo", "seed", "--backend", "aws", "--stack", "reseed", "--quiet"), *("--days", "3")]
    small += ["--events-per-day", "150", "--end", TODAY.isoformat()]
    try:
        assert main(small) == 0
        before = sorted(lake_keys(other))
        capsys.readouterr()
        assert main(small) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: The lake s3://") and "--force" in err and "\n" not in err
        assert main([*small, "--if-empty"]) == 0
        assert "nothing written" in capsys.readouterr().out
        assert sorted(lake_keys(other)) == before
        # --force replaces the seeded days' partitions: the same rows, not twice as many.
        session = boto3.Session(region_name=REGION)
        database = other.ref("GlueDatabase")
        first = wr.s3.read_parquet_table(database=database, table="orders", boto3_session=session)
        assert main([*small, "--force"]) == 0
        after = lake_keys(other)
        assert len(after) == len(before) and not set(after) & set(before)
        again = wr.s3.read_parquet_table(database=database, table="orders", boto3_session=session)
        assert again["event_id"].is_unique and sorted(again["event_id"]) == sorted(first["event_id"])
        assert sorted(lake_keys(stack["resolver"])) == stack["keys"]  # the other stack's lake untouched
    finally:
        env.setenv("VERTICALS_ATHENA_DATABASE", stack["resolver"].ref("GlueDatabase"))


def test_a_missing_stack_is_one_sentence(stack, capsys):
    stack["env"].delenv("VERTICALS_ATHENA_DATABASE")
    try:
        assert main(seed_args("nope")) == 1
    finally:
        stack["env"].setenv("VERTICALS_ATHENA_DATABASE", stack["resolver"].ref("GlueDatabase"))
    assert capsys.readouterr().err.strip() == (
        "error: The CloudFormation stack nope does not exist in us-east-1: check VERTICALS_STACK and "
        "VERTICALS_REGION, or deploy it with python -m app infra deploy."
    )


def test_no_stack_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.delenv("VERTICALS_STACK", raising=False)
    assert main(["demo", "seed", "--backend", "aws", "--days", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: no stack name: pass --stack NAME")


def test_no_credentials_is_one_sentence(monkeypatch, capsys):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    assert main(seed_args("x", "--region", REGION)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "credentials" in err.lower() and "\n" not in err


def test_local_only_and_aws_only_options_are_refused(capsys):
    assert main(["demo", "seed", "--backend", "aws", "--stack", "s", "--lake", "/tmp/x"]) == 2
    assert "--lake is for the local backend" in capsys.readouterr().err
    assert main(["demo", "seed", "--region", "eu-west-1", "--days", "1"]) == 2
    assert "for --backend aws" in capsys.readouterr().err
