"""Alarms on failed invocations per rule, on DLQ depth and on each lake stream's delivery
(freshness, S3 delivery success, Parquet conversion failures), and the SNS topic they
notify, encrypted with a key of its own whose policy lets CloudWatch use it: an alarm
cannot publish to a topic under the AWS managed key ``alias/aws/sns``, whose policy does
not let CloudWatch use it
(https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.bus.definition import BusDefinition
from app.infra.cfn import ARN, get_att, policy, ref, sub
from app.infra.rules import queue_id
from app.metrics.names import NAMESPACE, EventsMetric
from app.stack_names import logical_id

FIREHOSE = "AWS/Firehose"

# --- alarms ---------------------------------------------------------------------------------


def _alarm(
    description: str,
    namespace: str,
    metric: str,
    dimensions: list[dict[str, Any]],
    statistic: str,
    *,
    threshold: float = 0,
    comparison: str = "GreaterThanThreshold",
) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": dimensions,
            "Statistic": statistic,
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": threshold,
            "ComparisonOperator": comparison,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [ref("AlarmTopic")],
            "OKActions": [ref("AlarmTopic")],
        },
    }


# Firehose's buffer is at most 900 s; a record older than twice that is stuck
# (https://docs.aws.amazon.com/firehose/latest/dev/firehose-cloudwatch-metrics-best-practices.html).
FRESHNESS_LIMIT_S = 1800


def stream_alarms(stream_id: str, table: str) -> dict[str, Any]:
    """Per lake stream (namespace AWS/Firehose, dimension DeliveryStreamName): records
    waiting too long, failed S3 writes, records the Parquet conversion rejected (they go to
    ``_firehose_errors/<table>/format-conversion-failed/``), and more active partitions than
    the stream may buffer (``PartitionCountExceeded``, 1 while over: the rest of the records
    go to ``_firehose_errors/<table>/activePartitionExceeded/``, as a replay of months of
    history at once can cause; https://docs.aws.amazon.com/firehose/latest/dev/buffering.html)."""
    dims = [{"Name": "DeliveryStreamName", "Value": ref(stream_id)}]
    return {
        logical_id("Alarm", stream_id, "Freshness"): _alarm(
            f"Lake table {table}: records have waited in Firehose longer than {FRESHNESS_LIMIT_S} s.",
            FIREHOSE,
            "DeliveryToS3.DataFreshness",
            dims,
            "Maximum",
            threshold=FRESHNESS_LIMIT_S,
        ),
        logical_id("Alarm", stream_id, "S3Delivery"): _alarm(
            f"Lake table {table}: Firehose failed to write to S3.",
            FIREHOSE,
            "DeliveryToS3.Success",
            dims,
            "Minimum",
            threshold=1,
            comparison="LessThanThreshold",
        ),
        logical_id("Alarm", stream_id, "Conversion"): _alarm(
            f"Lake table {table}: records failed the Parquet conversion (see _firehose_errors/{table}/).",
            FIREHOSE,
            "FailedConversion.Records",
            dims,
            "Sum",
        ),
        logical_id("Alarm", stream_id, "Partitions"): _alarm(
            f"Lake table {table}: more active partitions than the stream's limit; records went to "
            f"_firehose_errors/{table}/activePartitionExceeded/ (replay in slices, or raise the quota).",
            FIREHOSE,
            "PartitionCountExceeded",
            dims,
            "Maximum",
        ),
    }


def alarm_key() -> dict[str, Any]:
    """The alarm topic's key: the account administers it, CloudWatch may encrypt with it."""
    return {
        "Type": "AWS::KMS::Key",
        "UpdateReplacePolicy": "Retain",
        "DeletionPolicy": "Delete",
        "Properties": {
            "Description": sub("${AWS::StackName}: encrypts the alarm topic; CloudWatch may use it."),
            "EnableKeyRotation": True,
            "PendingWindowInDays": 7,
            "KeyPolicy": policy(
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": sub(f"{ARN}:iam::${{AWS::AccountId}}:root")},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchAlarmsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                },
            ),
        },
    }


def alarms(resources: Mapping[str, Any], definition: BusDefinition) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rid, resource in resources.items():
        if resource["Type"] == "AWS::Events::Rule":
            name = resource["Properties"]["Name"]
            out[logical_id("Alarm", rid, "Failed")] = _alarm(
                f"Rule {name}: deliveries failed after all retries.",
                NAMESPACE,
                EventsMetric.FAILED_INVOCATIONS,
                [
                    {"Name": "EventBusName", "Value": get_att("EventBus", "Name")},
                    {"Name": "RuleName", "Value": name},
                ],
                "Sum",
            )
    for dlq in definition.dead_letter_queues:
        out[logical_id("Alarm", dlq, "Depth")] = _alarm(
            f"Dead letters are waiting in {dlq}.",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            [{"Name": "QueueName", "Value": get_att(queue_id(dlq), "QueueName")}],
            "Maximum",
        )
    for rid, resource in resources.items():
        if resource["Type"] == "AWS::KinesisFirehose::DeliveryStream":
            table = resource["Properties"]["ExtendedS3DestinationConfiguration"]["Prefix"].split("/")[0]
            out.update(stream_alarms(rid, table))
    out["AlarmKey"] = alarm_key()
    out["AlarmTopic"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"DisplayName": "Verticals alarms", "KmsMasterKeyId": ref("AlarmKey")},
    }
    out["AlarmEmailSubscription"] = {
        "Type": "AWS::SNS::Subscription",
        "Condition": "HasAlarmEmail",
        "Properties": {"TopicArn": ref("AlarmTopic"), "Protocol": "email", "Endpoint": ref("AlarmEmail")},
    }
    return out
