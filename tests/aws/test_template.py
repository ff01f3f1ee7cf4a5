"""The rendered CloudFormation template: committed file current, cfn-lint clean, and
faithful to the bus definition and the lake schema."""

from __future__ import annotations

import json

import pytest

from app.bus.definition import load_definition, parse_definition
from app.infra.cfn import RenderError
from app.infra.records import DETAIL_FIELDS, EVENT_KEY_OF_COLUMN, entity_transformer
from app.infra.render import TEMPLATE_PATH, render_template, to_json, to_yaml
from app.infra.rules import restrict_to_detail_types
from app.lake.rollups import ROLLUP_TABLES
from app.lake.tables import ENTITY_TABLES, TABLES
from app.stack_names import (
    DLQ_OUTPUT_PREFIX,
    OUTPUT_KEYS,
    logical_id,
    physical_names,
    stack_name_problems,
    stack_scoped_suffix,
)

DEFINITION = load_definition()
TEMPLATE = render_template(DEFINITION)
RESOURCES = TEMPLATE["Resources"]


def of_type(kind: str) -> dict:
    return {rid: r for rid, r in RESOURCES.items() if r["Type"] == kind}


def rule_named(name: str) -> dict:
    [rule] = [
        r["Properties"] for r in of_type("AWS::Events::Rule").values() if r["Properties"]["Name"] == name
    ]
    return rule


def test_committed_template_is_a_fresh_render():
    assert TEMPLATE_PATH.read_text() == to_yaml(TEMPLATE), "run: python -m app infra render"


def test_cfn_lint_finds_nothing():
    from cfnlint.api import ManualArgs, lint

    matches = lint(to_yaml(TEMPLATE), config=ManualArgs(regions=["us-east-1", "eu-central-1"]))
    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []


def test_yaml_has_no_aliases_and_json_round_trips():
    assert "*id" not in to_yaml(TEMPLATE) and "&id" not in to_yaml(TEMPLATE)
    assert json.loads(to_json(TEMPLATE)) == json.loads(json.dumps(TEMPLATE))


def test_every_rule_of_the_definition_is_deployed_as_written():
    for rule in DEFINITION.rules:
        deployed = rule_named(rule.name)
        assert deployed["EventPattern"] == rule.pattern
        assert deployed["EventBusName"] == {"Fn::GetAtt": ["EventBus", "Name"]}
        assert deployed["State"] == rule.state
        targets = {t["Id"]: t for t in deployed["Targets"]}
        assert set(targets) == {t.id for t in rule.targets}
        for target in rule.targets:
            assert targets[target.id]["RetryPolicy"] == target.retry.to_aws()
            if target.dead_letter_queue:
                assert targets[target.id]["DeadLetterConfig"] == {
                    "Arn": {"Fn::GetAtt": [logical_id("Queue", target.dead_letter_queue), "Arn"]}
                }


@pytest.mark.parametrize(
    ("table", "detail_type"),
    [(t, d) for t in ENTITY_TABLES for d in t.detail_types],
    ids=lambda x: getattr(x, "name", x),
)
def test_lake_rule_has_a_companion_rule_per_detail_type(table, detail_type):
    rule = rule_named(f"lake-archive-{table.name}-{detail_type}")
    assert rule["EventPattern"] == {"source": [{"prefix": "verticals."}], "detail-type": [detail_type]}
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [logical_id("LakeStream", table.name), "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["QueueLakeDlq", "Arn"]}
    paths = target["InputTransformer"]["InputPathsMap"]
    # The envelope and the fields this type always carries; nothing else is placed.
    assert set(paths) == {"event_id", "time", "detail_type"} | {
        c.name for c in table.columns if c.key in DETAIL_FIELDS[detail_type]
    }


def test_raw_events_go_whole_to_the_events_stream():
    [target] = rule_named("lake-archive")["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["LakeStreamEvents", "Arn"]}
    assert "InputTransformer" not in target and "InputPath" not in target
    stream = RESOURCES["LakeStreamEvents"]["Properties"]["ExtendedS3DestinationConfiguration"]
    serde = stream["DataFormatConversionConfiguration"]["InputFormatConfiguration"]["Deserializer"]
    assert serde == {"OpenXJsonSerDe": {"ColumnToJsonKeyMappings": EVENT_KEY_OF_COLUMN}}


@pytest.mark.parametrize(
    "transformer",
    [entity_transformer(t, d) for t in ENTITY_TABLES for d in t.detail_types],
    ids=[f"{t.name}-{d}" for t in ENTITY_TABLES for d in t.detail_types],
)
def test_input_templates_fill_into_valid_json(transformer):
    # EventBridge replaces each unquoted <var> by a JSON value.
    filled = transformer["InputTemplate"]
    for name in transformer["InputPathsMap"]:
        filled = filled.replace(f"<{name}>", '{"nested": [1, "two"]}')
    assert set(json.loads(filled)) == set(transformer["InputPathsMap"])


@pytest.mark.parametrize("table", list(TABLES.values()), ids=lambda t: t.name)
def test_glue_tables_mirror_the_lake_schema_with_partition_projection(table):
    props = RESOURCES[logical_id("Table", table.name)]["Properties"]["TableInput"]
    columns = props["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"]) for c in columns] == [(c.name, c.type) for c in table.columns]
    assert [p["Name"] for p in props["PartitionKeys"]] == list(table.partitions)
    params = props["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.dt.type"] == "date" and params["projection.dt.format"] == "yyyy-MM-dd"
    keys = "/".join(f"{p}=${{!{p}}}" for p in table.partitions)
    assert params["storage.location.template"] == {"Fn::Sub": f"s3://${{LakeBucket}}/{table.name}/{keys}/"}
    stream = RESOURCES[logical_id("LakeStream", table.name)]["Properties"][
        "ExtendedS3DestinationConfiguration"
    ]
    assert stream["Prefix"].startswith(f"{table.name}/dt=!{{partitionKeyFromQuery:dt}}/")
    assert stream["DataFormatConversionConfiguration"]["SchemaConfiguration"]["TableName"] == {
        "Ref": logical_id("Table", table.name)
    }


