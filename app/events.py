"""The EventBridge event envelope, and PutEvents' validation of request entries.

PutEvents accepts at most 10 entries. Each entry is checked on its own: a bad one gets an
``ErrorCode`` and ``ErrorMessage`` in the response, and the good ones in the same call are
still accepted — as EventBridge does
(https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_ENTRIES = 10
DEFAULT_MAX_ENTRY_BYTES = 256 * 1024
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class BusError(Exception):
    """An error the bus answers with: an EventBridge exception name and a message."""

    code = "InternalException"
    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationException(BusError):
    code = "ValidationException"
    status = 400


@dataclass(frozen=True)
class EntryError:
    code: str
    message: str


def format_time(moment: datetime) -> str:
    """EventBridge's envelope time: UTC, whole seconds, trailing Z; the year always four
    digits (``strftime``'s ``%Y`` gives ``999``, which would make a malformed ``dt``)."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"


def parse_time(value: Any) -> datetime:
    """An entry's ``Time``: a datetime, epoch seconds, or ISO 8601 text."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise ValueError(f"unsupported time {value!r}")


def entry_size(entry: Mapping[str, Any]) -> int:
    """The size EventBridge counts against the entry limit.

    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html:
    14 bytes for Time if present, plus the UTF-8 bytes of Source, DetailType, Detail and
    each Resource.
    """
    size = 14 if entry.get("Time") is not None else 0
    # Counted for entries refused too (PutEvents' metrics): a lone surrogate counts its 3 bytes.
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if isinstance(value, str):
            size += len(value.encode("utf-8", "surrogatepass"))
    resources = entry.get("Resources")
    for resource in resources if isinstance(resources, list) else ():
        if isinstance(resource, str):
            size += len(resource.encode("utf-8", "surrogatepass"))
    return size


def check_entry_count(entries: Any) -> None:
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise ValidationException("Entries must be a list of entries.")
    if not entries:
        raise ValidationException(
            "1 validation error detected: Value '[]' at 'entries' failed to satisfy "
            "constraint: Member must have length greater than or equal to 1"
        )
    if len(entries) > MAX_ENTRIES:
        listed = ", ".join(_java_entry(e) for e in entries)
        raise ValidationException(
            f"1 validation error detected: Value '[{listed}]' at 'entries' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_ENTRIES}"
        )


def _java_entry(entry: Any) -> str:
    """An entry as EventBridge's validation message shows it: the Java request object's
    toString (the shape localstack's AWS-validated PutEvents test records)."""
    if not isinstance(entry, Mapping):
        return "null"

    def field(key: str) -> str:
        value = entry.get(key)
        if value is None:
            return "null"
        if isinstance(value, list):
            return "[" + ", ".join(str(v) for v in value) + "]"
        if key == "Time":
            try:
                return f"{parse_time(value):%a %b %d %H:%M:%S} UTC {parse_time(value):%Y}"
            except (ValueError, OverflowError, OSError):
                return str(value)
        return str(value)

    names = (
        ("time", "Time"),
        ("source", "Source"),
        ("resources", "Resources"),
        ("detailType", "DetailType"),
        ("detail", "Detail"),
        ("eventBusName", "EventBusName"),
        ("traceHeader", "TraceHeader"),
        ("kmsKeyIdentifier", "KmsKeyIdentifier"),
        ("internalMetadata", "InternalMetadata"),
    )
    return "PutEventsRequestEntry(" + ", ".join(f"{java}={field(key)}" for java, key in names) + ")"


def _missing(name: str) -> EntryError:
    return EntryError(
        "InvalidArgument", f"Parameter {name} is not valid. Reason: {name} is a required argument."
    )


class NotJSON(ValueError):
    pass


def _not_json(constant: str):
    """Python's json reads NaN and Infinity; JSON (RFC 8259) has no such values and
    EventBridge rejects them."""
    raise NotJSON(f"{constant} is not a JSON value")


def validate_entry(entry: Any, max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES) -> EntryError | dict:
    """Check one PutEvents entry; return the parsed ``detail`` dict or the entry's error."""
    if not isinstance(entry, Mapping):
        return EntryError("InvalidArgument", "Entry is not an object.")
    for name in ("Source", "DetailType", "Detail"):
        value = entry.get(name)
        if value is None or value == "":
            return _missing(name)
        if not isinstance(value, str):
            return EntryError(
                "InvalidArgument", f"Parameter {name} is not valid. Reason: {name} must be a string."
            )
        if not is_text(value):  # a lone surrogate (JSON's "\ud800") is not text
            return EntryError(
                "InvalidArgument", f"Parameter {name} is not valid. Reason: {name} is not valid Unicode."
            )
    if entry["Source"].lower().startswith("aws."):
        return EntryError("NotAuthorizedForSourceException", "Not authorized for the source.")
    size = entry_size(entry)
    if size > max_entry_bytes:
        return EntryError(
            "InvalidArgument", f"Entry size {size} bytes exceeds the limit of {max_entry_bytes} bytes."
        )
    resources = entry.get("Resources")
    if resources is not None and (
        not isinstance(resources, list) or not all(isinstance(r, str) and is_text(r) for r in resources)
    ):
        return EntryError(
            "InvalidArgument", "Parameter Resources is not valid. Reason: must be a list of strings."
        )
    if entry.get("Time") is not None:
        try:
            # In UTC too: 0001-01-01T00:00+01:00 is a valid datetime whose UTC day is not,
            # and the lake partitions by the UTC day (years 0001-9999).
            format_time(parse_time(entry["Time"]))
        except (ValueError, OverflowError, OSError):
            return EntryError("InvalidArgument", f"Parameter Time is not valid: {entry['Time']!r}.")
    try:
        detail = json.loads(entry["Detail"], parse_constant=_not_json)
    except (ValueError, RecursionError) as error:
        reason = f": {error.args[0]}" if isinstance(error, NotJSON) else "."
        return EntryError("MalformedDetail", f"Detail is malformed{reason}")
    if not isinstance(detail, dict):
        return EntryError("MalformedDetail", "Detail is malformed: it must be a JSON object.")
    # JSON may spell half a character ("\ud800"): valid JSON, yet no text the lake (UTF-8)
    # can hold. Refused here, it is one entry's error; kept, it failed every write of its batch.
    if "\\u" in entry["Detail"] and not is_text(json.dumps(detail, ensure_ascii=False)):
        return EntryError(
            "MalformedDetail", "Detail is malformed: it holds half a UTF-16 pair (a lone surrogate)."
        )
    return detail


def is_text(value: str, codec: str = "utf-8") -> bool:
    """Whether ``value`` is text ``codec`` can write: UTF-8 takes all Unicode but half a
    UTF-16 pair (JSON's "\ud800"); Latin-1, what an HTTP header value may hold."""
    try:
        value.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def make_envelope(
    entry: Mapping[str, Any], detail: dict, *, account: str, region: str, now: datetime
) -> dict:
    """The event as EventBridge delivers it to targets."""
    time = parse_time(entry["Time"]) if entry.get("Time") is not None else now
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": account,
        "time": format_time(time),
        "region": region,
        "resources": list(entry.get("Resources") or []),
        "detail": detail,
    }
