"""The stack on moto seeded by ``python -m app demo seed --backend aws``, and the local seed
of the same parameters: shared by tests/aws/test_seed_aws.py and the AppTest comparison."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from app.bus.definition import load_definition
from app.cli.main import main
from app.infra.render import render_template
from tests.aws.cfn_moto import REGION, Resolver, create_stack
from tests.instant import ISO, TODAY

# Small enough for seconds, long enough for a campaign (the first starts 14-30 days in)
# and for the AppTest comparison's window (days 35 to 6 before NOW).
SMALL_AWS = {"days": 42, "events_per_day": 500, "seed": 11}
PARAMETERS = {
    "CrmWebhookApiKey": "k",
    "AttributionApiApiKey": "k",
    "CrmWebhookUrl": "https://crm.example.com/e",
    "AttributionApiUrl": "https://marketing.example.com/a",
}


def seed_args(stack: str, *more: str) -> list[str]:
    return [
        *("demo", "seed", "--backend", "aws", "--stack", stack),
        *("--days", str(SMALL_AWS["days"]), "--events-per-day", str(SMALL_AWS["events_per_day"])),
        *("--seed", str(SMALL_AWS["seed"]), "--end", TODAY.isoformat(), "--quiet"),
        *more,
    ]


@contextmanager
def seeded_stack(stack: str) -> Iterator[tuple[Resolver, pytest.MonkeyPatch]]:
    """moto with the rendered template deployed as ``stack`` and seeded through the command
    line (for module fixtures: the function-scoped environment fixtures do not apply)."""
    with pytest.MonkeyPatch.context() as env, mock_aws():
        for key, value in {
            "VERTICALS_NOW": ISO,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "VERTICALS_REGION": REGION,
        }.items():
            env.setenv(key, value)
        env.delenv("AWS_PROFILE", raising=False)
        resolver = create_stack(render_template(load_definition()), stack, PARAMETERS)
        # moto's CloudFormation skips Glue, so the stack has no GlueDatabase output: set it.
        env.setenv("VERTICALS_ATHENA_DATABASE", resolver.ref("GlueDatabase"))
        assert main(seed_args(stack)) == 0
        yield resolver, env


def lake_keys(resolver: Resolver) -> list[str]:
    bucket = resolver.ref("LakeBucket")
    pages = boto3.client("s3", region_name=REGION).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def download_lake(resolver: Resolver, folder: Path) -> Path:
    """Every object of the lake bucket under ``folder``, at its key."""
    s3 = boto3.client("s3", region_name=REGION)
    bucket = resolver.ref("LakeBucket")
    for key in lake_keys(resolver):
        target = folder / key
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(target))
    return folder
