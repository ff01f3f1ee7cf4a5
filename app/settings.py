"""Every setting in one registry: name, default, parser, help.

Values come from environment variables named ``VERTICALS_<NAME>`` (upper case), then from
an optional mapping (the app passes ``st.secrets``' ``[verticals]`` section), then the
default. An invalid value raises :class:`SettingsError` naming the variable and what it
accepts. ``docs/settings.md`` documents every setting; a test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_PREFIX = "VERTICALS_"
# Read by the test suite (docs/testing.md), not by the app: never an unknown setting.
TEST_VARIABLES = frozenset({"VERTICALS_TESTDATA", "VERTICALS_ANALYTICS_LAKES", "VERTICALS_EVENTS_TARGET"})
REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value the app cannot use; the message names it and says why."""


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return parse


def _positive_int(raw: str) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueError("must be a whole number") from None
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _minutes_up_to_a_week(raw: str) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueError("must be a whole number of minutes") from None
    if not 0 <= value <= 10_080:
        raise ValueError("must be from 0 (never reuse) to 10080 (7 days, Athena's limit)")
    return value


def _non_negative_float(raw: str) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ValueError("must be a number") from None
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _timezone(raw: str) -> str:
    try:
        ZoneInfo(str(raw).strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as UTC or Europe/Berlin") from None
    return str(raw).strip()


def _path(raw: str) -> Path:
    text = str(raw).strip()
    if not text:
        raise ValueError("must not be empty")
    path = Path(text).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path)


def _text(raw: str) -> str:
    return str(raw).strip()


def _roles(raw: str) -> frozenset[str]:
    from app.auth import parse_roles

    return parse_roles(raw)


def _role_map(raw: str) -> dict[str, str]:
    from app.auth import parse_role_map

    return parse_role_map(raw)


def _alb_arn(raw: str) -> str:
    from app.auth import alb_region

    text = str(raw).strip()
    if text:
        alb_region(text)
    return text


