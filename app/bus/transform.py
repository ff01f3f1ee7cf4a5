"""What a target receives: the event, a constant ``Input``, an ``InputPath`` or an
``InputTransformer``, applied as EventBridge applies them
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).

Compiled (and validated, with PutTargets' errors) once per target; applied per delivery:

    transform = compile_input("t1", input_transformer={"InputPathsMap": {"s": "$.detail.state"},
                                                       "InputTemplate": '{"state": <s>}'})
    transform.apply(event, rule_name="r", rule_arn="arn:…", ingested=1732096800.0)  # -> '{"state":"on"}'

The quirks, as EventBridge has them (where its documentation and its behaviour differ,
the behaviour recorded against AWS in localstack's validated snapshots decides):

* Paths are JSONPath in dot notation only: ``$``, ``.name`` (letters, digits, ``_``,
  ``-``, ``/``), ``[n]`` and ``*`` / ``[*]``. A wildcard makes the result a list.
* A placeholder inside a JSON string (``"state: <s>"``) inserts the value as text, not
  escaped; an object or array loses its inner quotes (``{a:1}``). Outside quotes
  (``{"s": <s>}``) it inserts the value as JSON. A path the event lacks gives ``""`` in
  either place.
* ``<aws.events.rule-arn>``, ``<aws.events.rule-name>``,
  ``<aws.events.event.ingestion-time>`` (ISO 8601, UTC), ``<aws.events.event>`` (the
  event without ``detail``, ``detail-type`` spelt ``detailType``, ``time`` the ingestion
  time) and ``<aws.events.event.json>`` (the whole event) are predefined; the last two
  are meant for JSON values and are inserted unescaped.
* The template's JSON is not checked: the target receives the text as it comes out.
* Local choice (the documentation is silent): an ``InputPath`` the event lacks delivers
  ``null``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.events import ValidationException, format_time

MAX_PATHS = 100
MAX_PATH_LENGTH = 256
MAX_TEMPLATE_LENGTH = 8192
MAX_INPUT_LENGTH = 8192
PREDEFINED = (
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event.ingestion-time",
    "aws.events.event",
    "aws.events.event.json",
)
PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
KEY = re.compile(r"^[A-Za-z0-9_\-]+\Z")
PATH_STEP = re.compile(r"\.([A-Za-z0-9_\-/]+)|\.\*|\[\*\]|\[(\d+)\]")
MISSING = object()

Step = tuple[str, Any]  # ("key", name) | ("index", n) | ("all", None)


# -- JSON paths ------------------------------------------------------------------------------


def compile_path(path: Any, target_id: str, what: str = "InputPath") -> tuple[Step, ...]:
    """``$.detail.items[0].sku`` as steps; refuses bracket notation and filters."""
    if not isinstance(path, str) or not path.startswith("$") or len(path) > MAX_PATH_LENGTH:
        raise _bad_path(path, target_id, what)
    steps: list[Step] = []
    at = 1
    while at < len(path):
        found = PATH_STEP.match(path, at)
        if found is None:
            raise _bad_path(path, target_id, what)
        if found.group(1) is not None:
            steps.append(("key", found.group(1)))
        elif found.group(2) is not None:
            steps.append(("index", int(found.group(2))))
        else:
            steps.append(("all", None))
        at = found.end()
    return tuple(steps)


def _bad_path(path: Any, target_id: str, what: str) -> ValidationException:
    return ValidationException(
        f"{what} {path!r} for target {target_id} is not a valid JSON path: EventBridge takes dot "
        f"notation ($.detail.field), array indices ([0]) and wildcards (*), "
        f"at most {MAX_PATH_LENGTH} characters."
    )


def read_path(value: Any, steps: tuple[Step, ...]) -> Any:
    """The value at the path, a list when the path has a wildcard, or MISSING."""
    found = [value]
    spread = False
    for kind, arg in steps:
        found = [child for item in found for child in _children(item, kind, arg)]
        spread = spread or kind == "all"
    if spread:
        return found
    return found[0] if found else MISSING


def _children(item: Any, kind: str, arg: Any) -> list:
    if kind == "key":
        return [item[arg]] if isinstance(item, dict) and arg in item else []
    if kind == "index":
        return [item[arg]] if isinstance(item, list) and arg < len(item) else []
    if isinstance(item, dict):
        return list(item.values())
    return list(item) if isinstance(item, list) else []


# -- templates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    name: str
    quoted: bool  # inside a JSON string literal of the template


def compile_template(template: Any, known: set[str], target_id: str) -> tuple[str | _Slot, ...]:
    """The template as literal text and placeholders, each knowing whether it sits in quotes."""
    if not isinstance(template, str) or not template:
        raise ValidationException(f"InputTemplate for target {target_id} must be a non-empty string.")
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise ValidationException(
            f"InputTemplate for target {target_id} is longer than {MAX_TEMPLATE_LENGTH} characters."
        )
    parts: list[str | _Slot] = []
    quoted_at = _quoted_positions(template)
    last = 0
    for found in PLACEHOLDER.finditer(template):
        name = found.group(1)
        if name not in known and name not in PREDEFINED:
            raise ValidationException(
                f"InputTemplate for target {target_id} contains invalid placeholder {name}."
            )
        parts.append(template[last : found.start()])
        parts.append(_Slot(name, quoted_at[found.start()]))
        last = found.end()
    parts.append(template[last:])
    return tuple(p for p in parts if p != "")


def _quoted_positions(text: str) -> list[bool]:
    """For each character: is it inside a JSON string literal (after an unescaped quote)?"""
    inside, escaped, out = False, False, []
    for char in text:
        out.append(inside)
        if escaped:
            escaped = False
        elif char == "\\" and inside:
            escaped = True
        elif char == '"':
            inside = not inside
    return out


def _as_text(value: Any) -> str:
    """A value placed inside quotes: text as it is (EventBridge does not escape it)."""
    if value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    text = json.dumps(value, separators=(",", ":"))
    return text.replace('"', "") if isinstance(value, (dict, list)) else text


def _as_json(value: Any) -> str:
    return '""' if value is MISSING else json.dumps(value, separators=(",", ":"))


def ingestion_time_text(epoch_s: float) -> str:
    return format_time(datetime.fromtimestamp(epoch_s, UTC))


def event_without_detail(event: dict, ingested: float) -> dict:
    """``<aws.events.event>``: what EventBridge gives for it."""
    out = {("detailType" if k == "detail-type" else k): v for k, v in event.items() if k != "detail"}
    millis = round(ingested * 1000) % 1000
    out["time"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ingested)) + f".{millis:03d}Z"
    return out


# -- the compiled input ----------------------------------------------------------------------

Render = Callable[[dict, str, str, float], str]


@dataclass(frozen=True)
class InputTransform:
    """What one target receives instead of the event (text, sent as is)."""

    render: Render

    def apply(self, event: dict, *, rule_name: str, rule_arn: str, ingested: float) -> str:
        return self.render(event, rule_name, rule_arn, ingested)


def compile_input(
    target_id: str, *, input: Any = None, input_path: Any = None, input_transformer: Any = None
) -> InputTransform | None:
    """Validate a target's input settings as PutTargets does; None: the target gets the event."""
    given = [x for x in (input, input_path, input_transformer) if x is not None]
    if len(given) > 1:
        raise ValidationException(
            f"Only one of Input, InputPath, or InputTransformer must be provided for target {target_id}."
        )
    if input is not None:
        return _constant(target_id, input)
    if input_path is not None:
        steps = compile_path(input_path, target_id)
        return InputTransform(lambda event, *_: _path_json(read_path(event, steps)))
    if input_transformer is not None:
        return _transformer(target_id, input_transformer)
    return None


