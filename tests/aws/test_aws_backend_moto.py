"""The aws backend end to end where moto can: settings → stack → the Delivery health
service reading CloudWatch metrics and SQS dead letters from moto.

(Athena cannot run queries in moto; the engine is tested with the Stubber in
test_athena_engine.py; the AppTest of every page on the aws backend is test_apptest_aws.py.)
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from app.aws.errors import AwsError
from app.backends.aws import build_aws_parts
from app.bus.definition import load_definition
from app.infra.render import render_template, to_json
from app.infra.rules import deployed_rule_names
from app.lake.tables import ENTITY_TABLES
from app.services.context import Context
from app.services.delivery import dead_letters, delivery_metrics
from app.services.timerange import preset_range
from app.settings import load_settings
from tests.aws.cfn_moto import REGION, moto_variant
from tests.instant import NOW

DEFINITION = load_definition()
PARAMETERS = {
    "CrmWebhookApiKey": "k",
    "AttributionApiApiKey": "k",
    "CrmWebhookUrl": "https://crm.example.com/e",
    "AttributionApiUrl": "https://marketing.example.com/a",
}
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/verticals/crm-customer-signals"


def seed_metrics(now: datetime) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for minutes_ago, invocations, failed in ((50, 40, 0), (30, 35, 6), (10, 20, 2)):
        at = now - timedelta(minutes=minutes_ago)
        dims = [
            {"Name": "EventBusName", "Value": "prod"},
            {"Name": "RuleName", "Value": "crm-customer-signals"},
        ]
        cloudwatch.put_metric_data(
            Namespace="AWS/Events",
            MetricData=[
                {"MetricName": "Invocations", "Value": invocations, "Timestamp": at, "Dimensions": dims},
                {"MetricName": "FailedInvocations", "Value": failed, "Timestamp": at, "Dimensions": dims},
                {"MetricName": "MatchedEvents", "Value": invocations, "Timestamp": at, "Dimensions": dims},
                {
                    "MetricName": "IngestiontoInvocationStartLatency",
                    "Value": 180.0,
                    "Timestamp": at,
                    "Dimensions": dims,
                },
            ],
        )
        ops = [{"Name": "EventBusName", "Value": "prod"}, {"Name": "RuleName", "Value": "ops-alerts"}]
        cloudwatch.put_metric_data(
            Namespace="AWS/Events",
            MetricData=[{"MetricName": "Invocations", "Value": 3, "Timestamp": at, "Dimensions": ops}],
        )


def seed_dead_letters(url: str) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    for i in range(3):
        event = {
            "version": "0",
            "id": f"evt-{i}",
            "detail-type": "PaymentFailed",
            "source": "verticals.payments",
            "account": "123456789012",
            "time": "2026-03-14T09:30:00Z",
            "region": REGION,
            "resources": [],
            "detail": {"order_id": f"o-{i}"},
        }
        attributes = {
            "ERROR_CODE": "SDK_CLIENT_ERROR",
            "ERROR_MESSAGE": "503 from crm",
            "RETRY_ATTEMPTS": "3",
            "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
            "RULE_ARN": RULE_ARN,
            "TARGET_ARN": "arn:aws:events:us-east-1:123456789012:api-destination/crm/x",
        }
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(event),
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )


@pytest.fixture
def aws_settings():
    with mock_aws():
        variant, _ = moto_variant(render_template(DEFINITION))
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(
            StackName="prod",
            TemplateBody=to_json(variant),
            Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
        )
        outputs = {
            o["OutputKey"]: o["OutputValue"]
            for o in cfn.describe_stacks(StackName="prod")["Stacks"][0]["Outputs"]
        }
        # moto drops the Glue and Athena resources, so their outputs: name them explicitly.
        yield (
            load_settings(
                {
                    "VERTICALS_BACKEND": "aws",
                    "VERTICALS_STACK": "prod",
                    "VERTICALS_REGION": REGION,
                    "VERTICALS_ATHENA_WORKGROUP": "prod",
                    "VERTICALS_ATHENA_DATABASE": "verticals",
                }
            ),
            outputs,
        )


@pytest.mark.dated
def test_delivery_health_on_the_aws_backend(aws_settings):
    settings, outputs = aws_settings
    now = NOW.replace(second=0, microsecond=0)
    seed_metrics(now)
    seed_dead_letters(outputs["DeadLetterQueueUrlCrmWebhookDlq"])

    parts = build_aws_parts(settings)
    ctx = Context(
        settings=settings,
        engine=parts.engine,
        metrics=parts.metrics,
        dead_letters=parts.dead_letters,
        backend="aws",
        location=parts.location,
        rules=parts.rules,
    )
    health = delivery_metrics(ctx, preset_range("24h", now))  # what the page loads: metrics, then letters

    crm = health.rules.set_index("rule").loc["crm-customer-signals"]
    assert (crm["invocations"], crm["failed"], crm["matched"]) == (95.0, 8.0, 95.0)
    assert crm["failure_rate"] == pytest.approx(8 / 95)
    assert crm["latency_ms"] == pytest.approx(180.0)
    assert health.rules.iloc[0]["rule"] == "crm-customer-signals"  # the worst rule first
    assert health.rules.set_index("rule").loc["ops-alerts"]["invocations"] == 9.0
    assert "lake-archive-orders-OrderPlaced" in set(
        health.rules["rule"]
    )  # a silent deployed rule still shows
    # The lake's streams are read by the names the template gives them, every one of them.
    named = [
        r["Properties"]["DeliveryStreamName"]["Fn::Sub"].replace("${AWS::StackName}", settings.stack)
        for r in render_template(DEFINITION)["Resources"].values()
        if r["Type"] == "AWS::KinesisFirehose::DeliveryStream"
    ]
    assert sorted(health.lake_streams["stream"]) == sorted(named) and len(named) == 9
    assert not health.lake_failures  # no Firehose metric put: nothing failed
    letters = dead_letters(ctx)
    assert len(letters) == 3 and set(letters["queue"]) == {"crm-webhook-dlq"}
    assert set(letters["rule"]) == {"crm-customer-signals"} and set(letters["ERROR_MESSAGE"]) == {
        "503 from crm"
    }
    assert letters["RETRY_ATTEMPTS"].tolist() == [3, 3, 3]
    assert parts.location.startswith(f"s3://{outputs['LakeBucket']} (prod, us-east-1)")

    redriven = parts.dead_letters.redrive("crm-webhook-dlq", [letters.iloc[0]["message_id"]])
    assert redriven.sent == [letters.iloc[0]["message_id"]] and not redriven.failed
    assert len(parts.dead_letters.peek("crm-webhook-dlq")) == 2


def test_dead_letter_queues_are_found_by_name_without_a_stack(aws_settings):
    settings, outputs = aws_settings
    explicit = settings.replace(stack="", lake_bucket=outputs["LakeBucket"], bus_name="prod")
    parts = build_aws_parts(explicit)
    assert parts.dead_letters.queues() == list(DEFINITION.dead_letter_queues)


def test_a_missing_stack_is_one_sentence(aws_settings):
    settings, _ = aws_settings
    with pytest.raises(AwsError, match="The CloudFormation stack nope does not exist in us-east-1"):
        build_aws_parts(settings.replace(stack="nope"))


def test_deployed_rule_names_include_the_lake_fan_out():
    names = deployed_rule_names(DEFINITION)
    assert names[:2] == ("lake-archive", "lake-archive-orders-OrderPlaced")
    assert {r.name for r in DEFINITION.rules} < set(names)
    assert len(names) == len(DEFINITION.rules) + sum(len(t.detail_types) for t in ENTITY_TABLES)
