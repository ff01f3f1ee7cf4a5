"""The lake in the template: the buckets, the Glue database and tables (partition
projection), the Athena workgroup, and the Firehose streams that write each table (what
their records look like: :mod:`app.infra.records`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.departments import SOURCES
from app.infra.cfn import NO_VALUE, get_att, if_, policy, ref, sub
from app.infra.records import deserializer
from app.lake.rollup_sql import rollup_prefix
from app.lake.tables import Table
from app.stack_names import logical_id

# --- the lake: buckets, Glue, Athena -----------------------------------------------------


def _bucket_basics() -> dict[str, Any]:
    return {
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
            ]
        },
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    }


def tls_only(bucket: str) -> dict[str, Any]:
    arn = get_att(bucket, "Arn")
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": ref(bucket),
            "PolicyDocument": policy(
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, {"Fn::Join": ["", [arn, "/*"]]}],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ),
        },
    }


def lake_bucket() -> dict[str, Any]:
    # Nothing expires: the records Firehose could not convert (``_firehose_errors/``) are
    # kept as long as the lake, so that they can be repaired and loaded later.
    lifecycle = {
        "Rules": [
            {
                "Id": "cheaper-classes",
                "Status": "Enabled",
                "Transitions": [
                    {"StorageClass": "STANDARD_IA", "TransitionInDays": ref("LakeInfrequentAccessDays")},
                    {
                        "StorageClass": "GLACIER_IR",
                        "TransitionInDays": ref("LakeGlacierInstantRetrievalDays"),
                    },
                ],
            },
            {
                "Id": "old-versions",
                "Status": "Enabled",
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            },
        ]
    }
    lock = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": ref("ObjectLockMode"), "Days": ref("ObjectLockRetentionDays")}},
    }
    return {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            **_bucket_basics(),
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": lifecycle,
            "ObjectLockEnabled": if_("ObjectLockOn", True, NO_VALUE),
            "ObjectLockConfiguration": if_("ObjectLockOn", lock, NO_VALUE),
        },
    }


def results_bucket() -> dict[str, Any]:
    lifecycle = {
        "Rules": [
            {
                "Id": "expire-results",
                "Status": "Enabled",
                "ExpirationInDays": ref("AthenaResultsRetentionDays"),
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            }
        ]
    }
    return {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {**_bucket_basics(), "LifecycleConfiguration": lifecycle},
    }


def _table_location(table: Table) -> str:
    """A lake table at ``<table>/``; a rollup table (app/lake/rollups.py) at its own
    ``rollups/<table>/``, apart from what Firehose writes."""
    return f"s3://${{LakeBucket}}/{rollup_prefix(table) or table.name + '/'}"


def projection(table: Table) -> dict[str, Any]:
    """Partition projection: Athena computes partitions, no crawler and no MSCK
    (https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html)."""
    props: dict[str, Any] = {
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": sub("${LakeStartDate},NOW"),
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
    }
    if "source" in table.partitions:
        props["projection.source.type"] = "enum"
        props["projection.source.values"] = ",".join(SOURCES)
    keys = "/".join(f"{p}=${{!{p}}}" for p in table.partitions)
    props["storage.location.template"] = sub(_table_location(table) + keys + "/")
    return props


def glue_table(table: Table) -> dict[str, Any]:
    return {
        "Type": "AWS::Glue::Table",
        "Properties": {
            "CatalogId": ref("AWS::AccountId"),
            "DatabaseName": ref("GlueDatabase"),
            "TableInput": {
                "Name": table.name,
                "Description": table.doc,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", **projection(table)},
                "PartitionKeys": [{"Name": p, "Type": "string"} for p in table.partitions],
                "StorageDescriptor": {
                    "Location": sub(_table_location(table)),
                    "Columns": [
                        {"Name": c.name, "Type": c.type, **({"Comment": c.doc} if c.doc else {})}
                        for c in table.columns
                    ],
                    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    "SerdeInfo": {
                        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                        "Parameters": {"serialization.format": "1"},
                    },
                },
            },
        },
    }


def glue_resources(tables: Iterable[Table]) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "GlueDatabase": {
            "Type": "AWS::Glue::Database",
            "Properties": {
                "CatalogId": ref("AWS::AccountId"),
                "DatabaseInput": {
                    "Name": if_(
                        "HasGlueDatabaseName",
                        ref("GlueDatabaseName"),
                        {"Fn::Join": ["_", {"Fn::Split": ["-", ref("AWS::StackName")]}]},
                    ),
                    "Description": "The Verticals event lake.",
                },
            },
        }
    }
    for table in tables:
        resources[logical_id("Table", table.name)] = glue_table(table)
    return resources


def athena_workgroup() -> dict[str, Any]:
    return {
        "Type": "AWS::Athena::WorkGroup",
        "Properties": {
            "Name": ref("AWS::StackName"),
            "State": "ENABLED",
            "RecursiveDeleteOption": True,
            "Description": "Verticals dashboard queries: settings enforced, scan cutoff, results expire.",
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "PublishCloudWatchMetricsEnabled": True,
                "BytesScannedCutoffPerQuery": ref("BytesScannedCutoffPerQuery"),
                "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
                "ResultConfiguration": {
                    "OutputLocation": sub("s3://${ResultsBucket}/results/"),
                    "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                    "ExpectedBucketOwner": ref("AWS::AccountId"),
                },
            },
        },
    }


# --- lake delivery: Firehose streams and the rules that feed them ------------------------


def stream_id(table: Table) -> str:
    return logical_id("LakeStream", table.name)


def delivery_stream(table: Table) -> dict[str, Any]:
    """Firehose → Parquet in S3, partitioned by ``dt`` (and ``source``) taken from each record
    (https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning.html)."""
    keys = {p: f".{'time[0:10]' if p == 'dt' else p}" for p in table.partitions}
    query = "{" + ",".join(f"{p}:{path}" for p, path in keys.items()) + "}"
    prefix = "".join(f"{p}=!{{partitionKeyFromQuery:{p}}}/" for p in table.partitions)
    return {
        "Type": "AWS::KinesisFirehose::DeliveryStream",
        "Properties": {
            "DeliveryStreamName": sub(f"${{AWS::StackName}}-{table.name}"),
            "DeliveryStreamType": "DirectPut",
            "DeliveryStreamEncryptionConfigurationInput": {"KeyType": "AWS_OWNED_CMK"},
            "ExtendedS3DestinationConfiguration": {
                "BucketARN": get_att("LakeBucket", "Arn"),
                "RoleARN": get_att("FirehoseRole", "Arn"),
                "Prefix": f"{table.name}/{prefix}",
                "ErrorOutputPrefix": f"_firehose_errors/{table.name}/!{{firehose:error-output-type}}/"
                "!{timestamp:yyyy-MM-dd}/",
                # Format conversion needs >= 64 MB buffers; Parquet is compressed by the serializer.
                "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": ref("FirehoseBufferSeconds")},
                "CompressionFormat": "UNCOMPRESSED",
                "DynamicPartitioningConfiguration": {
                    "Enabled": True,
                    "RetryOptions": {"DurationInSeconds": 300},
                },
                "ProcessingConfiguration": {
                    "Enabled": True,
                    "Processors": [
                        {
                            "Type": "MetadataExtraction",
                            "Parameters": [
                                {"ParameterName": "MetadataExtractionQuery", "ParameterValue": query},
                                {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                            ],
                        }
                    ],
                },
                "DataFormatConversionConfiguration": {
                    "Enabled": True,
                    "InputFormatConfiguration": {"Deserializer": deserializer(table)},
                    "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}},
                    "SchemaConfiguration": {
                        "DatabaseName": ref("GlueDatabase"),
                        "TableName": ref(logical_id("Table", table.name)),
                        "RoleARN": get_att("FirehoseRole", "Arn"),
                        "Region": ref("AWS::Region"),
                        "CatalogId": ref("AWS::AccountId"),
                        "VersionId": "LATEST",
                    },
                },
                "CloudWatchLoggingOptions": {
                    "Enabled": True,
                    "LogGroupName": ref("FirehoseLogGroup"),
                    "LogStreamName": table.name,
                },
            },
        },
    }
