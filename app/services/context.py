"""What services read from: the query engine, the bus metrics, the dead-letter queues.

:func:`build_context` picks a builder by ``settings.backend``; each backend is one
function here, so the aws backend slots in beside the local one without touching pages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.bus.dlq import DeadLetter, LocalDeadLetterQueue
from app.engines.base import QueryEngine
from app.metrics.base import MetricsSource
from app.services.errors import ServiceError
from app.settings import Settings


class DeadLetterSource(Protocol):
    def queues(self) -> list[str]:
        """Names of the dead-letter queues the bus definition declares."""
        ...

    def peek(self, queue: str, limit: int | None = None) -> list[DeadLetter]:
        """The newest ``limit`` messages of one queue (all if None), oldest first, without
        removing them."""
        ...

    def depth(self, queue: str) -> int:
        """How many messages wait in the queue (SQS: ApproximateNumberOfMessages)."""
        ...


@dataclass(frozen=True)
class Context:
    settings: Settings
    engine: QueryEngine
    metrics: MetricsSource
    dead_letters: DeadLetterSource
    backend: str  # "local" | "aws"
    location: str  # where the data is: the lake folder, or the stack
    rules: tuple[str, ...]  # rule names of the bus definition, so a silent rule still shows

    @property
    def key(self) -> str:
        """Identifies the data behind this context (part of every cache key)."""
        return f"{self.backend}:{self.location}"


class LocalDeadLetters:
    """The local bus's DLQs: ``<lake>/../bus/dlq/<queue>.jsonl``."""

    def __init__(self, folder: Path, queues: Sequence[str]):
        self.folder = Path(folder)
        self._queues = list(queues)

    def queues(self) -> list[str]:
        return list(self._queues)

    def peek(self, queue: str, limit: int | None = None) -> list[DeadLetter]:
        return LocalDeadLetterQueue(self.folder / f"{queue}.jsonl").peek(limit)

    def depth(self, queue: str) -> int:
        path = self.folder / f"{queue}.jsonl"
        if not path.exists():
            return 0
        with path.open() as lines:
            return sum(1 for line in lines if line.strip())


def build_local_context(settings: Settings) -> Context:
    from app.bus.definition import load_definition
    from app.engines.duckdb_engine import DuckDBEngine
    from app.metrics.local import LocalMetricsSource

    lake = Path(settings.lake)
    definition = load_definition()
    return Context(
        settings=settings, engine=DuckDBEngine(lake), metrics=LocalMetricsSource(lake),
        dead_letters=LocalDeadLetters(lake.parent / "bus" / "dlq", definition.dead_letter_queues),
        backend="local", location=str(lake), rules=tuple(r.name for r in definition.rules),
    )


def build_aws_context(settings: Settings) -> Context:
    # The seam for the aws backend: Athena engine, CloudWatch metrics, SQS dead letters.
    raise ServiceError(
        "The aws backend is not available in this build yet; set VERTICALS_BACKEND=local.")


BACKENDS: dict[str, Callable[[Settings], Context]] = {
    "local": build_local_context,
    "aws": build_aws_context,
}


def build_context(settings: Settings) -> Context:
    return BACKENDS[settings.backend](settings)
