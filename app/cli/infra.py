"""``python -m app infra …``: the CloudFormation stack of the aws backend.

* ``infra render [--output PATH] [--check]`` — write the template generated from
  ``infra/bus.yaml`` and the lake schema (``--check``: exit 1 if the file is stale).
* ``infra deploy --stack NAME [--region R] [--profile P] [--parameter KEY=VALUE …]
  [--template-bucket B]`` — create or update the stack through a change set, print the
  planned changes and the stack events as they happen, then the named outputs.
* ``infra outputs --stack NAME [--format table|env|json]`` — the outputs
  (``env``: the ``VERTICALS_*`` lines that point the app at the stack).
* ``infra destroy --stack NAME [--yes]`` — remove the stack; the lake and results
  buckets are retained.

``--stack`` defaults to the ``VERTICALS_STACK`` setting, ``--region`` and ``--profile``
to ``VERTICALS_REGION`` and ``VERTICALS_AWS_PROFILE``. An AWS failure prints one sentence
(no traceback) and exits with status 1; a bad argument exits with 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.aws.errors import AwsError, aws_errors
from app.aws.session import client, make_session, stack_outputs
from app.settings import Settings, SettingsError, load_settings
from app.stack_names import OUTPUT_KEYS

FAILED = 1
USAGE = 2


def add_infra_commands(commands: argparse._SubParsersAction) -> None:
    infra = commands.add_parser("infra", help="the aws backend's CloudFormation stack")
    actions = infra.add_subparsers(dest="infra_command", required=True)

    render = actions.add_parser(
        "render", help="write infra/template.yaml from infra/bus.yaml and the lake schema"
    )
    render.add_argument(
        "--output", type=Path, default=None, help="where to write (default: infra/template.yaml)"
    )
    render.add_argument(
        "--check", action="store_true", help="only check that the file is current (exit 1 if not)"
    )
    render.set_defaults(handler=cmd_render)

    deploy = actions.add_parser("deploy", help="create or update the stack through a change set")
    _stack_arguments(deploy)
    deploy.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a template parameter; repeat (e.g. CrmWebhookUrl=https://…, CrmWebhookApiKey=…)",
    )
    deploy.add_argument(
        "--template-bucket",
        default=None,
        help="S3 bucket for the template (default: verticals-cfn-templates-<account>-<region>)",
    )
    deploy.set_defaults(handler=cmd_deploy)

    outputs = actions.add_parser("outputs", help="print the stack's named outputs")
    _stack_arguments(outputs)
    outputs.add_argument("--format", choices=("table", "env", "json"), default="table")
    outputs.set_defaults(handler=cmd_outputs)

    destroy = actions.add_parser("destroy", help="remove the stack (the lake bucket is retained)")
    _stack_arguments(destroy)
    destroy.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    destroy.set_defaults(handler=cmd_destroy)


def _stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default=None, help="stack name (default: VERTICALS_STACK)")
    parser.add_argument("--region", default=None, help="AWS region (default: VERTICALS_REGION)")
    parser.add_argument("--profile", default=None, help="AWS profile (default: VERTICALS_AWS_PROFILE)")


# --- handlers --------------------------------------------------------------------------------


def cmd_render(args: argparse.Namespace) -> int:
    from app.infra.render import TEMPLATE_PATH, render

    path = args.output or TEMPLATE_PATH
    text = render()
    if args.check:
        current = path.read_text() if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run python -m app infra render", file=sys.stderr)
            return FAILED
        print(f"{path} is current")
        return 0
    path.write_text(text)
    print(f"wrote {path} ({len(text.encode()):,} bytes)")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    def run(settings: Settings, session: Any) -> int:
        from app.bus.definition import load_definition
        from app.infra.deploy import (
            deploy,
            ensure_template_bucket,
            parse_parameter_overrides,
            template_bucket_name,
        )
        from app.infra.render import render_template, to_json

        template = render_template(load_definition())
        body = to_json(template)
        s3 = client(session, "s3")
        bucket = args.template_bucket or template_bucket_name(client(session, "sts"), settings.region)
        ensure_template_bucket(s3, bucket, settings.region)
        print(
            f"deploying stack {settings.stack} in {settings.region} ({len(body):,} bytes of template via s3://{bucket})"
        )
        result = deploy(
            client(session, "cloudformation"),
            s3,
            settings.stack,
            template,
            body,
            parse_parameter_overrides(args.parameter),
            template_bucket=bucket,
            region=settings.region,
            on_event=lambda e: print(e.line()),
            on_change=_print_change,
        )
        print(f"{result.stack}: {result.status}" + ("" if result.changed else " (no changes)"))
        print(format_outputs(result.outputs, "table"))
        return 0

    return _with_stack(args, run)


def cmd_outputs(args: argparse.Namespace) -> int:
    def run(settings: Settings, session: Any) -> int:
        print(
            format_outputs(
                stack_outputs(client(session, "cloudformation"), settings.stack),
                args.format,
                settings.stack,
                settings.region,
            )
        )
        return 0

    return _with_stack(args, run)


def cmd_destroy(args: argparse.Namespace, ask: Callable[[str], str] = input) -> int:
    def run(settings: Settings, session: Any) -> int:
        from app.infra.deploy import destroy

        if (
            not args.yes
            and ask(f"remove stack {settings.stack} in {settings.region}? type its name: ") != settings.stack
        ):
            print("not removed")
            return FAILED
        status = destroy(
            client(session, "cloudformation"), settings.stack, on_event=lambda e: print(e.line())
        )
        print(f"{settings.stack}: {status}; the lake and results buckets are retained")
        return 0

    return _with_stack(args, run)


# --- shared ---------------------------------------------------------------------------------


def stack_settings(args: argparse.Namespace, settings: Settings | None = None) -> Settings:
    """Settings with the command line's stack, region and profile applied."""
    settings = settings or load_settings()
    changes = {
        k: v for k, v in (("stack", args.stack), ("region", args.region), ("aws_profile", args.profile)) if v
    }
    settings = settings.replace(**changes) if changes else settings
    if not settings.stack:
        raise SettingsError("no stack name: pass --stack NAME or set VERTICALS_STACK")
    return settings


def _with_stack(args: argparse.Namespace, run: Callable[[Settings, Any], int]) -> int:
    try:
        settings = stack_settings(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE
    try:
        with aws_errors(profile=settings.aws_profile, region=settings.region):
            return run(settings, make_session(settings))
    except AwsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return FAILED


def _print_change(change: dict) -> None:
    replacement = " (replacement)" if change.get("Replacement") == "True" else ""
    print(
        f"  {change.get('Action', '?'):<8} {change.get('ResourceType', ''):<36} "
        f"{change.get('LogicalResourceId', '')}{replacement}"
    )


def format_outputs(outputs: dict[str, str], fmt: str, stack: str = "", region: str = "") -> str:
    if fmt == "json":
        return json.dumps(outputs, indent=2, sort_keys=True)
    if fmt == "env":
        lines = ["VERTICALS_BACKEND=aws", f"VERTICALS_STACK={stack}", f"VERTICALS_REGION={region}"]
        lines += [
            f"VERTICALS_{setting.upper()}={outputs[key]}"
            for setting, key in OUTPUT_KEYS.items()
            if key in outputs
        ]
        return "\n".join(lines)
    width = max((len(k) for k in outputs), default=0)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in sorted(outputs.items()))
