"""The template's IAM roles: Firehose's, EventBridge's (targets) and the dashboard's."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.bus.definition import BusDefinition
from app.infra.cfn import ARN, NO_VALUE, allow, get_att, if_, policy, ref, sub
from app.infra.lake import stream_id
from app.infra.rules import endpoints_used, queue_id
from app.lake.rollup_sql import ROLLUPS_PREFIX
from app.lake.tables import Table
from app.stack_names import logical_id

# --- roles ----------------------------------------------------------------------------------


EVENTS = f"{ARN}:events:${{AWS::Region}}:${{AWS::AccountId}}"


def _service_role(service: str, statements: list[dict[str, Any]], description: str) -> dict[str, Any]:
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
        }
    )
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": description,
            "AssumeRolePolicyDocument": trust,
            "Policies": [{"PolicyName": "least-privilege", "PolicyDocument": policy(*statements)}],
        },
    }


def _lake_arn(suffix: str = "") -> dict[str, Any]:
    return sub("${LakeBucket.Arn}" + suffix)


def _glue_arns(tables: Iterable[Table]) -> list[Any]:
    base = f"{ARN}:glue:${{AWS::Region}}:${{AWS::AccountId}}"
    return [sub(f"{base}:catalog"), sub(f"{base}:database/${{GlueDatabase}}")] + [
        sub(f"{base}:table/${{GlueDatabase}}/{t.name}") for t in tables
    ]


def firehose_role(tables: Iterable[Table]) -> dict[str, Any]:
    tables = list(tables)
    return _service_role(
        "firehose.amazonaws.com",
        [
            allow(
                [
                    "s3:AbortMultipartUpload",
                    "s3:GetBucketLocation",
                    "s3:GetObject",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                    "s3:PutObject",
                ],
                [_lake_arn()]
                + [_lake_arn(f"/{t.name}/*") for t in tables]
                + [_lake_arn("/_firehose_errors/*")],
                "WriteLakeTables",
            ),
            allow(
                ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                _glue_arns(tables),
                "ReadSchemas",
            ),
            allow(["logs:PutLogEvents"], sub("${FirehoseLogGroup.Arn}"), "Log"),
        ],
        "Firehose writes Parquet into the lake tables' prefixes.",
    )


def eventbridge_role(tables: Iterable[Table], definition: BusDefinition) -> dict[str, Any]:
    statements = [
        allow(
            ["firehose:PutRecord", "firehose:PutRecordBatch"],
            [get_att(stream_id(t), "Arn") for t in tables],
            "PutIntoLake",
        )
    ]
    apis = endpoints_used(definition)
    if apis:
        statements.append(
            allow(
                ["events:InvokeApiDestination"],
                # The ARN with its id, and the name-only one CloudFormation's ArnForPolicy
                # gives "to be used in IAM policies" (Ref is the destination's name):
                # which of the two IAM checks is not documented (docs/aws.md).
                [
                    arn
                    for a in apis
                    for arn in (
                        get_att(logical_id("ApiDestination", a), "Arn"),
                        sub(f"{EVENTS}:api-destination/${{{logical_id('ApiDestination', a)}}}"),
                    )
                ],
                "CallConsumers",
            )
        )
    return _service_role(
        "events.amazonaws.com", statements, "EventBridge delivers to the lake and HTTP consumers."
    )


def dashboard_role(
    definition: BusDefinition, tables: Iterable[Table], rollups: Iterable[Table] = ()
) -> dict[str, Any]:
    """What the app needs and nothing else: read-only on the lake and its metadata, write
    only under the results prefix and the rollups' (Athena's INSERT INTO a closed day's
    rollups, its markers: app/engines/athena_rollups.py), read the metrics, the DLQs and the
    stack's outputs, append to and read the audit trail's log group."""
    rollups = list(rollups)
    dlqs = [get_att(queue_id(q), "Arn") for q in definition.dead_letter_queues]
    workgroup = sub(f"{ARN}:athena:${{AWS::Region}}:${{AWS::AccountId}}:workgroup/${{AthenaWorkGroup}}")
    statements = [
        allow(
            [
                "athena:StartQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:StopQueryExecution",
                "athena:GetWorkGroup",
            ],
            workgroup,
            "RunQueries",
        ),
        allow(
            ["athena:ListTableMetadata", "athena:GetTableMetadata"],
            sub(f"{ARN}:athena:${{AWS::Region}}:${{AWS::AccountId}}:datacatalog/AwsDataCatalog"),
            "ListTables",
        ),
        allow(
            [
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:GetPartition",
                "glue:GetPartitions",
            ],
            _glue_arns([*tables, *rollups]),
            "ReadSchemas",
        ),
        allow(["s3:GetObject"], _lake_arn("/*"), "ReadLake"),
        allow(
            ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            _lake_arn(f"/{ROLLUPS_PREFIX}/*"),
            "WriteRollups",
        ),
        allow(
            ["glue:BatchCreatePartition", "glue:CreatePartition", "glue:UpdatePartition"],
            _glue_arns(rollups),
            "AddRollupPartitions",
        ),
        allow(
            ["s3:ListBucket", "s3:GetBucketLocation"],
            [_lake_arn(), sub("${ResultsBucket.Arn}")],
            "ListBuckets",
        ),
        allow(
            ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            sub("${ResultsBucket.Arn}/results/*"),
            "WriteOwnResults",
        ),
        allow(["cloudwatch:GetMetricData"], "*", "ReadMetrics"),  # no resource-level
        allow(
            [
                "sqs:ReceiveMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
            ],
            dlqs,
            "PeekDeadLetters",
        ),
        allow(["cloudformation:DescribeStacks"], ref("AWS::StackId"), "ReadOutputs"),
        # The audit trail (app/aws/audit_logs.py): append to its group, and read it back.
        allow(["logs:CreateLogStream", "logs:PutLogEvents"], sub("${AuditLogGroup.Arn}"), "AuditWrite"),
        allow(["logs:FilterLogEvents"], sub("${AuditLogGroup.Arn}"), "AuditRead"),
        if_("CanRedrive", allow(["events:PutEvents"], get_att("EventBus", "Arn"), "RedrivePut"), NO_VALUE),
        if_("CanRedrive", allow(["sqs:DeleteMessage"], dlqs, "RedriveDelete"), NO_VALUE),
    ]
    principal = if_(
        "HasTrustedPrincipal",
        ref("DashboardTrustedPrincipalArn"),
        sub(f"{ARN}:iam::${{AWS::AccountId}}:root"),
    )
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "The Verticals dashboard: read-only lake, own query results, metrics, DLQ peek, "
            "audit trail.",
            "MaxSessionDuration": 3600,
            "AssumeRolePolicyDocument": policy(
                {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
            ),
            "Policies": [{"PolicyName": "dashboard", "PolicyDocument": policy(*statements)}],
        },
    }