def _constant(target_id: str, text: Any) -> InputTransform:
    if not isinstance(text, str) or len(text) > MAX_INPUT_LENGTH:
        raise ValidationException(f"Input for target {target_id} is not a valid JSON text.")
    try:
        json.loads(text)
    except ValueError:
        raise ValidationException(f"Input for target {target_id} is not a valid JSON text.") from None
    return InputTransform(lambda *_: text)


def _path_json(value: Any) -> str:
    return "null" if value is MISSING else json.dumps(value, separators=(",", ":"))


def _transformer(target_id: str, raw: Any) -> InputTransform:
    if not isinstance(raw, dict):
        raise ValidationException(f"InputTransformer for target {target_id} must be an object.")
    paths = raw.get("InputPathsMap") or {}
    if not isinstance(paths, dict):
        raise ValidationException(f"InputPathsMap for target {target_id} must be an object.")
    if len(paths) > MAX_PATHS:
        raise ValidationException(
            f"InputPathsMap for target {target_id} has {len(paths)} entries; at most {MAX_PATHS} are allowed."
        )
    compiled = {
        key: compile_path(path, target_id, f"InputPathsMap value for {key}")
        for key, path in paths.items()
        if _check_key(key, target_id)
    }
    parts = compile_template(raw.get("InputTemplate"), set(compiled), target_id)
    return InputTransform(
        lambda event, rule, arn, ingested: _fill(parts, compiled, event, rule, arn, ingested)
    )


def _check_key(key: Any, target_id: str) -> bool:
    if isinstance(key, str) and key.lower().startswith("aws."):
        raise ValidationException(
            f"InputPathsMap key {key} for target {target_id} is reserved: "
            "names starting with 'aws.' are EventBridge's."
        )
    if not isinstance(key, str) or not KEY.match(key):
        raise ValidationException(
            f"InputPathsMap key {key!r} for target {target_id} must be letters, digits, '_' or '-'."
        )
    return True


def _fill(parts, compiled, event: dict, rule: str, arn: str, ingested: float) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = _value_of(part.name, compiled, event, rule, arn, ingested)
        if part.name in ("aws.events.event", "aws.events.event.json"):
            out.append(json.dumps(value, separators=(",", ":")))  # unescaped, even inside quotes
        else:
            out.append(_as_text(value) if part.quoted else _as_json(value))
    return "".join(out)


def _value_of(name: str, compiled, event: dict, rule: str, arn: str, ingested: float) -> Any:
    if name in compiled:
        return read_path(event, compiled[name])
    return {
        "aws.events.rule-arn": lambda: arn,
        "aws.events.rule-name": lambda: rule,
        "aws.events.event.ingestion-time": lambda: ingestion_time_text(ingested),
        "aws.events.event": lambda: event_without_detail(event, ingested),
        "aws.events.event.json": lambda: event,
    }[name]()
