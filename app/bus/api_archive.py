"""EventBridge's archive and replay operations over the local bus.

CreateArchive, DescribeArchive, ListArchives, UpdateArchive, DeleteArchive, StartReplay,
DescribeReplay, ListReplays and CancelReplay take and return the shapes of the API
reference (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Operations.html).
Timestamps travel as epoch seconds, as the awsJson1_1 protocol sends them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from app.bus.archive import Archive, Replay
from app.bus.definition import ResourceNotFoundException
from app.bus.patterns import compile_pattern
from app.events import BusError, ValidationException, parse_time

if TYPE_CHECKING:
    from app.bus.local import LocalBus

NAME = re.compile(r"^[\.\-_A-Za-z0-9]+\Z")
ARCHIVE_NAME_MAX, REPLAY_NAME_MAX = 48, 64
ARCHIVE_STATES = ("ENABLED", "DISABLED", "CREATING", "UPDATING", "CREATE_FAILED", "UPDATE_FAILED")
REPLAY_STATES = ("STARTING", "RUNNING", "CANCELLING", "COMPLETED", "CANCELLED", "FAILED")

RunReplay = Callable[[str], object]  # runs a started replay; what it returns is not used
Page = Callable[[list[dict], dict, str], dict]


class ResourceAlreadyExistsException(BusError):
    code = "ResourceAlreadyExistsException"
    status = 400


class IllegalStatusException(BusError):
    code = "IllegalStatusException"
    status = 400


def _constraint(value: Any, field: str, rule: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {rule}"
    )


def _name(request: dict, key: str, longest: int) -> str:
    """An archive (1-48) or replay (1-64) name: letters, digits, '.', '-', '_'."""
    field = key[0].lower() + key[1:]
    value = request.get(key)
    if value is None:
        raise _constraint(None, field, "Member must not be null")
    if not isinstance(value, str) or not NAME.match(value):
        raise _constraint(value, field, r"Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+")
    if len(value) > longest:
        raise _constraint(value, field, f"Member must have length less than or equal to {longest}")
    return value


def _epoch(request: dict, key: str) -> float:
    value = request.get(key)
    if value is None:
        raise _constraint(None, key[0].lower() + key[1:], "Member must not be null")
    try:
        return parse_time(value).timestamp()
    except (ValueError, OverflowError, OSError):
        raise ValidationException(
            f"Parameter {key} is not valid. Reason: {value!r} is not a timestamp."
        ) from None


def _retention(value: Any) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _constraint(value, "retentionDays", "Member must have value greater than or equal to 0")
    return value


def _pattern(text: Any) -> tuple[dict | None, str | None]:
    """An archive's EventPattern: (its data, its text as given)."""
    if text is None or text == "":
        return None, None
    compile_pattern(text)  # raises InvalidEventPatternException
    if isinstance(text, str):
        return json.loads(text), text
    return text, json.dumps(text)


def _one_filter(request: dict, operation: str) -> None:
    given = [k for k in ("NamePrefix", "EventSourceArn", "State") if request.get(k) is not None]
    if len(given) > 1:
        raise ValidationException(
            f"At most one filter is allowed for {operation}. "
            "Use either : State, EventSourceArn, or NamePrefix."
        )


def _state_filter(request: dict, states: tuple[str, ...]) -> str | None:
    state = request.get("State")
    if state is not None and state not in states:
        raise _constraint(state, "state", f"Member must satisfy enum value set: [{', '.join(states)}]")
    return state


def _without_none(out: dict) -> dict:
    return {k: v for k, v in out.items() if v is not None and v != ""}


