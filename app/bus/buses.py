"""Every event bus ``bus serve`` holds, by (account, region, name).

EventBridge gives each account a bus named ``default`` in every region; CreateEventBus adds
custom buses beside it. Here the bus of ``infra/bus.yaml`` (the *home* bus, whose lake and
metrics the dashboard reads) is one custom bus of the home account and region; every other
bus — each account's ``default`` bus, made the first time it is used, and each bus
CreateEventBus makes — is a :class:`~app.bus.local.LocalBus` of its own under
``<state>/buses/<account>/<region>/<name>/``: its rules (``rules.json``), journal, archives,
replays, dead-letter queues, and a lake of its own (``lake/``), so that nothing another
account or bus publishes lands in the home bus's lake. ``<state>/buses.json`` lists them,
so that they are opened again after a restart.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.bus.connections import ConnectionStore, EndpointView
from app.bus.definition import BusDefinition, ResourceNotFoundException, TargetKind
from app.bus.journal import Journal
from app.bus.local import DEFAULT_BUS, LocalBus
from app.bus.rule_store import RuleStore, apply_stored_rules
from app.events import BusError
from app.lake.paths import name_folder

if TYPE_CHECKING:
    from app.bus.api import BusApi

log = logging.getLogger("verticals.bus.buses")

Scope = tuple[str, str]  # (account, region)
BUS_ARN = re.compile(r"^arn:aws[\w-]*:events:([\w-]+):(\d{12}):event-bus/(.+)\Z")
FILE_NAME = "buses.json"


@dataclass
class BusInfo:
    account: str
    region: str
    name: str
    description: str = ""
    created: float = 0.0
    modified: float = 0.0


@dataclass
class BusEntry:
    info: BusInfo
    bus: LocalBus
    api: BusApi


# (bus, its rule store) -> the API over it; the server gives its deliver and run_replay hooks.
OpenApi = Callable[[LocalBus, RuleStore], "BusApi"]


class BusRegistry:
    """The buses by (account, region, name); thread-safe (PutEvents does not take the
    server's lock, and may make an account's ``default`` bus)."""

    def __init__(self, home: LocalBus, home_api: BusApi, state_dir: Path, open_api: OpenApi):
        self.home = home
        self.state_dir = Path(state_dir)
        self.open_api = open_api
        self.lock = threading.RLock()
        # API destinations (through the API) beside bus.yaml's endpoints, per account and region.
        self.connections = ConnectionStore.in_state_dir(self.state_dir)
        defined = home.definition.endpoints  # bus.yaml's, or a view over them (runtime.open_local_bus)
        self.defined_endpoints = defined.defined if isinstance(defined, EndpointView) else defined
        home_scope = (home.account, home.region)
        _use_endpoints(home, EndpointView(self.connections, home_scope, self.defined_endpoints))
        created = time.time()
        self.entries: dict[tuple[str, str, str], BusEntry] = {
            _key(home.account, home.region, home.name): BusEntry(
                BusInfo(home.account, home.region, home.name, created=created, modified=created),
                home,
                home_api,
            )
        }
        path = self.state_dir / FILE_NAME
        for raw in json.loads(path.read_text()) if path.exists() else []:
            info = BusInfo(**raw)
            if _key(info.account, info.region, info.name) in self.entries:
                continue
            try:
                self._open(info)
            except (BusError, ValueError, OSError) as error:  # one written before names were checked
                log.warning("bus %s/%s/%r left out: %s", info.account, info.region[:40], info.name, error)

    # -- lookups -----------------------------------------------------------------------
    def resolve(self, scope: Scope, name_or_arn: Any) -> tuple[Scope, str]:
        """(scope, name) of a bus named by name or ARN (None: the default bus)."""
        if name_or_arn is None or name_or_arn == "":
            return scope, DEFAULT_BUS
        match = BUS_ARN.match(str(name_or_arn))
        if match:
            region, account, name = match.groups()
            return (account, checked_region(region)), name
        return scope, str(name_or_arn)

    def get(self, scope: Scope, name_or_arn: Any) -> BusEntry:
        """The bus; ResourceNotFoundException when it does not exist."""
        entry = self.find(scope, name_or_arn)
        if entry is None:
            _, name = self.resolve(scope, name_or_arn)
            raise ResourceNotFoundException(f"Event bus {name} does not exist.")
        return entry

    def find(self, scope: Scope, name_or_arn: Any) -> BusEntry | None:
        (account, region), name = self.resolve(scope, name_or_arn)
        with self.lock:
            entry = self.entries.get(_key(account, region, name))
            if entry is None and name == DEFAULT_BUS:
                now = time.time()
                entry = self._open(BusInfo(account, region, DEFAULT_BUS, created=now, modified=now))
                self._save()
            return entry

    def exists(self, scope: Scope, name_or_arn: Any) -> bool:
        return self.find(scope, name_or_arn) is not None

    def in_scope(self, scope: Scope) -> list[BusEntry]:
        """The buses of an account in a region (its default bus first made), by name."""
        self.find(scope, DEFAULT_BUS)
        with self.lock:
            return sorted(
                (e for e in self.entries.values() if (e.info.account, e.info.region) == scope),
                key=lambda e: e.info.name,
            )

    def all(self) -> list[BusEntry]:
        with self.lock:
            return list(self.entries.values())

    # -- changes -----------------------------------------------------------------------
    def create(self, scope: Scope, name: str, description: str = "") -> BusEntry:
        now = time.time()
        with self.lock:
            entry = self._open(BusInfo(scope[0], scope[1], name, description, now, now))
            self._save()
            return entry

    def update(self, entry: BusEntry, description: str) -> None:
        with self.lock:
            entry.info.description, entry.info.modified = description, time.time()
            self._save()

    def delete(self, entry: BusEntry) -> None:
        with self.lock:
            self.entries.pop(_key(entry.info.account, entry.info.region, entry.info.name), None)
            self._save()
        if entry.bus.journal is not None:
            entry.bus.journal.close()
        shutil.rmtree(self.folder(entry.info), ignore_errors=True)

    def folder(self, info: BusInfo) -> Path:
        """``<state>/buses/<account>/<region>/<name>``: the region checked, the name's folder
        as an archive's is (:func:`app.lake.paths.name_folder`: dots spelled, long names
        hashed, kept inside its parent)."""
        scope = self.state_dir / "buses" / info.account / checked_region(info.region)
        return name_folder(scope, info.name, "bus")

    def _open(self, info: BusInfo) -> BusEntry:
        folder = self.folder(info)
        endpoints = EndpointView(self.connections, (info.account, info.region), self.defined_endpoints)
        definition = BusDefinition(info.name, (), endpoints, ())
        bus = LocalBus(
            definition,
            folder / "lake",
            state_dir=folder,
            transport=self.home.transport,
            account=info.account,
            region=info.region,
            journal=Journal(folder / "journal.jsonl"),
        )
        store = RuleStore.in_state_dir(folder)
        apply_stored_rules(bus, store)
        entry = BusEntry(info, bus, self.open_api(bus, store))
        self.entries[_key(info.account, info.region, info.name)] = entry
        return entry

    def _save(self) -> None:
        home = _key(self.home.account, self.home.region, self.home.name)
        listed = [asdict(e.info) for k, e in sorted(self.entries.items()) if k != home]
        path = self.state_dir / FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(listed, indent=1))
        os.replace(tmp, path)


def _use_endpoints(bus: LocalBus, endpoints: EndpointView) -> None:
    """Let the bus's HTTP targets name API destinations too (its HTTP targets opened again)."""
    bus.definition = replace(bus.definition, endpoints=endpoints)
    for rule in bus.rules.values():
        for target in rule.targets:
            if target.kind == TargetKind.HTTP:
                bus.targets[(rule.name, target.id)] = bus._build_target(target)


# AWS regions: us-east-1, eu-central-2, us-gov-west-1, ap-southeast-4, cn-north-1, …
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


class InvalidRegionException(BusError):
    """A region no AWS region is spelled like (from a request's SigV4 scope or an ARN): it
    becomes a folder of the bus state, so ``..`` or 256 letters must not get that far."""

    code = "InvalidSignatureException"
    status = 400


def checked_region(region: str) -> str:
    if not REGION.fullmatch(region):
        shown = region if len(region) <= 40 else region[:40] + "…"
        raise InvalidRegionException(f"Credential should be scoped to a valid region, not {shown!r}.")
    return region


def _key(account: str, region: str, name: str) -> tuple[str, str, str]:
    return (account, region, name)
