"""Input, InputPath and InputTransformer as EventBridge applies them, and PutTargets' errors.

Cases marked "AWS" reproduce outputs recorded against EventBridge (localstack's validated
snapshots, tests/aws/services/events/test_events_inputs.snapshot.json); the others follow
the user guide's examples and rules.
"""

import json

import pytest

from app.bus.transform import MISSING, compile_input, compile_path, read_path
from app.events import ValidationException

EVENT = {
    "version": "0",
    "id": "e-1",
    "detail-type": "core.update-account-command",
    "source": "core.update-account-command",
    "account": "111111111111",
    "time": "2024-05-13T12:27:07Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:1:instance/i-1"],
    "detail": {
        "command": "update-account",
        "payload": {"acc_id": "0a787ecb-4015", "sf_id": "baz"},
        "items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}],
        "amount": 12.5,
        "ok": True,
        "none": None,
        "quote": 'say "hi"',
    },
}
RULE, ARN, INGESTED = "r1", "arn:aws:events:us-east-1:1:rule/bus/r1", 1715603227.25


def apply(**settings) -> str:
    return compile_input("t1", **settings).apply(EVENT, rule_name=RULE, rule_arn=ARN, ingested=INGESTED)


def transformer(template, **paths):
    return {"input_transformer": {"InputPathsMap": paths, "InputTemplate": template}}


PATHS = {"detail_type": "$.detail-type", "timestamp": "$.time", "command": "$.detail.command"}


@pytest.mark.parametrize(
    "settings, expected",
    [
        pytest.param(
            {"input_path": "$.detail.payload"},
            {"acc_id": "0a787ecb-4015", "sf_id": "baz"},
            id="AWS-input-path-object",
        ),
        pytest.param(
            {"input_path": "$.detail.payload.sf_id"}, "baz", id="AWS-input-path-leaf-is-json-string"
        ),
        pytest.param({"input_path": "$"}, EVENT, id="input-path-whole-event"),
        pytest.param({"input_path": "$.detail.items[1].sku"}, "B", id="input-path-array-index"),
        pytest.param({"input_path": "$.detail.items[*].sku"}, ["A", "B"], id="input-path-wildcard-is-a-list"),
        pytest.param({"input_path": "$.detail.nothing"}, None, id="input-path-missing-is-null"),
        pytest.param({"input": '{"fixed": 1}'}, {"fixed": 1}, id="constant-input"),
    ],
)
def test_input_and_input_path_deliver_json(settings, expected):
    assert json.loads(apply(**settings)) == expected


@pytest.mark.parametrize(
    "template, paths, expected",
    [
        pytest.param(
            '"Event of <detail_type> type, at time <timestamp>, info extracted from detail <command>"',
            PATHS,
            '"Event of core.update-account-command type, at time 2024-05-13T12:27:07Z, '
            'info extracted from detail update-account"',
            id="AWS-string-template",
        ),
        pytest.param(
            '"Event of <detail_type> type, at time <timestamp>, info extracted from detail <command>"',
            {**PATHS, "command": "$.detail.notinmessage"},
            '"Event of core.update-account-command type, at time 2024-05-13T12:27:07Z, '
            'info extracted from detail "',
            id="AWS-string-template-missing-path-is-empty",
        ),
        pytest.param(
            '"{[/Check with special starting characters for event of <detail_type> type"',
            PATHS,
            '"{[/Check with special starting characters for event of core.update-account-command type"',
            id="AWS-string-template-starting-with-brackets",
        ),
        pytest.param(
            '{"detailType": <detail_type>,  "time": <timestamp>, "command": <command>}',
            PATHS,
            '{"detailType": "core.update-account-command",  "time": "2024-05-13T12:27:07Z", '
            '"command": "update-account"}',
            id="AWS-json-template",
        ),
        pytest.param(
            '{"detailType": <detail_type>,  "time": <timestamp>, "command": <command>}',
            {**PATHS, "command": "$.detail.notinmessage"},
            '{"detailType": "core.update-account-command",  "time": "2024-05-13T12:27:07Z", "command": ""}',
            id="AWS-json-template-missing-path-is-empty-string",
        ),
        pytest.param(
            '"Message containing all pre defined variables <aws.events.rule-arn> <aws.events.rule-name> '
            '<aws.events.event.ingestion-time>"',
            {},
            f'"Message containing all pre defined variables {ARN} {RULE} 2024-05-13T12:27:07Z"',
            id="AWS-predefined-in-a-string",
        ),
        pytest.param(
            '{"n": <amount>, "ok": <ok>, "none": <none>, "items": <items>}',
            {
                "amount": "$.detail.amount",
                "ok": "$.detail.ok",
                "none": "$.detail.none",
                "items": "$.detail.items",
            },
            '{"n": 12.5, "ok": true, "none": null, "items": [{"sku":"A","qty":2},{"sku":"B","qty":1}]}',
            id="json-values-keep-their-types",
        ),
        pytest.param(
            '"amount <amount>, ok <ok>, payload <payload>"',
            {"amount": "$.detail.amount", "ok": "$.detail.ok", "payload": "$.detail.payload"},
            '"amount 12.5, ok true, payload {acc_id:0a787ecb-4015,sf_id:baz}"',
            id="in-quotes-objects-lose-inner-quotes",
        ),
        pytest.param(
            '{"said": "<quote>"}',
            {"quote": "$.detail.quote"},
            '{"said": "say "hi""}',
            id="in-quotes-text-is-not-escaped",
        ),
        pytest.param(
            '{"said": <quote>}',
            {"quote": "$.detail.quote"},
            '{"said": "say \\"hi\\""}',
            id="out-of-quotes-text-is-json-escaped",
        ),
        pytest.param(
            '"instance \\"<command>\\" is in <timestamp>"',
            PATHS,
            '"instance \\"update-account\\" is in 2024-05-13T12:27:07Z"',
            id="escaped-quotes-stay-in-the-string",
        ),
        pytest.param(
            "<command> is in state <timestamp>",
            PATHS,
            '"update-account" is in state "2024-05-13T12:27:07Z"',
            id="no-quotes-at-all-inserts-json",
        ),
        pytest.param(
            '{"skus": <skus>}', {"skus": "$.detail.items[*].sku"}, '{"skus": ["A","B"]}', id="wildcard-list"
        ),
        pytest.param(
            '{"rule": <aws.events.rule-name>, "arn": <aws.events.rule-arn>}',
            {},
            f'{{"rule": "{RULE}", "arn": "{ARN}"}}',
            id="predefined-as-json-values",
        ),
        pytest.param("a < b > c", {}, "a < b > c", id="angle-brackets-that-are-no-placeholder"),
    ],
)
def test_input_transformer_fills_the_template(template, paths, expected):
    assert apply(**transformer(template, **paths)) == expected


