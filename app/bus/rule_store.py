"""Rules made through the API, and ``infra/bus.yaml`` rules deleted through it: ``<state>/rules.json``.

Laid over bus.yaml's rules whenever a bus is opened (:func:`app.bus.runtime.open_local_bus`),
so they survive a restart; the API (:class:`app.bus.api.BusApi`) saves every change here.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.bus.definition import RetryPolicy, Rule, Target
from app.bus.local import LocalBus

FILE_NAME = "rules.json"
FORMAT = 2  # 2: rules keep PutRule's pattern text and the ARNs as given (1: no "format" key)


class RuleStore:
    """Rules made through the API, and yaml rules deleted through it: ``rules.json``."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> RuleStore:
        return cls(Path(state_dir) / FILE_NAME)

    def load(self) -> tuple[list[Rule], set[str]]:
        if not self.path.exists():
            return [], set()
        raw = json.loads(self.path.read_text())
        return [_rule_from_json(r) for r in raw.get("rules", [])], set(raw.get("deleted", []))

    def save(self, rules: list[Rule], deleted: set[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(
            json.dumps(
                {"format": FORMAT, "rules": [asdict(r) for r in rules], "deleted": sorted(deleted)}, indent=1
            )
        )
        os.replace(tmp, self.path)


def _rule_from_json(raw: dict[str, Any]) -> Rule:
    """A rule of either format: before format 2 a file had no ``pattern_text``, ``role_arn``
    nor the targets' ``arn``, ``role_arn`` and ``dead_letter_arn`` (they read back as None:
    the rule answers with its pattern re-serialized and rebuilt ARNs, as it did)."""
    targets = tuple(Target(**{**t, "retry": RetryPolicy(**t["retry"])}) for t in raw["targets"])
    return Rule(
        raw["name"],
        raw["pattern"],
        targets,
        raw.get("description", ""),
        raw.get("state", "ENABLED"),
        pattern_text=raw.get("pattern_text"),
        role_arn=raw.get("role_arn"),
        schedule=raw.get("schedule"),
    )


def apply_stored_rules(bus: LocalBus, store: RuleStore) -> None:
    rules, deleted = store.load()
    for name in deleted:
        bus.remove_rule(name)
    for rule in rules:
        bus.add_rule(rule)