@pytest.mark.parametrize("table", list(ROLLUP_TABLES.values()), ids=lambda t: t.name)
def test_every_rollup_table_is_a_glue_table_at_its_own_prefix_without_a_stream(table):
    props = RESOURCES[logical_id("Table", table.name)]["Properties"]["TableInput"]
    columns = props["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"]) for c in columns] == [(c.name, c.type) for c in table.columns]
    assert [(p["Name"], p["Type"]) for p in props["PartitionKeys"]] == [("dt", "string")]
    assert props["Parameters"]["classification"] == "parquet"
    assert "ParquetHiveSerDe" in props["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    params = props["Parameters"]
    assert params["projection.enabled"] == "true" and params["projection.dt.type"] == "date"
    location = f"s3://${{LakeBucket}}/rollups/{table.name}/"
    assert props["StorageDescriptor"]["Location"] == {"Fn::Sub": location}
    assert params["storage.location.template"] == {"Fn::Sub": location + "dt=${!dt}/"}
    assert logical_id("LakeStream", table.name) not in RESOURCES  # Athena fills it, not Firehose


def test_rollup_prefixes_are_apart_from_every_lake_table():
    prefixes = [
        RESOURCES[logical_id("Table", name)]["Properties"]["TableInput"]["StorageDescriptor"]["Location"][
            "Fn::Sub"
        ]
        for name in [*TABLES, *ROLLUP_TABLES]
    ]
    assert len(set(prefixes)) == len(prefixes)
    assert not any(a != b and b.startswith(a) for a in prefixes for b in prefixes)


def test_events_table_projects_every_department_source():
    params = RESOURCES["TableEvents"]["Properties"]["TableInput"]["Parameters"]
    from app.departments import SOURCES

    assert params["projection.source.type"] == "enum"
    assert params["projection.source.values"].split(",") == list(SOURCES)


def test_dlq_policies_let_exactly_the_rules_that_use_them_send():
    senders = {}
    for p in of_type("AWS::SQS::QueuePolicy").values():
        statement = p["Properties"]["PolicyDocument"]["Statement"][0]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        senders[p["Properties"]["Queues"][0]["Ref"]] = {
            a["Fn::GetAtt"][0] for a in statement["Condition"]["ArnEquals"]["aws:SourceArn"]
        }
    assert senders["QueueCrmWebhookDlq"] == {"RuleCrmCustomerSignals"}
    assert senders["QueueAttributionDlq"] == {"RuleMarketingAttribution"}
    assert senders["QueueLakeDlq"] == {"RuleLakeArchive"} | {
        logical_id("Rule", "lake-archive", t.name, d) for t in ENTITY_TABLES for d in t.detail_types
    }
    assert senders["QueuePaymentsOrders"] == {"RulePaymentsOnOrder"}
    for name in DEFINITION.dead_letter_queues:
        props = RESOURCES[logical_id("Queue", name)]["Properties"]
        assert props["MessageRetentionPeriod"] == 1_209_600 and props["SqsManagedSseEnabled"] is True


def _dashboard_statements() -> list[dict]:
    statements = RESOURCES["DashboardRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in statements]


def test_dashboard_role_reads_and_writes_only_its_results():
    allowed = {a for s in _dashboard_statements() for a in s["Action"]}
    writes = {
        a
        for a in allowed
        if a.split(":")[1].startswith(("Put", "Delete", "Create", "Update", "Start", "Stop"))
    }
    assert writes == {
        "s3:PutObject",
        "s3:DeleteObject",
        "glue:CreatePartition",
        "glue:UpdatePartition",
        "athena:StartQueryExecution",
        "athena:StopQueryExecution",
        "events:PutEvents",
        "sqs:DeleteMessage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    by_sid = {s["Sid"]: s for s in _dashboard_statements()}
    assert by_sid["WriteOwnResults"]["Resource"] == {"Fn::Sub": "${ResultsBucket.Arn}/results/*"}
    # The rollups Athena writes for a page (app/engines/athena_rollups.py): their prefix only.
    assert by_sid["WriteRollups"]["Resource"] == {"Fn::Sub": "${LakeBucket.Arn}/rollups/*"}
    arns = [r["Fn::Sub"] for r in by_sid["AddRollupPartitions"]["Resource"]]
    assert [a.rsplit("/", 1)[1] for a in arns if ":table/" in a] == list(ROLLUP_TABLES)
    assert by_sid["ReadLake"]["Action"] == ["s3:GetObject"]
    assert not any("*" in a for a in allowed)
    assert [s["Sid"] for s in _dashboard_statements() if s["Resource"] == "*"] == ["ReadMetrics"]
    conditional = [
        s["Fn::If"][0]
        for s in RESOURCES["DashboardRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        if "Fn::If" in s
    ]
    assert conditional == ["CanRedrive", "CanRedrive"]  # PutEvents and DeleteMessage only when allowed


def test_the_audit_trail_has_its_own_log_group_that_the_dashboard_may_append_to_and_read():
    group = RESOURCES["AuditLogGroup"]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"] == {
        "LogGroupName": {"Fn::Sub": "${AWS::StackName}-audit"},
        "RetentionInDays": 400,
    }
    assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == ("Retain", "Retain")
    output = TEMPLATE["Outputs"]["AuditLogGroupName"]
    assert (
        output["Value"] == {"Ref": "AuditLogGroup"} and OUTPUT_KEYS["audit_log_group"] == "AuditLogGroupName"
    )
    by_sid = {s["Sid"]: s for s in _dashboard_statements()}
    assert by_sid["AuditWrite"] == {
        "Sid": "AuditWrite",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": {"Fn::Sub": "${AuditLogGroup.Arn}"},
    }
    assert by_sid["AuditRead"]["Action"] == ["logs:FilterLogEvents"]
    assert by_sid["AuditRead"]["Resource"] == {"Fn::Sub": "${AuditLogGroup.Arn}"}
    # No other statement of the dashboard's touches CloudWatch Logs.
    logs = [s["Sid"] for s in _dashboard_statements() if any(a.startswith("logs:") for a in s["Action"])]
    assert logs == ["AuditWrite", "AuditRead"]


def test_buckets_are_private_encrypted_and_retained():
    for name in ("LakeBucket", "ResultsBucket"):
        bucket = RESOURCES[name]
        assert bucket["DeletionPolicy"] == "Retain"
        assert all(bucket["Properties"]["PublicAccessBlockConfiguration"].values())
        assert bucket["Properties"]["BucketEncryption"]
    lake = RESOURCES["LakeBucket"]["Properties"]
    assert lake["VersioningConfiguration"] == {"Status": "Enabled"}
    assert lake["ObjectLockEnabled"] == {"Fn::If": ["ObjectLockOn", True, {"Ref": "AWS::NoValue"}]}
    transitions = lake["LifecycleConfiguration"]["Rules"][0]["Transitions"]
    assert [t["StorageClass"] for t in transitions] == ["STANDARD_IA", "GLACIER_IR"]


def test_workgroup_enforces_engine_v3_and_a_scan_cutoff():
    config = RESOURCES["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    assert config["BytesScannedCutoffPerQuery"] == {"Ref": "BytesScannedCutoffPerQuery"}
    assert config["ResultConfiguration"]["OutputLocation"] == {"Fn::Sub": "s3://${ResultsBucket}/results/"}


def test_alarms_cover_every_rule_and_dead_letter_queue():
    alarms = [a["Properties"] for a in of_type("AWS::CloudWatch::Alarm").values()]
    failed = {
        next(d["Value"] for d in a["Dimensions"] if d["Name"] == "RuleName")
        for a in alarms
        if a["MetricName"] == "FailedInvocations"
    }
    assert failed == {r["Properties"]["Name"] for r in of_type("AWS::Events::Rule").values()}
    depth = [a for a in alarms if a["MetricName"] == "ApproximateNumberOfMessagesVisible"]
    assert len(depth) == len(DEFINITION.dead_letter_queues)


def test_the_alarm_topic_uses_a_key_cloudwatch_may_use():
    topic = RESOURCES["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmKey"}
    key = RESOURCES["AlarmKey"]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    [cloudwatch] = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert "Condition" not in cloudwatch  # a condition CloudWatch's request lacks would drop every mail
    assert any(s["Action"] == "kms:*" and "root" in json.dumps(s["Principal"]) for s in statements)


def test_every_lake_stream_has_freshness_delivery_conversion_and_partition_alarms():
    alarms = [a["Properties"] for a in of_type("AWS::CloudWatch::Alarm").values()]
    by_stream: dict[str, dict[str, dict]] = {}
    for alarm in alarms:
        if alarm["Namespace"] == "AWS/Firehose":
            [dim] = alarm["Dimensions"]
            assert dim["Name"] == "DeliveryStreamName"
            by_stream.setdefault(dim["Value"]["Ref"], {})[alarm["MetricName"]] = alarm
    assert set(by_stream) == set(of_type("AWS::KinesisFirehose::DeliveryStream"))
    for found in by_stream.values():
        assert set(found) == {
            "DeliveryToS3.DataFreshness",
            "DeliveryToS3.Success",
            "FailedConversion.Records",
            "PartitionCountExceeded",
        }
        for alarm in (found["FailedConversion.Records"], found["PartitionCountExceeded"]):
            assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        assert found["PartitionCountExceeded"]["Statistic"] == "Maximum"  # 1 while over the limit, else 0
        success = found["DeliveryToS3.Success"]
        assert (success["Statistic"], success["ComparisonOperator"], success["Threshold"]) == (
            "Minimum",
            "LessThanThreshold",
            1,
        )
        assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in found.values())


def test_firehose_error_objects_are_kept_as_long_as_the_lake():
    rules = RESOURCES["LakeBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert not any("ExpirationInDays" in r or "Expiration" in r for r in rules)
    for stream in of_type("AWS::KinesisFirehose::DeliveryStream").values():
        prefix = stream["Properties"]["ExtendedS3DestinationConfiguration"]["ErrorOutputPrefix"]
        assert prefix.startswith("_firehose_errors/")


def test_outputs_name_what_the_app_reads():
    outputs = TEMPLATE["Outputs"]
    assert set(OUTPUT_KEYS.values()) <= set(outputs)
    for dlq in DEFINITION.dead_letter_queues:
        assert outputs[DLQ_OUTPUT_PREFIX + logical_id(dlq)]["Value"] == {"Ref": logical_id("Queue", dlq)}


@pytest.mark.parametrize(
    ("pattern", "types", "expected"),
    [
        pytest.param({"source": ["a"]}, ("X", "Y"), {"source": ["a"], "detail-type": ["X", "Y"]}, id="open"),
        pytest.param({"detail-type": ["X", "Z"]}, ("X", "Y"), {"detail-type": ["X"]}, id="intersect"),
        pytest.param({"detail-type": ["Z"]}, ("X", "Y"), None, id="disjoint"),
        pytest.param(
            {"detail-type": [{"prefix": "Order"}]},
            ("OrderPlaced", "Refund"),
            {"detail-type": ["OrderPlaced"]},
            id="prefix-matcher",
        ),
        pytest.param(
            {"detail-type": [{"anything-but": "X"}]}, ("X", "Y"), {"detail-type": ["Y"]}, id="anything-but"
        ),
        pytest.param(
            {"$or": [{"detail-type": ["X"]}, {"detail-type": ["Z"]}]},
            ("X", "Y"),
            {"detail-type": ["X"]},
            id="or-one-branch-left-is-merged",
        ),
        pytest.param(
            {
                "$or": [
                    {"source": ["a"], "detail-type": ["X"]},
                    {"source": ["b"], "detail-type": ["Y"]},
                    {"detail-type": ["Z"]},
                ]
            },
            ("X", "Y"),
            {
                "$or": [{"source": ["a"], "detail-type": ["X"]}, {"source": ["b"], "detail-type": ["Y"]}],
                "detail-type": ["X", "Y"],
            },
            id="or-branch-dropped",
        ),
        pytest.param(
            {"$or": [{"detail-type": ["Z"]}, {"source": ["q"], "detail-type": ["W"]}]},
            ("X",),
            None,
            id="or-nothing-left",
        ),
        pytest.param(
            {"$or": [{"source": ["a"]}, {"source": ["b"]}]},
            ("X",),
            {"$or": [{"source": ["a"]}, {"source": ["b"]}], "detail-type": ["X"]},
            id="or-without-types",
        ),
    ],
)
def test_restrict_to_detail_types(pattern, types, expected):
    assert restrict_to_detail_types(pattern, types) == expected


def test_a_rule_whose_companion_name_is_too_long_is_refused():
    name = "r" * 60
    definition = parse_definition(
        {
            "bus": "b",
            "dead_letter_queues": [],
            "rules": [
                {"name": name, "pattern": {"source": ["x"]}, "targets": [{"id": "lake", "kind": "lake"}]}
            ],
        }
    )
    with pytest.raises(RenderError, match="longer than 64"):
        render_template(definition)


def test_a_bus_without_lake_targets_has_no_companion_rules():
    definition = parse_definition(
        {
            "bus": "b",
            "dead_letter_queues": ["d"],
            "rules": [
                {
                    "name": "only-queue",
                    "pattern": {"source": ["x"]},
                    "targets": [{"id": "q", "kind": "queue", "queue": "work", "dead_letter_queue": "d"}],
                }
            ],
        }
    )
    template = render_template(definition)
    names = [
        r["Properties"]["Name"] for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"
    ]
    assert names == ["only-queue"]
    assert template["Resources"]["QueueWork"]["Properties"]["QueueName"] == {
        "Fn::Sub": "${AWS::StackName}-work"
    }


def test_no_fixed_physical_names_every_name_starts_with_the_stack_name():
    names = physical_names(TEMPLATE)
    assert {rid for rid, *_ in names} >= {"EventBus", "AthenaWorkGroup", "EventsLogPolicy", "AuditLogGroup"}
    fixed = [(rid, prop, value) for rid, prop, value, _ in names if stack_scoped_suffix(value) is None]
    # Log groups are a path: /aws/events/<stack>/<name>.
    fixed = [f for f in fixed if not (f[1] == "LogGroupName" and "/${AWS::StackName}/" in f[2]["Fn::Sub"])]
    assert fixed == []
    database = RESOURCES["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"]
    assert database["Fn::If"][0] == "HasGlueDatabaseName"
    assert database["Fn::If"][2] == {"Fn::Join": ["_", {"Fn::Split": ["-", {"Ref": "AWS::StackName"}]}]}
    assert TEMPLATE["Parameters"]["GlueDatabaseName"]["Default"] == ""
    for rule in of_type("AWS::Events::Rule").values():  # rule names are per bus, and the bus is the stack's
        assert rule["Properties"]["EventBusName"] == {"Fn::GetAtt": ["EventBus", "Name"]}


@pytest.mark.parametrize(
    ("stack", "glue_given", "problem"),
    [
        pytest.param("verticals-staging", False, None, id="fine"),
        pytest.param("Verticals", False, "lower case", id="upper-case-names-the-glue-database"),
        pytest.param("Verticals", True, None, id="upper-case-with-a-glue-name"),
        pytest.param("v" * 40, False, "longer than 48", id="archive-name-too-long"),
    ],
)
def test_stack_name_problems(stack, glue_given, problem):
    problems = stack_name_problems(stack, TEMPLATE, glue_database_given=glue_given)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems)


def test_the_events_role_may_invoke_each_api_destination_by_either_arn():
    """IAM may check the destination's ARN with its id or the name-only one CloudFormation
    offers as ArnForPolicy "to be used in IAM policies" (Ref is the name): both are granted."""
    destinations = sorted(k for k, v in RESOURCES.items() if v["Type"] == "AWS::Events::ApiDestination")
    assert destinations  # the definition has HTTP consumers
    statements = [
        s
        for r in RESOURCES.values()
        if r["Type"] == "AWS::IAM::Role"
        for p in r["Properties"].get("Policies", [])
        for s in p["PolicyDocument"]["Statement"]
        if "events:InvokeApiDestination" in s.get("Action", [])
    ]
    assert len(statements) == 1
    granted = statements[0]["Resource"]
    for name in destinations:
        assert {"Fn::GetAtt": [name, "Arn"]} in granted
        by_name = (
            f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:api-destination/${{{name}}}"
        )
        assert {"Fn::Sub": by_name} in granted
