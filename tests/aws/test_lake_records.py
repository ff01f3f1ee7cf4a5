"""Every lake rule of the rendered template, fed the demo's events of every detail type:
each record its stream receives converts under the Glue table's types, holds the event's
own values, and is NULL where the event has nothing.

EventBridge is played by the local bus's transformer (:mod:`app.bus.transform`, which
writes ``""`` for a missing path as recorded on AWS). The Parquet conversion is played by
:func:`convert`: the OpenX JSON SerDe as Firehose documents it (keys lower-cased,
``ColumnToJsonKeyMappings``, a missing key is NULL; time stamps as
``yyyy-MM-dd'T'HH:mm:ss[.S]'Z'``), strict about types: ``""`` is not a boolean, a double,
a bigint or a date (https://docs.aws.amazon.com/firehose/latest/dev/record-format-conversion.html).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import pytest

from app.bus.definition import load_definition
from app.bus.patterns import compile_pattern
from app.bus.transform import compile_input
from app.demo.enterprise import DemoConfig, Enterprise
from app.departments import DETAIL_TYPES
from app.infra.records import DETAIL_FIELDS, entity_transformer
from app.infra.render import render_template
from app.lake.tables import ENTITY_TABLES, TABLE_FOR_DETAIL_TYPE

TEMPLATE = render_template(load_definition())
RESOURCES = TEMPLATE["Resources"]
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Rejected(ValueError):
    """Firehose would write the record under the error prefix."""


def _number(value: Any, column: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Rejected(f"{column}: {value!r} is not a number")
    return value


def convert_value(value: Any, glue_type: str, column: str) -> Any:
    if value is None:
        return None
    if glue_type == "string":
        return json.dumps(value, separators=(",", ":")) if isinstance(value, (dict, list)) else str(value)
    if glue_type == "bigint":
        if not isinstance(_number(value, column), int):
            raise Rejected(f"{column}: {value!r} is not an integer")
        return value
    if glue_type == "double":
        return float(_number(value, column))
    if glue_type == "boolean":
        if not isinstance(value, bool):
            raise Rejected(f"{column}: {value!r} is not a boolean")
        return value
    if glue_type == "date":
        if not isinstance(value, str) or not DATE.match(value):
            raise Rejected(f"{column}: {value!r} is not a date")
        return date.fromisoformat(value)
    if glue_type == "timestamp":
        if not isinstance(value, str) or not TIMESTAMP.match(value):
            raise Rejected(f"{column}: {value!r} is not a time stamp the OpenX SerDe reads")
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if glue_type == "array<string>":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Rejected(f"{column}: {value!r} is not an array of strings")
        return value
    raise AssertionError(f"no conversion for {glue_type}")


def convert(record: str, columns: list[dict], serde: dict) -> dict[str, Any]:
    """One JSON record as its Parquet row under the Glue columns (``Rejected`` otherwise)."""
    try:
        parsed = json.loads(record)
    except ValueError as error:
        raise Rejected(f"not JSON: {record[:80]}") from error
    if not isinstance(parsed, dict):
        raise Rejected("not a JSON object")
    if serde.get("CaseInsensitive", True):
        parsed = {k.lower(): v for k, v in parsed.items()}
    keys = serde.get("ColumnToJsonKeyMappings", {})
    return {
        c["Name"]: convert_value(parsed.get(keys.get(c["Name"], c["Name"])), c["Type"], c["Name"])
        for c in columns
    }


@cache
def demo_events() -> tuple[dict, ...]:
    """A month of the demo (every detail type), plus replayed copies of a few."""
    enterprise = Enterprise(DemoConfig(days=30, events_per_day=300, seed=7, end=date(2026, 3, 15)))
    events = [e for batch in enterprise.day_batches() for e in batch.events]
    firsts = {e["detail-type"]: e for e in reversed(events)}
    replayed = [{**e, "replay-name": "verticals-replay-1"} for e in firsts.values()]
    return tuple(events + replayed)


def lake_deliveries() -> list[tuple[str, dict, dict]]:
    """(rule name, its pattern, its target) for every target that is a lake stream."""
    rules = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::Events::Rule"]
    return [
        (rule["Name"], rule["EventPattern"], target)
        for rule in rules
        for target in rule["Targets"]
        if target["Arn"].get("Fn::GetAtt", [""])[0].startswith("LakeStream")
    ]


def stream_schema(target: dict) -> tuple[str, list[dict], dict]:
    """(table name, Glue columns, OpenX SerDe settings) of the stream a target writes to."""
    stream = RESOURCES[target["Arn"]["Fn::GetAtt"][0]]["Properties"]["ExtendedS3DestinationConfiguration"]
    conversion = stream["DataFormatConversionConfiguration"]
    table_id = conversion["SchemaConfiguration"]["TableName"]["Ref"]
    table = RESOURCES[table_id]["Properties"]["TableInput"]
    serde = conversion["InputFormatConfiguration"]["Deserializer"]["OpenXJsonSerDe"]
    return table["Name"], table["StorageDescriptor"]["Columns"], serde


def record_for(rule: str, target: dict, event: dict) -> str:
    """What the rule's target hands Firehose for the event."""
    transform = compile_input(target["Id"], input_transformer=target.get("InputTransformer"))
    if transform is None:
        return json.dumps(event, separators=(",", ":"))
    return transform.apply(event, rule_name=rule, rule_arn=f"arn:aws:events:::rule/{rule}", ingested=1.7e9)


