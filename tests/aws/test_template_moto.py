"""The rendered template deployed to moto with `infra deploy`'s own code (a change set),
then read back: bus, rules, targets, DLQs, buckets, Glue tables, workgroup, streams; and the
lake layout read through the Glue tables with awswrangler.

What moto cannot do, and what this test does about it (see tests/aws/cfn_moto.py):
moto's CloudFormation skips Glue, Athena, Firehose, QueuePolicy, BucketPolicy, Alarm,
Connection, ApiDestination, LogStream and SNS Subscription resources. They are created
here through their own APIs from the template's exact properties. Rule targets pointing
at Firehose streams stay absent: moto answers them with HTTP 500. moto's change-set path
does not fill stack outputs either, so outputs are read from a second stack made with
CreateStack (tests/aws/test_stack_outputs_moto.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import awswrangler as wr
import boto3
import pandas as pd
import pytest
from moto import mock_aws

from app.bus.definition import load_definition
from app.departments import SOURCES
from app.infra.deploy import deploy
from app.infra.render import render_template, to_json
from app.lake.tables import ENTITY_TABLES, TABLES
from app.lake.writer import LakeWriter
from app.stack_names import logical_id
from tests.aws.cfn_moto import REGION, Resolver, apply_dropped, moto_variant

DEFINITION = load_definition()
TEMPLATE = render_template(DEFINITION)
PARAMETERS = {
    "CrmWebhookApiKey": "k1",
    "AttributionApiApiKey": "k2",
    "CrmWebhookUrl": "https://crm.example.com/events",
    "AttributionApiUrl": "https://marketing.example.com/attribution",
}
STACK = "verticals-test"
BUS = STACK  # the template names the bus, queues and database after the stack
DATABASE = "verticals_test"


@pytest.fixture(scope="module")
def deployed():
    with mock_aws():
        variant, dropped = moto_variant(TEMPLATE)
        cfn = boto3.client("cloudformation", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        events = []
        result = deploy(
            cfn,
            s3,
            STACK,
            variant,
            to_json(variant),
            PARAMETERS,
            template_bucket="templates",
            region=REGION,
            on_event=events.append,
            sleep=lambda s: None,
        )
        resolver = Resolver(TEMPLATE, STACK, PARAMETERS)
        skipped = apply_dropped(resolver, dropped)
        yield {
            "result": result,
            "events": events,
            "resolver": resolver,
            "dropped": dropped,
            "skipped": skipped,
        }


def client(service: str):
    return boto3.client(service, region_name=REGION)


def test_what_moto_could_not_create_is_known(deployed):
    assert set(deployed["dropped"].values()) == {
        "AWS::Athena::WorkGroup",
        "AWS::CloudWatch::Alarm",
        "AWS::Events::ApiDestination",
        "AWS::Events::Connection",
        "AWS::Glue::Database",
        "AWS::Glue::Table",
        "AWS::KinesisFirehose::DeliveryStream",
        "AWS::Logs::LogStream",
        "AWS::S3::BucketPolicy",
        "AWS::SNS::Subscription",
        "AWS::SQS::QueuePolicy",
    }
    assert sorted(deployed["skipped"]) == sorted(
        ["lake-archive/lake"]
        + [f"lake-archive-{t.name}-{d}/lake-{t.name}" for t in ENTITY_TABLES for d in t.detail_types]
    )


def test_deploy_went_through_a_change_set_and_reported_events(deployed):
    result = deployed["result"]
    assert (result.status, result.changed) == ("CREATE_COMPLETE", True)
    statuses = [(e.logical_id, e.status) for e in deployed["events"]]
    assert (STACK, "CREATE_COMPLETE") in statuses


def test_a_second_deploy_without_changes_is_a_no_op(deployed):
    variant, _ = moto_variant(TEMPLATE)
    result = deploy(
        client("cloudformation"),
        client("s3"),
        STACK,
        variant,
        to_json(variant),
        {},
        template_bucket="templates",
        region=REGION,
        sleep=lambda s: None,
    )
    assert result.changed is False


def test_bus_and_every_rule_with_its_pattern(deployed):
    events = client("events")
    assert events.describe_event_bus(Name=BUS)["Name"] == BUS
    deployed_rules = {
        r["Name"]: json.loads(r["EventPattern"])
        for r in events.list_rules(EventBusName=BUS, Limit=100)["Rules"]
        if "EventPattern" in r
    }
    for rule in DEFINITION.rules:
        assert deployed_rules[rule.name] == rule.pattern
    for table in ENTITY_TABLES:
        for detail_type in table.detail_types:
            assert deployed_rules[f"lake-archive-{table.name}-{detail_type}"]["detail-type"] == [detail_type]


def targets(rule: str) -> dict[str, dict]:
    return {t["Id"]: t for t in client("events").list_targets_by_rule(Rule=rule, EventBusName=BUS)["Targets"]}


def test_queue_log_and_http_targets(deployed):
    sqs = client("sqs")
    queue_url = sqs.get_queue_url(QueueName=f"{STACK}-payments-orders")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert targets("payments-on-order")["payments-orders"]["Arn"] == queue_arn
    assert targets("ops-alerts")["ops-log"]["Arn"].endswith(f":log-group:/aws/events/{STACK}/ops-alerts")
    crm = targets("crm-customer-signals")["crm-webhook"]
    assert crm["Arn"].startswith("arn:aws:events:us-east-1:123456789012:api-destination/")
    assert crm["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}
    dlq_url = sqs.get_queue_url(QueueName=f"{STACK}-crm-webhook-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert crm["DeadLetterConfig"] == {"Arn": dlq_arn}
    destination = client("events").describe_api_destination(Name="ApiDestinationCrmWebhook")
    assert destination["InvocationEndpoint"] == "https://crm.example.com/events"


def test_dead_letter_queues_keep_14_days_and_let_their_rules_send(deployed):
    sqs = client("sqs")
    for name in DEFINITION.dead_letter_queues:
        url = sqs.get_queue_url(QueueName=f"{STACK}-{name}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["MessageRetentionPeriod"] == "1209600"
        statement = json.loads(attributes["Policy"])["Statement"][0]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert all(
            arn.startswith(f"arn:aws:events:us-east-1:123456789012:rule/{BUS}/")
            for arn in statement["Condition"]["ArnEquals"]["aws:SourceArn"]
        )


def test_buckets_exist_encrypted(deployed):
    # moto's CloudFormation applies a bucket's encryption but not its versioning, public
    # access block or lifecycle: test_template.py checks those properties in the template.
    s3 = client("s3")
    for name in ("LakeBucket", "ResultsBucket"):
        bucket = deployed["resolver"].ref(name)
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_glue_tables_are_the_lake_schema_with_projection(deployed, name):
    bucket = deployed["resolver"].ref("LakeBucket")
    table = client("glue").get_table(DatabaseName=DATABASE, Name=name)["Table"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert columns == [(c.name, c.type) for c in TABLES[name].columns]
    assert table["StorageDescriptor"]["Location"] == f"s3://{bucket}/{name}/"
    params = table["Parameters"]
    keys = "/".join(f"{p}=${{{p}}}" for p in TABLES[name].partitions)
    assert params["storage.location.template"] == f"s3://{bucket}/{name}/{keys}/"
    assert params["projection.dt.range"] == "2024-01-01,NOW"
    if name == "events":
        assert params["projection.source.values"] == ",".join(SOURCES)


def test_workgroup_and_streams_are_configured(deployed):
    workgroup = client("athena").get_work_group(WorkGroup=STACK)["WorkGroup"]
    config = workgroup["Configuration"]
    assert (
        config["ResultConfiguration"]["OutputLocation"]
        == f"s3://{deployed['resolver'].ref('ResultsBucket')}/results/"
    )
    assert config["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    stream = client("firehose").describe_delivery_stream(DeliveryStreamName=f"{STACK}-events")
    destination = stream["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert (
        destination["Prefix"]
        == "events/dt=!{partitionKeyFromQuery:dt}/source=!{partitionKeyFromQuery:source}/"
    )


def test_the_lake_layout_reads_through_the_glue_tables(deployed, tmp_path):
    bucket = deployed["resolver"].ref("LakeBucket")
    session = boto3.Session(region_name=REGION)
    # 1. files the local lake writer makes, uploaded as they are
    events = [
        {
            "version": "0",
            "id": f"e{i}",
            "detail-type": "OrderPlaced",
            "source": "verticals.shop",
            "account": "123456789012",
            "time": f"2026-03-1{i}T08:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {"order_id": f"o{i}", "quantity": i + 1, "amount": 9.5 * (i + 1), "region": "east"},
        }
        for i in range(3)
    ]
    for path in LakeWriter(tmp_path).write(events, ingested_at=datetime(2026, 3, 16, tzinfo=UTC)):
        client("s3").upload_file(str(path), bucket, str(path.relative_to(tmp_path)))
    orders = wr.s3.read_parquet_table(database=DATABASE, table="orders", boto3_session=session)
    assert sorted(orders["order_id"]) == ["o0", "o1", "o2"]
    assert sorted(orders["dt"].astype(str)) == ["2026-03-10", "2026-03-11", "2026-03-12"]
    assert orders.sort_values("order_id")["quantity"].tolist() == [1, 2, 3]
    raw = wr.s3.read_parquet_table(database=DATABASE, table="events", boto3_session=session)
    assert set(raw["source"].astype(str)) == {"verticals.shop"} and len(raw) == 3
    # 2. files awswrangler writes into a table's prefix, Hive-partitioned by dt
    refunds = pd.DataFrame(
        {
            "event_id": ["r1"],
            "time": [pd.Timestamp("2026-03-12 09:00", tz="UTC")],
            "detail_type": ["RefundIssued"],
            "refund_id": ["rf1"],
            "order_id": ["o1"],
            "amount": [19.0],
            "reason": ["damaged"],
            "dt": ["2026-03-12"],
        }
    )
    wr.s3.to_parquet(
        refunds, path=f"s3://{bucket}/refunds/", dataset=True, partition_cols=["dt"], boto3_session=session
    )
    back = wr.s3.read_parquet_table(database=DATABASE, table="refunds", boto3_session=session)
    assert back[["refund_id", "amount", "reason"]].values.tolist() == [["rf1", 19.0, "damaged"]]
    assert back["dt"].astype(str).tolist() == ["2026-03-12"]


def test_logical_ids_of_queues_match_outputs():
    for name in DEFINITION.dead_letter_queues:
        assert logical_id("Queue", name) in TEMPLATE["Resources"]


def test_the_definition_archives_exist_on_the_bus(deployed):
    events = client("events")
    bus_arn = events.describe_event_bus(Name=BUS)["Arn"]
    for archive in DEFINITION.archives:
        described = events.describe_archive(ArchiveName=f"{STACK}-{archive.name}")
        assert (described["EventSourceArn"], described["RetentionDays"]) == (bus_arn, archive.retention_days)
        assert json.loads(described["EventPattern"]) == archive.pattern
    assert DEFINITION.archives  # infra/bus.yaml has some, so the loop above checked something
