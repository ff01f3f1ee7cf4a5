"""The local bus's dead-letter queues as the Delivery health page and ``bus redrive`` see
them: a :class:`~app.dead_letters.DeadLetterSource` over ``<state>/dlq/<queue>.jsonl``
(:mod:`app.bus.dlq`), with the interface of the aws backend's ``SqsDeadLetters``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from app.bus.definition import BusDefinition, load_definition
from app.bus.dlq import LocalDeadLetterQueue, queue_path
from app.bus.local import LocalBus
from app.bus.runtime import open_local_bus, state_dir_for
from app.dead_letters import DeadLetter, RedriveResult


class LocalDeadLetters:
    """The local bus's DLQs as the Delivery health page sees them: ``<state>/dlq/<queue>.jsonl``.

    ``redrive`` delivers each chosen message's event again to the rule target that
    dead-lettered it (its RULE_ARN and TARGET_ARN attributes), once, through a bus built on
    demand over the same lake and state folder, and deletes only the messages delivered.
    """

    def __init__(self, folder: Path, queues: Sequence[str], bus: Callable[[], LocalBus] | None = None):
        self.folder = Path(folder)
        self._declared = list(queues)
        self._bus = bus

    @classmethod
    def for_lake(
        cls, lake: Path, definition: BusDefinition | None = None, state_dir: Path | None = None
    ) -> LocalDeadLetters:
        definition = definition or load_definition()
        state_dir = state_dir_for(lake, state_dir)
        return cls(
            state_dir / "dlq",
            definition.dead_letter_queues,
            bus=lambda: open_local_bus(definition, Path(lake), state_dir),
        )

    def _queue(self, name: str) -> LocalDeadLetterQueue:
        return LocalDeadLetterQueue(queue_path(self.folder, name))

    def queues(self) -> list[str]:
        """The queues bus.yaml declares, then any a rule made through the API uses."""
        found = sorted(p.stem for p in self.folder.glob("*.jsonl")) if self.folder.exists() else []
        return list(dict.fromkeys(self._declared + found))

    def peek(self, queue: str, limit: int | None = None) -> list[DeadLetter]:
        return self._queue(queue).peek(limit)

    def depth(self, queue: str) -> int:
        return self._queue(queue).depth()

    def redrive(self, queue: str, message_ids: Iterable[str]) -> RedriveResult:
        if self._bus is None:
            raise ValueError("this dead-letter source cannot redrive: it has no bus")
        bus = self._bus()
        try:
            return bus.redrive(queue, message_ids)
        finally:
            bus.flush()  # the redrive's invocation metrics
