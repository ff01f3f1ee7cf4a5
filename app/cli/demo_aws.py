"""``python -m app demo seed --backend aws``: the simulated enterprise into the stack's S3 lake.

The Glue database and the lake bucket are the stack's outputs ``GlueDatabase`` and
``LakeBucket`` (``--stack``, default ``VERTICALS_STACK``); ``VERTICALS_ATHENA_DATABASE``
and ``VERTICALS_LAKE_BUCKET`` win over them, and with both set no stack is needed. A lake
that already holds data is refused unless ``--force`` or ``--if-empty``
(app/demo/seed_aws.py). An AWS failure prints one sentence and exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from app.aws.errors import AwsError, aws_errors
from app.aws.session import client, make_session, stack_outputs
from app.cli.common import CliError
from app.lake.tables import TABLES
from app.settings import Settings, load_settings
from app.stack_names import OUTPUT_KEYS

FAILED = 1


def aws_settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    changes = {
        k: v for k, v in (("stack", args.stack), ("region", args.region), ("aws_profile", args.profile)) if v
    }
    settings = settings.replace(**changes) if changes else settings
    if not settings.stack and not (settings.athena_database and settings.lake_bucket):
        raise CliError(
            "no stack name: pass --stack NAME or set VERTICALS_STACK "
            "(or both VERTICALS_ATHENA_DATABASE and VERTICALS_LAKE_BUCKET)"
        )
    return settings


def lake_names(settings: Settings, session: Any) -> tuple[str, str]:
    """(Glue database, lake bucket): explicit settings first, then the stack's outputs."""
    outputs: dict[str, str] = {}
    if settings.stack and not (settings.athena_database and settings.lake_bucket):
        outputs = stack_outputs(client(session, "cloudformation"), settings.stack)
    database = settings.athena_database or outputs.get(OUTPUT_KEYS["athena_database"], "")
    bucket = settings.lake_bucket or outputs.get(OUTPUT_KEYS["lake_bucket"], "")
    missing = [
        name
        for name, value in (("VERTICALS_ATHENA_DATABASE", database), ("VERTICALS_LAKE_BUCKET", bucket))
        if not value
    ]
    if missing:
        raise AwsError(f"The stack {settings.stack} has no output for {', '.join(missing)}: set it.")
    return database, bucket


def _print_upload(table: str, done: int, total: int, rows: int) -> None:
    sys.stderr.write(f"\rwriting {table:<11} {done}/{total} days, {rows:,} rows")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def cmd_demo_seed_aws(args: argparse.Namespace, simulate_progress: Callable[[int, int, int], None]) -> int:
    from app.demo.seed import SeedRefused
    from app.demo.seed_aws import seed_aws

    if args.lake is not None:
        raise CliError("--lake is for the local backend; --backend aws writes the stack's lake")
    settings = aws_settings(args)
    try:
        with aws_errors(profile=settings.aws_profile, region=settings.region):
            session = make_session(settings)
            database, bucket = lake_names(settings, session)
            print(f"seeding s3://{bucket}/ (Glue database {database}, {settings.region or 'default region'})")
            report = seed_aws(
                session,
                database=database,
                bucket=bucket,
                days=args.days,
                events_per_day=args.events_per_day,
                seed=args.seed,
                end=args.end,
                force=args.force,
                if_empty=args.if_empty,
                simulate_progress=None if args.quiet else simulate_progress,
                upload_progress=None if args.quiet else _print_upload,
            )
    except (AwsError, SeedRefused) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return FAILED
    if report.skipped:
        print(f"the lake s3://{bucket}/ already holds data: nothing written (--if-empty)")
        return 0
    rate = report.rows / report.upload_seconds if report.upload_seconds else 0
    print(
        f"seeded {report.events:,} events over {report.days} days into s3://{bucket}/: "
        f"{report.rows:,} rows in {report.objects:,} objects over {len(TABLES)} tables; simulated in "
        f"{report.simulate_seconds:.1f} s, written in {report.upload_seconds:.1f} s ({rate:,.0f} rows/s)"
    )
    return 0