def expected_row(table: str, event: dict) -> dict[str, Any]:
    """The row the lake should hold for the event: its own values, NULL where it has none."""
    if table == "events":
        return {
            "id": event["id"],
            "version": event["version"],
            "detail_type": event["detail-type"],
            "account": event["account"],
            "time": event["time"],
            "region": event["region"],
            "resources": event["resources"],
            "detail": event["detail"],
            "replay_name": event.get("replay-name"),
            "ingested_at": None,  # no transformer on the raw stream: documented in docs/aws.md
        }
    envelope = {"event_id": event["id"], "time": event["time"], "detail_type": event["detail-type"]}
    columns = TABLE_FOR_DETAIL_TYPE[event["detail-type"]].columns
    return {c.name: envelope.get(c.name, event["detail"].get(c.key)) for c in columns}


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if isinstance(out.get("detail"), str):
        out["detail"] = json.loads(out["detail"])
    if isinstance(out.get("time"), datetime):
        out["time"] = out["time"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for key, value in out.items():
        if isinstance(value, date) and not isinstance(value, datetime):
            out[key] = value.isoformat()
    return out


def test_the_demo_covers_every_detail_type_and_keeps_the_contract():
    events = demo_events()
    assert {e["detail-type"] for e in events} == set(DETAIL_TYPES)
    for event in events:
        if event["detail-type"] in DETAIL_FIELDS:
            assert set(event["detail"]) == set(DETAIL_FIELDS[event["detail-type"]]), event["detail-type"]


def test_every_entity_detail_type_has_its_fields_and_each_field_is_a_column():
    for table in ENTITY_TABLES:
        keys = {c.key for c in table.columns}
        for detail_type in table.detail_types:
            assert set(DETAIL_FIELDS[detail_type]) <= keys, (table.name, detail_type)


@pytest.mark.parametrize("delivery", lake_deliveries(), ids=lambda d: d[0])
def test_every_record_converts_with_the_events_values_and_null_for_the_rest(delivery):
    rule, pattern, target = delivery
    table, columns, serde = stream_schema(target)
    matcher = compile_pattern(pattern)
    matched = [e for e in demo_events() if matcher.matches(e)]
    assert matched, f"{rule} receives none of the demo's events"
    for event in matched:
        row = convert(record_for(rule, target, event), columns, serde)
        assert _comparable(row) == _comparable(expected_row(table, event)), (rule, event["detail-type"])


def test_each_event_reaches_the_events_table_once_and_its_entity_table_once():
    deliveries = [
        (table, compile_pattern(p)) for _, p, t in lake_deliveries() for table in [stream_schema(t)[0]]
    ]
    for event in demo_events():
        tables = Counter(table for table, matcher in deliveries if matcher.matches(event))
        entity = TABLE_FOR_DETAIL_TYPE.get(event["detail-type"])
        assert tables == Counter(["events"] + ([entity.name] if entity else [])), event["detail-type"]


def test_a_field_missing_from_its_event_is_rejected_not_stored_as_empty():
    # The residual risk: a producer breaks the contract. EventBridge writes "" (as recorded);
    # the conversion rejects the record, which FailedConversion.Records alarms on.
    transformer = entity_transformer(TABLE_FOR_DETAIL_TYPE["OrderDelivered"], "OrderDelivered")
    event = next(e for e in demo_events() if e["detail-type"] == "OrderDelivered")
    broken = {**event, "detail": {k: v for k, v in event["detail"].items() if k != "late"}}
    record = compile_input("t", input_transformer=transformer).apply(
        broken, rule_name="r", rule_arn="a", ingested=0
    )
    assert '"late":""' in record
    [(_, _, target)] = [d for d in lake_deliveries() if d[0].endswith("-OrderDelivered")]
    with pytest.raises(Rejected, match="late"):
        convert(record, stream_schema(target)[1], {})


def test_the_old_way_would_have_stored_empty_strings_and_lost_records():
    # One transformer for all of a table's types, every column unquoted: what issue 12 found.
    table = TABLE_FOR_DETAIL_TYPE["OrderPlaced"]
    paths = {c.name: "$.detail." + c.key for c in table.columns}
    template = "{" + ",".join(f'"{c}":<{c}>' for c in paths) + "}"
    event = next(e for e in demo_events() if e["detail-type"] == "OrderPlaced")
    record = compile_input("t", input_transformer={"InputPathsMap": paths, "InputTemplate": template}).apply(
        event, rule_name="r", rule_arn="a", ingested=0
    )
    assert json.loads(record)["cancel_reason"] == ""