def _instant(raw: str) -> datetime | None:
    text = str(raw).strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ValueError(
            "must be an ISO-8601 instant with a zone, such as 2026-11-30T10:00:00Z (empty: real time)"
        )
    return value


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "backend",
        "local",
        _choice("local", "aws"),
        "Where data comes from: `local` (embedded bus, Parquet lake, DuckDB) or `aws` "
        "(Athena, CloudWatch, SQS).",
    ),
    Setting(
        "lake",
        "data/lake",
        _path,
        "Local backend: the lake folder (relative paths are relative to the repository).",
    ),
    Setting("timezone", "UTC", _timezone, "Time zone the pages show times in."),
    Setting("cache_ttl", "300", _positive_int, "Seconds a page keeps a query result."),
    Setting(
        "max_entry_bytes",
        "262144",
        _positive_int,
        "PutEvents: the largest entry accepted, in bytes (EventBridge: 256 KB).",
    ),
    Setting("bus_name", "verticals", _text, "Name of the event bus."),
    Setting(
        "bus_url",
        "",
        _text,
        "Local backend: URL of a running `bus serve` (empty: the app reads the lake only).",
    ),
    Setting("region", "us-east-1", _text, "AWS region (also stamped on local events)."),
    Setting("account", "123456789012", _text, "AWS account id (stamped on local events)."),
    Setting("aws_profile", "", _text, "aws backend: boto3 profile (empty: default credential chain)."),
    Setting("stack", "", _text, "aws backend: CloudFormation stack whose outputs name the resources."),
    Setting("athena_workgroup", "", _text, "aws backend: Athena workgroup (overrides the stack output)."),
    Setting("athena_database", "", _text, "aws backend: Glue database (overrides the stack output)."),
    Setting("lake_bucket", "", _text, "aws backend: S3 bucket of the lake (overrides the stack output)."),
    Setting(
        "audit_log_group",
        "",
        _text,
        "aws backend: CloudWatch Logs group of the audit trail (overrides the stack output).",
    ),
    Setting("athena_price_per_tb", "5.0", _non_negative_float, "aws backend: USD per TB scanned."),
    Setting(
        "athena_result_reuse_minutes",
        "60",
        _minutes_up_to_a_week,
        "aws backend: minutes an identical Athena query may reuse a stored result (0: never).",
    ),
    Setting("query_timeout", "120", _positive_int, "Seconds before a running query is stopped."),
    Setting(
        "max_range_days",
        "3660",
        _positive_int,
        "The longest time range a page reads, in days; a longer link shows its last this many days.",
    ),
    Setting(
        "sign_in",
        "local",
        _choice("local", "oidc", "alb"),
        "Who may open the dashboard: `local` (no sign-in, one local identity; only on 127.0.0.1), "
        "`oidc` (Streamlit's sign-in, `[auth]` in secrets.toml) or `alb` (an AWS ALB's signed "
        "`x-amzn-oidc-data` header). See docs/security.md.",
    ),
    Setting(
        "local_roles",
        "manager,analyst,ops",
        _roles,
        "sign_in=local: the roles of the one local identity (comma-separated: manager, analyst, ops).",
    ),
    Setting(
        "role_claim",
        "groups",
        _text,
        "oidc/alb: the claim whose values (a list, or a string of values) give the user's roles.",
    ),
    Setting(
        "roles",
        "",
        _role_map,
        "oidc/alb: claim values to roles, e.g. `dash-managers=manager,data-team=analyst,sre=ops` "
        "(empty: values that are role names count as they are).",
    ),
    Setting(
        "alb_arn",
        "",
        _alb_arn,
        "sign_in=alb: ARN of the load balancer whose signed header is trusted (its `signer`).",
    ),
    Setting(
        "audit_log",
        "",
        _text,
        "The audit trail's JSON-lines file (empty: `audit.jsonl` in the bus state folder, `<lake>/../bus`).",
    ),
    Setting(
        "now",
        "",
        _instant,
        "The instant the app, the CLI, the bus and the demo seed take as now, e.g. "
        "`2026-11-30T10:00:00Z` (empty: the real clock). Environment only; see docs/testing.md.",
    ),
)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, **changes: Any) -> Settings:
        unknown = set(changes) - set(BY_NAME)
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        parsed = {k: _parse(BY_NAME[k], v, f"setting {k}") for k, v in changes.items()}
        return Settings({**self.values, **parsed})


def _parse(setting: Setting, raw: Any, origin: str) -> Any:
    if not isinstance(raw, str):
        if isinstance(raw, Path):
            return raw
        raw = str(raw)
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{origin}={raw!r} is invalid: {setting.name} {exc}.") from None


def from_environment(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting from the environment (or its default), validated like :func:`load_settings`."""
    environ = os.environ if environ is None else environ
    setting = BY_NAME[name]
    if setting.env_var in environ:
        return _parse(setting, environ[setting.env_var], setting.env_var)
    return _parse(setting, setting.default, f"default {setting.name}")


def load_settings(
    environ: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None
) -> Settings:
    """Read every setting: environment first, then ``secrets``, then the default."""
    environ = os.environ if environ is None else environ
    secrets = secrets or {}
    named = [k for k in environ if k.startswith(ENV_PREFIX) and k not in TEST_VARIABLES]
    unknown = [k for k in named if k[len(ENV_PREFIX) :].lower() not in BY_NAME]
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]}; known: {', '.join(s.env_var for s in SETTINGS)}.")
    values = {}
    for setting in SETTINGS:
        if setting.env_var in environ:
            values[setting.name] = _parse(setting, environ[setting.env_var], setting.env_var)
        elif setting.name in secrets:
            values[setting.name] = _parse(setting, secrets[setting.name], f"secrets.toml {setting.name}")
        else:
            values[setting.name] = _parse(setting, setting.default, f"default {setting.name}")
    return Settings(values)
