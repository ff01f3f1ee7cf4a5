"""``python -m app lake check|quarantine``: find the lake files readers cannot use (corrupt,
foreign, stray) and move them aside into ``<lake>/_quarantine/``, never deleting one.
``lake rollups``: rebuild the rollups (locally, or ``--backend aws --stack NAME`` on Athena:
app/engines/athena_rollups.py). ``lake compact [--backend local|aws]``: merge small files
(the local lake's partition folders, or the stack's S3 lake's closed days)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, date, timedelta
from typing import Any

from app.cli.common import CliError, lake_argument, positive_int, resolve_lake
from app.lake.check import NotALake, run_check, run_quarantine, validate_lake
from app.settings import Settings, load_settings


def _run(action: Callable[..., tuple[str, int]], args: argparse.Namespace) -> int:
    try:
        text, status = action(resolve_lake(args))
    except NotALake as exc:
        raise CliError(str(exc)) from None
    print(text)
    return status


def add_lake_commands(commands: argparse._SubParsersAction) -> None:
    lake = commands.add_parser("lake", help="find lake files readers cannot use, and move them aside")
    actions = lake.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="list problem files (exit status 1 when there are any)")
    lake_argument(check)
    check.set_defaults(handler=lambda args: _run(run_check, args))
    quarantine = actions.add_parser(
        "quarantine", help="move problem files to <lake>/_quarantine/ (never deletes)"
    )
    lake_argument(quarantine)
    quarantine.set_defaults(handler=lambda args: _run(run_quarantine, args))
    add_rollup_command(actions)
    add_compact_command(actions)


def _rollups(args: argparse.Namespace) -> int:
    from app.lake.rollups import rebuild_rollups, refresh_rollups

    if args.backend == "aws":
        return _aws_rollups(args)

    try:
        lake = validate_lake(resolve_lake(args))
    except NotALake as exc:
        raise CliError(str(exc)) from None
    report = refresh_rollups(lake) if args.refresh else rebuild_rollups(lake, args.since)
    print(
        f"{report.days_built} day(s) rolled up, {report.days_removed} removed, "
        f"{report.metric_days_built} day(s) of bus metrics rolled up in {report.seconds:.1f} s"
    )
    return 0


AWS_DEFAULT_DAYS = 90  # --backend aws without --since: the last 90 closed days


def _aws_rollups(args: argparse.Namespace) -> int:
    """Athena: materialize the closed days from --since (default: the last 90) that are not
    done yet (--refresh), or all of them again (default, as locally: a rebuild)."""
    from app.cli.infra import _with_stack

    def run(settings: Any, session: Any) -> int:
        from app import clock
        from app.aws.session import resolve_resources
        from app.engines.athena import AthenaEngine
        from app.engines.athena_rollups import AthenaRollups, days_since
        from app.engines.base import QueryError

        resources = resolve_resources(settings, session, [])
        engine = AthenaEngine.from_settings(settings, resources, session)
        now = clock.now()
        since = args.since or (now.astimezone(UTC) - timedelta(days=AWS_DEFAULT_DAYS)).date()
        try:
            report = AthenaRollups(engine, resources.lake_bucket).build(
                days_since(since, now), rebuild=not args.refresh, timeout_s=AWS_TIMEOUT_S
            )
        except QueryError as exc:
            raise CliError(str(exc)) from None
        skipped = f", {len(report.skipped)} skipped (another build holds them)" if report.skipped else ""
        print(
            f"{len(report.built)} day(s) rolled up on Athena{skipped}: {report.queries} queries, "
            f"{report.bytes_scanned / 2**20:,.1f} MiB scanned, ${report.cost_usd:.4f}"
        )
        return 0

    return _with_stack(args, run)


AWS_TIMEOUT_S = 1800.0  # an INSERT of 100 days may run for minutes


def add_rollup_command(actions: argparse._SubParsersAction) -> None:
    rollups = actions.add_parser(
        "rollups",
        help="rebuild the rollup tables from raw events (every closed day, or from --since); "
        "--backend aws: on Athena, for the stack",
    )
    lake_argument(rollups)
    rollups.add_argument("--backend", choices=("local", "aws"), default="local")
    rollups.add_argument("--stack", default=None, help="aws: stack name (default: VERTICALS_STACK)")
    rollups.add_argument("--region", default=None, help="aws: AWS region (default: VERTICALS_REGION)")
    rollups.add_argument("--profile", default=None, help="aws: AWS profile (default: VERTICALS_AWS_PROFILE)")
    rollups.add_argument("--since", type=date.fromisoformat, default=None, help="first day (YYYY-MM-DD)")
    rollups.add_argument(
        "--refresh", action="store_true", help="only days not rolled up yet, and those late events dirtied"
    )
    rollups.set_defaults(handler=_rollups)


def _compact(args: argparse.Namespace) -> int:
    settings = load_settings()
    if (args.backend or settings.backend) == "aws":
        return _compact_aws(args, settings)
    from app.lake.compact import compact

    try:
        lake = validate_lake(resolve_lake(args))
    except NotALake as exc:
        raise CliError(str(exc)) from None
    report = compact(lake)
    print(
        f"{report.partitions} partition(s) compacted: {report.files_before:,} files → {report.files_after:,}"
    )
    return 0


def _compact_aws(args: argparse.Namespace, settings: Settings) -> int:
    from app.aws.compact import compact_lake
    from app.aws.errors import AwsError, aws_errors
    from app.aws.session import client, make_session, stack_outputs
    from app.stack_names import OUTPUT_KEYS

    changes = {
        k: v for k, v in (("stack", args.stack), ("region", args.region), ("aws_profile", args.profile)) if v
    }
    settings = settings.replace(**changes) if changes else settings
    if not settings.stack and not settings.lake_bucket:
        raise CliError("no lake bucket: pass --stack NAME (or set VERTICALS_STACK or VERTICALS_LAKE_BUCKET)")
    try:
        with aws_errors(profile=settings.aws_profile, region=settings.region):
            session = make_session(settings)
            bucket = settings.lake_bucket
            if not bucket:
                outputs = stack_outputs(client(session, "cloudformation"), settings.stack)
                bucket = outputs.get(OUTPUT_KEYS["lake_bucket"], "")
                if not bucket:
                    raise AwsError(f"The stack {settings.stack} has no {OUTPUT_KEYS['lake_bucket']} output.")
            report = compact_lake(
                client(session, "s3"),
                bucket,
                days=args.days,
                on_partition=None if args.quiet else lambda prefix, n: print(f"  {prefix}: {n} files → 1"),
            )
    except AwsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"s3://{bucket}: {report.line()}")
    return 0


def add_compact_command(actions: argparse._SubParsersAction) -> None:
    compact = actions.add_parser(
        "compact",
        help="merge small files: each partition folder of the local lake, or each closed day of the S3 lake",
    )
    compact.add_argument(
        "--backend", choices=("local", "aws"), default=None, help="default: the VERTICALS_BACKEND setting"
    )
    lake_argument(compact)
    compact.add_argument("--stack", default=None, help="aws: stack whose LakeBucket output names the lake")
    compact.add_argument("--region", default=None, help="aws: AWS region (default: VERTICALS_REGION)")
    compact.add_argument("--profile", default=None, help="aws: AWS profile (default: VERTICALS_AWS_PROFILE)")
    compact.add_argument(
        "--days",
        type=positive_int,
        default=7,
        help="aws: the last N closed days (default 7; today and a day not yet settled are never touched)",
    )
    compact.add_argument("--quiet", action="store_true", help="aws: only the summary line")
    compact.set_defaults(handler=_compact)
