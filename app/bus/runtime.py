"""Opening the local bus as ``bus serve`` runs it: bus.yaml's rules with the API's changes
laid over (:mod:`app.bus.rule_store`), its state beside the lake.

The one way a bus is opened over a lake: by the server, by the CLI's redrive and by the
dead-letter view (:mod:`app.bus.dead_letter_source`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from app.bus.connections import ConnectionStore, EndpointView
from app.bus.definition import BusDefinition
from app.bus.journal import Journal
from app.bus.local import DEFAULT_ACCOUNT, DEFAULT_REGION, LocalBus
from app.bus.rule_store import RuleStore, apply_stored_rules
from app.bus.targets import Transport


def state_dir_for(lake: Path, state_dir: Path | None = None) -> Path:
    """Where the bus keeps its state: ``state_dir``, else ``<lake>/../bus``."""
    return Path(state_dir) if state_dir else Path(lake).parent / "bus"


def open_local_bus(
    definition: BusDefinition,
    lake: Path,
    state_dir: Path | None = None,
    *,
    transport: Transport | None = None,
    journal: Journal | None = None,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
) -> LocalBus:
    """A bus with the rules ``bus serve`` has: bus.yaml's, with the API's changes laid over;
    its HTTP targets may name the API destinations of its account and region."""
    state_dir = state_dir_for(lake, state_dir)
    connections = ConnectionStore.in_state_dir(state_dir)
    definition = replace(
        definition, endpoints=EndpointView(connections, (account, region), definition.endpoints)
    )
    bus = LocalBus(
        definition,
        Path(lake),
        state_dir=state_dir,
        transport=transport,
        journal=journal,
        account=account,
        region=region,
    )
    apply_stored_rules(bus, RuleStore.in_state_dir(state_dir))
    return bus