def test_the_event_variables_are_the_event_with_and_without_detail():
    out = json.loads(
        apply(
            **transformer(
                '{"originalEvent": <aws.events.event>, "originalEventJson": <aws.events.event.json>}'
            )
        )
    )
    assert out["originalEventJson"] == EVENT
    original = out["originalEvent"]
    assert "detail" not in original and original["detailType"] == EVENT["detail-type"]
    assert original["time"] == "2024-05-13T12:27:07.250Z"  # the ingestion time
    assert {k: original[k] for k in ("id", "source", "account", "region", "resources", "version")} == {
        k: EVENT[k] for k in ("id", "source", "account", "region", "resources", "version")
    }


def test_no_setting_means_the_whole_event():
    assert compile_input("t1") is None


@pytest.mark.parametrize(
    "settings, words",
    [
        pytest.param(
            {"input_path": "$.detail", **transformer('"x"')},
            "Only one of Input, InputPath, or InputTransformer must be provided for target t1.",
            id="AWS-path-and-transformer",
        ),
        pytest.param({"input": "{}", "input_path": "$.detail"}, "Only one of Input", id="input-and-path"),
        pytest.param(
            transformer('"Event of <detail_type> type, with not defined key <notdefinedkey>"', **PATHS),
            "InputTemplate for target t1 contains invalid placeholder notdefinedkey.",
            id="AWS-undefined-placeholder",
        ),
        pytest.param({"input_path": "detail.x"}, "not a valid JSON path", id="path-without-dollar"),
        pytest.param({"input_path": "$['detail']"}, "not a valid JSON path", id="bracket-notation"),
        pytest.param({"input_path": "$.detail[?(@.x)]"}, "not a valid JSON path", id="filter-expression"),
        pytest.param({"input_path": "$." + "a" * 300}, "not a valid JSON path", id="path-too-long"),
        pytest.param(
            transformer('"<x>"', x="$.detail..x"), "not a valid JSON path", id="map-value-invalid-path"
        ),
        pytest.param(transformer('"x"', **{"aws.events.rule-name": "$.id"}), "reserved", id="reserved-key"),
        pytest.param(transformer('"x"', **{"bad key": "$.id"}), "must be letters", id="key-characters"),
        pytest.param(
            transformer('"x"', **{f"k{i}": "$.id" for i in range(101)}),
            "at most 100",
            id="more-than-100-paths",
        ),
        pytest.param(transformer("x" * 8193), "longer than 8192", id="template-too-long"),
        pytest.param({"input_transformer": {"InputPathsMap": {}}}, "non-empty string", id="no-template"),
        pytest.param(
            {"input": "{not json"}, "Input for target t1 is not a valid JSON text.", id="input-not-json"
        ),
    ],
)
def test_put_targets_refuses_bad_input_settings(settings, words):
    with pytest.raises(ValidationException) as excinfo:
        compile_input("t1", **settings)
    assert words in excinfo.value.message


@pytest.mark.parametrize(
    "path, expected",
    [
        pytest.param("$.resources[0]", EVENT["resources"][0], id="index"),
        pytest.param("$.resources[5]", MISSING, id="index-past-the-end"),
        pytest.param("$.detail.payload.*", ["0a787ecb-4015", "baz"], id="object-wildcard"),
        pytest.param("$.detail-type", EVENT["detail-type"], id="dash-in-name"),
        pytest.param("$.detail.items.sku", MISSING, id="no-implicit-array-spread"),
    ],
)
def test_paths(path, expected):
    assert read_path(EVENT, compile_path(path, "t")) == expected