class ArchiveOperations:
    """Mixed into :class:`app.bus.api.BusApi`, which provides ``bus``, ``run_replay`` and ``page``."""

    bus: LocalBus
    run_replay: RunReplay
    page: Page
    bus_exists: Callable[[str], bool]

    # -- ARNs --------------------------------------------------------------------------
    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:events:{self.bus.region}:{self.bus.account}:{kind}/{name}"

    def _check_bus_arn(self, arn: Any) -> None:
        """CreateArchive's EventSourceArn: this bus (by ARN, or by name)."""
        if arn in (self.bus.arn, self.bus.name):
            return
        raise ResourceNotFoundException(f"Event bus {str(arn).rsplit('/', 1)[-1]} does not exist.")

    def _archive(self, name: str) -> Archive:
        archive = self.bus.archives.archives.get(name)
        if archive is None:
            raise ResourceNotFoundException(f"Archive {name} does not exist.")
        return archive

    def _replay(self, name: str) -> Replay:
        replay = self.bus.replays.replays.get(name)
        if replay is None:
            raise ResourceNotFoundException(f"Replay {name} does not exist.")
        return replay

    def _rule_of_arn(self, arn: Any) -> str:
        prefix = self.bus.rule_arn("")
        if not isinstance(arn, str) or not arn.startswith(prefix):
            raise ValidationException(
                f"Parameter Destination.FilterArns is not valid. "
                f"Reason: {arn} is not a rule ARN of event bus {self.bus.name}."
            )
        return arn[len(prefix) :]

    # -- archives ----------------------------------------------------------------------
    def create_archive(self, request: dict) -> dict:
        name = _name(request, "ArchiveName", ARCHIVE_NAME_MAX)
        self._check_bus_arn(request.get("EventSourceArn"))
        pattern, pattern_text = _pattern(request.get("EventPattern"))
        archive = Archive(
            name,
            pattern,
            _retention(request.get("RetentionDays")),
            request.get("Description") or "",
            time.time(),
            pattern_text=pattern_text,
        )
        if name in self.bus.archives.archives:
            raise ResourceAlreadyExistsException(f"Archive {name} already exists.")
        self.bus.archives.put(archive)
        return {
            "ArchiveArn": self._arn("archive", name),
            "State": archive.state,
            "CreationTime": archive.created,
        }

    def update_archive(self, request: dict) -> dict:
        archive = self._archive(_name(request, "ArchiveName", ARCHIVE_NAME_MAX))
        changes: dict[str, Any] = {}
        if "EventPattern" in request:
            changes["pattern"], changes["pattern_text"] = _pattern(request["EventPattern"])
        if request.get("RetentionDays") is not None:
            changes["retention_days"] = _retention(request["RetentionDays"])
        if request.get("Description") is not None:
            changes["description"] = request["Description"]
        archive = replace(archive, **changes)
        self.bus.archives.put(archive)
        return {
            "ArchiveArn": self._arn("archive", archive.name),
            "State": archive.state,
            "CreationTime": archive.created,
        }

    def delete_archive(self, request: dict) -> dict:
        archive = self._archive(_name(request, "ArchiveName", ARCHIVE_NAME_MAX))
        self.bus.archives.delete(archive.name)
        return {}

    def _archive_summary(self, archive: Archive) -> dict:
        count, size = self.bus.archives.stats(archive.name)
        return _without_none(
            {
                "ArchiveName": archive.name,
                "EventSourceArn": self.bus.arn,
                "State": archive.state,
                "RetentionDays": archive.retention_days,
                "SizeBytes": size,
                "EventCount": count,
                "CreationTime": archive.created,
            }
        )

    def describe_archive(self, request: dict) -> dict:
        archive = self._archive(_name(request, "ArchiveName", ARCHIVE_NAME_MAX))
        out = {
            "ArchiveArn": self._arn("archive", archive.name),
            **self._archive_summary(archive),
            "Description": archive.description,
            "EventPattern": archive.pattern_text
            or (json.dumps(archive.pattern, separators=(",", ":")) if archive.pattern else None),
        }
        return _without_none(out)

    def list_archives(self, request: dict) -> dict:
        _one_filter(request, "ListArchives")
        state = _state_filter(request, ARCHIVE_STATES)
        source = request.get("EventSourceArn")
        prefix = request.get("NamePrefix") or ""
        archives = [
            a
            for name, a in sorted(self.bus.archives.archives.items())
            if name.startswith(prefix)
            and (state is None or a.state == state)
            and (source is None or source == self.bus.arn)
        ]
        return self.page([self._archive_summary(a) for a in archives], request, "Archives")

    # -- replays -----------------------------------------------------------------------
    def start_replay(self, request: dict) -> dict:
        """Checked in EventBridge's order (localstack's AWS-validated tests): the name, a
        replay of that name, the time window, the archive, the destination bus, its rules."""
        name = _name(request, "ReplayName", REPLAY_NAME_MAX)
        if name in self.bus.replays.replays:
            raise ResourceAlreadyExistsException(f"Replay {name} already exists.")
        start, end = _epoch(request, "EventStartTime"), _epoch(request, "EventEndTime")
        if start >= end:
            raise ValidationException(
                "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime."
            )
        source = request.get("EventSourceArn")
        archive_name = str(source).rsplit("/", 1)[-1]
        archive = self.bus.archives.archives.get(archive_name)
        if source != self._arn("archive", archive_name) or archive is None:
            raise ValidationException(
                f"Parameter EventSourceArn is not valid. Reason: Archive {archive_name} does not exist."
            )
        destination = request.get("Destination")
        if not isinstance(destination, dict):
            raise _constraint(None, "destination", "Member must not be null")
        self._check_destination(destination.get("Arn"))
        filter_arns = destination.get("FilterArns")
        rules = tuple(self._rule_of_arn(a) for a in filter_arns) if filter_arns else None
        replay = self.bus.start_replay(
            Replay(name, archive.name, start, end, rules, request.get("Description") or "")
        )
        self.run_replay(name)
        return {
            "ReplayArn": self._arn("replay", name),
            "State": "STARTING",
            "ReplayStartTime": replay.started,
        }

    def _check_destination(self, arn: Any) -> None:
        """A replay goes back to its archive's bus: another bus of the account is refused as
        cross-bus, a bus that does not exist is not found."""
        if arn == self.bus.arn:
            return
        if isinstance(arn, str) and self.bus_exists(arn):
            raise ValidationException(
                "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted."
            )
        raise ResourceNotFoundException(f"Event bus {str(arn).rsplit('/', 1)[-1]} does not exist.")

    def _replay_summary(self, replay: Replay) -> dict:
        return _without_none(
            {
                "ReplayName": replay.name,
                "EventSourceArn": self._arn("archive", replay.archive),
                "State": replay.state,
                "StateReason": replay.reason,
                "EventStartTime": replay.start,
                "EventEndTime": replay.end,
                "EventLastReplayedTime": replay.last_replayed,
                "ReplayStartTime": replay.started,
                "ReplayEndTime": replay.ended,
            }
        )

    def describe_replay(self, request: dict) -> dict:
        replay = self._replay(_name(request, "ReplayName", REPLAY_NAME_MAX))
        destination: dict[str, Any] = {"Arn": self.bus.arn}
        if replay.rules is not None:
            destination["FilterArns"] = [self.bus.rule_arn(r) for r in replay.rules]
        return _without_none(
            {
                "ReplayArn": self._arn("replay", replay.name),
                **self._replay_summary(replay),
                "Description": replay.description,
                "Destination": destination,
            }
        )

    def list_replays(self, request: dict) -> dict:
        _one_filter(request, "ListReplays")
        state = _state_filter(request, REPLAY_STATES)
        source, prefix = request.get("EventSourceArn"), request.get("NamePrefix") or ""
        replays = [
            r
            for n, r in sorted(self.bus.replays.replays.items())
            if n.startswith(prefix)
            and (state is None or r.state == state)
            and (source is None or source == self._arn("archive", r.archive))
        ]
        return self.page([self._replay_summary(r) for r in replays], request, "Replays")

    def cancel_replay(self, request: dict) -> dict:
        replay = self._replay(_name(request, "ReplayName", REPLAY_NAME_MAX))
        if replay.state not in ("STARTING", "RUNNING"):
            raise IllegalStatusException(f"Replay {replay.name} is not in a valid state for this operation.")
        self.bus.cancel_replay(replay.name)
        return {"ReplayArn": self._arn("replay", replay.name), "State": "CANCELLING"}
