"""What services read from: the query engine, the bus metrics, the dead-letter queues,
and where the audit trail is kept.

:func:`build_context` picks a builder by ``settings.backend``; each backend is one
function here, so the aws backend slots in beside the local one without touching pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from app.audit import AuditSink, FileSink, NoSink, audit_path
from app.dead_letters import DeadLetterSource
from app.engines.base import QueryEngine
from app.metrics.base import MetricsSource
from app.settings import Settings


@dataclass(frozen=True)
class Context:
    settings: Settings
    engine: QueryEngine
    metrics: MetricsSource
    dead_letters: DeadLetterSource
    backend: str  # "local" | "aws"
    location: str  # where the data is: the lake folder, or the stack
    rules: tuple[str, ...]  # rule names of the bus definition, so a silent rule still shows
    # Where sign-ins, redrives and replays are recorded: chosen here, by backend, and only
    # here (the local file; the stack's CloudWatch Logs group on aws).
    audit: AuditSink = field(default_factory=NoSink)
    # How far behind now the lake is complete: 0 locally (the writer is the bus); on AWS
    # Firehose's buffer interval, whose newest events are still on their way.
    lake_delay: timedelta = timedelta(0)

    @property
    def key(self) -> str:
        """Identifies the data behind this context (part of every cache key)."""
        return f"{self.backend}:{self.location}"


def build_local_context(settings: Settings) -> Context:
    """DuckDB over the lake folder, the local metrics store, the DLQs in ``<lake>/../bus``."""
    from app.bus.dead_letter_source import LocalDeadLetters
    from app.bus.definition import load_definition
    from app.engines.duckdb_engine import DuckDBEngine
    from app.metrics.local import LocalMetricsSource

    lake = Path(settings.lake)
    definition = load_definition()
    return Context(
        settings=settings,
        engine=DuckDBEngine(lake, timeout_s=float(settings.query_timeout)),
        metrics=LocalMetricsSource(lake),
        dead_letters=LocalDeadLetters.for_lake(lake, definition),
        backend="local",
        location=str(lake),
        rules=tuple(r.name for r in definition.rules),
        audit=FileSink(audit_path(settings)),
    )


def build_aws_context(settings: Settings) -> Context:
    """Athena, CloudWatch and SQS for the configured stack (wired in app/backends/aws.py).

    A missing credential, stack or resource raises ``app.aws.errors.AwsError``: one
    sentence, shown as it is.
    """
    from app.backends.aws import build_aws_parts

    parts = build_aws_parts(settings)
    return Context(
        settings=settings,
        engine=parts.engine,
        metrics=parts.metrics,
        dead_letters=parts.dead_letters,
        backend="aws",
        location=parts.location,
        rules=parts.rules,
        audit=parts.audit,
        lake_delay=timedelta(seconds=parts.resources.lake_delay_s),
    )


BACKENDS: dict[str, Callable[[Settings], Context]] = {"local": build_local_context, "aws": build_aws_context}


def build_context(settings: Settings) -> Context:
    return BACKENDS[settings.backend](settings)
