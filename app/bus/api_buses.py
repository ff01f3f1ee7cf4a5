"""EventBridge's API over every bus of every account and region ``bus serve`` holds.

Each request comes with its (account, region) — the server reads them from the request's
SigV4 ``Authorization`` header — and names its bus by ``EventBusName`` (a name or an ARN;
none: the account's ``default`` bus). Rule, target and archive operations are then those of
that bus's :class:`~app.bus.api.BusApi`; this module adds the event bus operations
(CreateEventBus, DescribeEventBus, ListEventBuses, UpdateEventBus, DeleteEventBus), PutEvents
routed entry by entry to each entry's bus, and the archive and replay operations whose names
are unique in an account and region rather than in a bus.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.bus import api_managed
from app.bus.api import OPERATIONS, SerializationException, UnknownOperationException, _page, _required
from app.bus.api_archive import (
    ARCHIVE_NAME_MAX,
    ARCHIVE_STATES,
    REPLAY_NAME_MAX,
    REPLAY_STATES,
    ResourceAlreadyExistsException,
    _constraint,
    _name,
    _one_filter,
    _state_filter,
)
from app.bus.api_connections import CONNECTION_OPERATIONS
from app.bus.api_permissions import PERMISSION_OPERATIONS, PolicyStore
from app.bus.buses import BUS_ARN, BusEntry, BusRegistry, Scope
from app.bus.definition import ResourceNotFoundException
from app.bus.local import DEFAULT_BUS
from app.events import EntryError, ValidationException, check_entry_count, validate_entry

# CreateEventBus: a custom bus name (a partner bus's "aws.partner/…" is not supported here).
BUS_NAME = re.compile(r"^[\.\-_A-Za-z0-9]{1,256}\Z")
# Operations that name an archive or replay: found among the buses of the account and region.
ARCHIVE_OPERATIONS = ("DescribeArchive", "UpdateArchive", "DeleteArchive")
REPLAY_OPERATIONS = ("DescribeReplay", "CancelReplay")


RULE_ARN = re.compile(r"^arn:aws[\w-]*:events:([\w-]+):(\d{12}):rule/(?:([^/]+)/)?([^/]+)\Z")


class TagStore:
    """Tags of rules and event buses by ARN: ``<state>/tags.json``."""

    def __init__(self, path: Path):
        self.path = path
        self.tags: dict[str, dict[str, str]] = json.loads(path.read_text()) if path.exists() else {}

    def set(self, arn: str, tags: Any) -> None:
        if not isinstance(tags, list) or not all(
            isinstance(t, dict) and isinstance(t.get("Key"), str) for t in tags
        ):
            raise ValidationException("Tags must be a list of {Key, Value}.")
        keys = [t["Key"] for t in tags]
        if len(set(keys)) < len(keys):
            raise ValidationException("Invalid parameter: Duplicated keys are not allowed.")
        self.tags.setdefault(arn, {}).update({t["Key"]: str(t.get("Value", "")) for t in tags})
        self._save()

    def remove(self, arn: str, keys: Any) -> None:
        for key in keys or ():
            self.tags.get(arn, {}).pop(key, None)
        self._save()

    def drop(self, prefix: str) -> None:
        """Forget a deleted resource's tags (``prefix``: its ARN, or a bus's rule ARN prefix)."""
        for arn in [a for a in self.tags if a == prefix or a.startswith(prefix)]:
            del self.tags[arn]
        self._save()

    def listed(self, arn: str) -> list[dict]:
        return [{"Key": k, "Value": v} for k, v in sorted(self.tags.get(arn, {}).items())]

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({a: t for a, t in self.tags.items() if t}, indent=1))
        os.replace(tmp, self.path)


class EventsApi:
    def __init__(self, registry: BusRegistry):
        self.registry = registry
        self.tags = TagStore(registry.state_dir / "tags.json")
        self.policies = PolicyStore(registry.state_dir / "policies.json")

    def call(self, operation: str, request: dict, scope: Scope) -> dict:
        if not isinstance(request, dict):
            raise SerializationException("The request body must be a JSON object.")
        handler = SCOPE_OPERATIONS.get(operation)
        if handler is not None:
            return handler(self, request, scope)
        if operation in ARCHIVE_OPERATIONS:
            return self._archive_bus(request, scope).api.call(operation, request)
        if operation in REPLAY_OPERATIONS:
            return self._replay_bus(request, scope).api.call(operation, request)
        if operation not in OPERATIONS:
            raise UnknownOperationException(f"Operation {operation} is not supported by the local bus.")
        if operation == "TestEventPattern":  # no bus: the home bus's API answers it
            return self._home_api(operation, request)
        entry = self.registry.get(scope, request.get("EventBusName"))
        request = {**request, "EventBusName": None}
        managed = api_managed.call(entry.api, operation, request)  # an archive's managed rule
        answer = managed if managed is not None else entry.api.call(operation, request)
        if operation == "PutRule" and request.get("Tags"):
            self.tags.set(answer["RuleArn"], request["Tags"])
        elif operation == "DeleteRule" and request.get("Name") not in entry.bus.rules:
            self.tags.drop(entry.bus.rule_arn(str(request.get("Name"))))
        return answer

    # -- tags --------------------------------------------------------------------------
    def _taggable(self, request: dict, scope: Scope) -> str:
        """A rule's or an event bus's ARN, checked to exist."""
        arn = _required(request, "ResourceARN")
        rule = RULE_ARN.match(str(arn))
        if rule:
            region, account, bus, name = rule.groups()
            entry = self.registry.get((account, region), bus or DEFAULT_BUS)
            if name not in entry.bus.rules:
                raise ResourceNotFoundException(f"Rule {name} does not exist on EventBus {entry.info.name}.")
            return entry.bus.rule_arn(name)
        if BUS_ARN.match(str(arn)):
            return self.registry.get(scope, arn).bus.arn
        raise ValidationException(
            f"Parameter ResourceARN is not valid. Reason: {arn} is not the ARN of a rule or an event bus."
        )

    def tag_resource(self, request: dict, scope: Scope) -> dict:
        self.tags.set(self._taggable(request, scope), _required(request, "Tags"))
        return {}

    def untag_resource(self, request: dict, scope: Scope) -> dict:
        self.tags.remove(self._taggable(request, scope), _required(request, "TagKeys"))
        return {}

    def list_tags_for_resource(self, request: dict, scope: Scope) -> dict:
        return {"Tags": self.tags.listed(self._taggable(request, scope))}

    def _home_api(self, operation: str, request: dict) -> dict:
        home = self.registry.home
        entry = self.registry.get((home.account, home.region), home.name)
        return entry.api.call(operation, request)

    # -- event buses -------------------------------------------------------------------
    def _bus_out(self, entry: BusEntry) -> dict:
        out: dict[str, Any] = {"Name": entry.info.name, "Arn": entry.bus.arn}
        if entry.info.description:
            out["Description"] = entry.info.description
        out["CreationTime"] = entry.info.created
        out["LastModifiedTime"] = entry.info.modified
        return out

    def create_event_bus(self, request: dict, scope: Scope) -> dict:
        name = _required(request, "Name")
        if not isinstance(name, str) or not BUS_NAME.match(name):
            raise _constraint(
                name, "name", r"Member must satisfy regular expression pattern: [/\.\-_A-Za-z0-9]+"
            )
        if request.get("EventSourceName"):
            raise ValidationException("Partner event sources are not supported by the local bus.")
        if self.registry.exists(scope, name):
            raise ResourceAlreadyExistsException(f"Event bus {name} already exists.")
        description = request.get("Description") or ""
        entry = self.registry.create(scope, name, description)
        if request.get("Tags"):
            self.tags.set(entry.bus.arn, request["Tags"])
        return {"EventBusArn": entry.bus.arn, **({"Description": description} if description else {})}

    def describe_event_bus(self, request: dict, scope: Scope) -> dict:
        entry = self.registry.get(scope, request.get("Name"))
        policy = self.policies.text(entry.bus.arn)
        return self._bus_out(entry) | ({"Policy": policy} if policy else {})

    def list_event_buses(self, request: dict, scope: Scope) -> dict:
        prefix = request.get("NamePrefix") or ""
        buses = [self._bus_out(e) for e in self.registry.in_scope(scope) if e.info.name.startswith(prefix)]
        return _page(buses, request, "EventBuses")

    def update_event_bus(self, request: dict, scope: Scope) -> dict:
        entry = self.registry.get(scope, request.get("Name"))
        if "Description" in request:
            self.registry.update(entry, request.get("Description") or "")
        out = {"Arn": entry.bus.arn, "Name": entry.info.name}
        if entry.info.description:
            out["Description"] = entry.info.description
        return out

    def delete_event_bus(self, request: dict, scope: Scope) -> dict:
        name = _required(request, "Name")
        if name == DEFAULT_BUS:
            raise ValidationException("Cannot delete event bus default.")
        entry = self.registry.find(scope, name)
        if entry is None:  # EventBridge answers 200 for a bus that does not exist
            return {}
        if entry.bus is self.registry.home:
            raise ValidationException(
                f"Event bus {name} is the bus of the local bus's definition (infra/bus.yaml) "
                "and cannot be deleted through the API."
            )
        self.registry.delete(entry)
        self.tags.drop(entry.bus.arn)
        self.tags.drop(entry.bus.rule_arn(""))
        self.policies.set(entry.bus.arn, None)
        return {}

    # -- PutEvents ---------------------------------------------------------------------
    def put_events(self, request: dict, scope: Scope) -> dict:
        """Each entry goes to its own EventBusName's bus. An entry for a bus that does not
        exist is answered with an EventId and goes nowhere, as EventBridge does (localstack's
        AWS-validated test_put_events_nonexistent_event_bus)."""
        entries = _required(request, "Entries")
        check_entry_count(entries)
        results: list[dict | None] = [None] * len(entries)
        by_bus: dict[int, tuple[BusEntry, list[int]]] = {}
        for index, entry in enumerate(entries):
            bus_name = entry.get("EventBusName") if isinstance(entry, dict) else None
            target = self.registry.find(scope, bus_name)
            if target is None:
                detail = validate_entry(entry, self.registry.home.max_entry_bytes)
                results[index] = (
                    {"ErrorCode": detail.code, "ErrorMessage": detail.message}
                    if isinstance(detail, EntryError)
                    else {"EventId": str(uuid.uuid4())}
                )
                continue
            by_bus.setdefault(id(target), (target, []))[1].append(index)
        for target, indexes in by_bus.values():
            answer = target.api.call("PutEvents", {"Entries": [entries[i] for i in indexes]})
            for index, result in zip(indexes, answer["Entries"], strict=True):
                results[index] = result
        answered = [r or {} for r in results]
        return {"FailedEntryCount": sum("ErrorCode" in r for r in answered), "Entries": answered}

    # -- archives and replays: unique names in an account and region ------------------
    def _archive_bus(self, request: dict, scope: Scope) -> BusEntry:
        name = _name(request, "ArchiveName", ARCHIVE_NAME_MAX)
        for entry in self.registry.in_scope(scope):
            if name in entry.bus.archives.archives:
                return entry
        raise ResourceNotFoundException(f"Archive {name} does not exist.")

    def _replay_bus(self, request: dict, scope: Scope) -> BusEntry:
        name = _name(request, "ReplayName", REPLAY_NAME_MAX)
        for entry in self.registry.in_scope(scope):
            if name in entry.bus.replays.replays:
                return entry
        raise ResourceNotFoundException(f"Replay {name} does not exist.")

    def create_archive(self, request: dict, scope: Scope) -> dict:
        name = _name(request, "ArchiveName", ARCHIVE_NAME_MAX)
        if any(name in e.bus.archives.archives for e in self.registry.in_scope(scope)):
            raise ResourceAlreadyExistsException(f"Archive {name} already exists.")
        entry = self.registry.get(scope, _required(request, "EventSourceArn"))
        return entry.api.call("CreateArchive", {**request, "EventSourceArn": entry.bus.arn})

    def list_archives(self, request: dict, scope: Scope) -> dict:
        _one_filter(request, "ListArchives")
        state = _state_filter(request, ARCHIVE_STATES)
        source, prefix = request.get("EventSourceArn"), request.get("NamePrefix") or ""
        buses = [self.registry.get(scope, source)] if source is not None else self.registry.in_scope(scope)
        summaries = [
            e.api._archive_summary(a)
            for e in buses
            for name, a in e.bus.archives.archives.items()
            if name.startswith(prefix) and (state is None or a.state == state)
        ]
        return _page(sorted(summaries, key=lambda s: s["ArchiveName"]), request, "Archives")

    def start_replay(self, request: dict, scope: Scope) -> dict:
        name = _name(request, "ReplayName", REPLAY_NAME_MAX)
        buses = self.registry.in_scope(scope)
        if any(name in e.bus.replays.replays for e in buses):
            raise ResourceAlreadyExistsException(f"Replay {name} already exists.")
        source = request.get("EventSourceArn")
        archive = str(source).rsplit("/", 1)[-1]
        owner = next(
            (
                e
                for e in buses
                if archive in e.bus.archives.archives and e.api._arn("archive", archive) == source
            ),
            None,
        )
        if owner is None:  # the owning bus's API checks the window first, then the archive
            owner = self.registry.get(scope, DEFAULT_BUS)
        return owner.api.call("StartReplay", request)

    def list_replays(self, request: dict, scope: Scope) -> dict:
        _one_filter(request, "ListReplays")
        state = _state_filter(request, REPLAY_STATES)
        source, prefix = request.get("EventSourceArn"), request.get("NamePrefix") or ""
        summaries = [
            e.api._replay_summary(r)
            for e in self.registry.in_scope(scope)
            for n, r in e.bus.replays.replays.items()
            if n.startswith(prefix)
            and (state is None or r.state == state)
            and (source is None or source == e.api._arn("archive", r.archive))
        ]
        return _page(sorted(summaries, key=lambda s: s["ReplayName"]), request, "Replays")


SCOPE_OPERATIONS: dict[str, Callable[[EventsApi, dict, Scope], dict]] = {
    "CreateEventBus": EventsApi.create_event_bus,
    "DescribeEventBus": EventsApi.describe_event_bus,
    "ListEventBuses": EventsApi.list_event_buses,
    "UpdateEventBus": EventsApi.update_event_bus,
    "DeleteEventBus": EventsApi.delete_event_bus,
    "PutEvents": EventsApi.put_events,
    "CreateArchive": EventsApi.create_archive,
    "ListArchives": EventsApi.list_archives,
    "StartReplay": EventsApi.start_replay,
    "ListReplays": EventsApi.list_replays,
    "TagResource": EventsApi.tag_resource,
    "UntagResource": EventsApi.untag_resource,
    "ListTagsForResource": EventsApi.list_tags_for_resource,
    **PERMISSION_OPERATIONS,
    **CONNECTION_OPERATIONS,
}
