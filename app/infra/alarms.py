"""Alarms on failed invocations per rule and on DLQ depth, and the SNS topic they notify."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.bus.definition import BusDefinition
from app.infra.cfn import get_att, ref
from app.infra.rules import queue_id
from app.metrics.names import NAMESPACE, EventsMetric
from app.stack_names import logical_id

# --- alarms ---------------------------------------------------------------------------------


def _alarm(
    description: str, namespace: str, metric: str, dimensions: list[dict[str, Any]], statistic: str
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
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [ref("AlarmTopic")],
            "OKActions": [ref("AlarmTopic")],
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
                [{"Name": "EventBusName", "Value": definition.bus}, {"Name": "RuleName", "Value": name}],
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
    out["AlarmTopic"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"DisplayName": "Verticals alarms", "KmsMasterKeyId": "alias/aws/sns"},
    }
    out["AlarmEmailSubscription"] = {
        "Type": "AWS::SNS::Subscription",
        "Condition": "HasAlarmEmail",
        "Properties": {"TopicArn": ref("AlarmTopic"), "Protocol": "email", "Endpoint": ref("AlarmEmail")},
    }
    return out
