"""The template's parameters (one URL and API key per HTTP endpoint) and conditions."""

from __future__ import annotations

from typing import Any

from app.bus.definition import BusDefinition
from app.infra.cfn import ref
from app.stack_names import logical_id

# --- parameters and conditions ---------------------------------------------------------


def parameters(definition: BusDefinition) -> dict[str, Any]:
    params: dict[str, Any] = {
        "GlueDatabaseName": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^[a-z0-9_]{0,64}$",
            "Description": "Glue database of the lake tables (empty: the stack name, - as _).",
        },
        "LakeStartDate": {
            "Type": "String",
            "Default": "2024-01-01",
            "AllowedPattern": r"^\d{4}-\d{2}-\d{2}$",
            "Description": "First day partition projection enumerates (dt range is this to NOW).",
        },
        "BytesScannedCutoffPerQuery": {
            "Type": "Number",
            "Default": 10 * 1024**3,
            "MinValue": 10 * 1024**2,
            "Description": "Athena cancels a query that would scan more (bytes).",
        },
        "AthenaResultsRetentionDays": {
            "Type": "Number",
            "Default": 7,
            "MinValue": 1,
            "Description": "Days Athena results are kept.",
        },
        "LakeInfrequentAccessDays": {
            "Type": "Number",
            "Default": 90,
            "MinValue": 30,
            "Description": "Days before lake files move to S3 Standard-IA.",
        },
        "LakeGlacierInstantRetrievalDays": {
            "Type": "Number",
            "Default": 365,
            "MinValue": 90,
            "Description": "Days before lake files move to Glacier Instant "
            "Retrieval (still queryable by Athena).",
        },
        "ObjectLockRetentionDays": {
            "Type": "Number",
            "Default": 0,
            "MinValue": 0,
            "Description": "0: no Object Lock. Otherwise lake objects are write-once for "
            "this many days. Choose at the first deploy: Object Lock "
            "cannot be added to an existing bucket by this stack.",
        },
        "ObjectLockMode": {
            "Type": "String",
            "Default": "GOVERNANCE",
            "AllowedValues": ["GOVERNANCE", "COMPLIANCE"],
            "Description": "Object Lock retention mode (COMPLIANCE cannot be shortened by anyone).",
        },
        "ArchiveRetentionDays": {
            "Type": "Number",
            "Default": 90,
            "MinValue": 0,
            "Description": "Days the bus archive keeps events for replay (0: forever).",
        },
        "FirehoseBufferSeconds": {
            "Type": "Number",
            "Default": 300,
            "MinValue": 60,
            "MaxValue": 900,
            "Description": "Seconds Firehose buffers before writing a lake file.",
        },
        "AlarmEmail": {
            "Type": "String",
            "Default": "",
            "Description": "Address that alarms mail (empty: none).",
        },
        "DashboardTrustedPrincipalArn": {
            "Type": "String",
            "Default": "",
            "Description": "Who may assume the dashboard role (empty: this account).",
        },
        "DashboardCanRedrive": {
            "Type": "String",
            "Default": "false",
            "AllowedValues": ["true", "false"],
            "Description": "Let the dashboard role send dead letters back to the bus.",
        },
    }
    for endpoint in definition.endpoints.values():
        key = logical_id(endpoint.name)
        # API destinations take public HTTPS endpoints only; the local URL cannot be a default.
        params[f"{key}Url"] = {
            "Type": "String",
            "AllowedPattern": "^https://.+",
            "ConstraintDescription": "an HTTPS URL",
            "Description": f"HTTPS URL of {endpoint.name} (locally {endpoint.url}): {endpoint.description}",
        }
        params[f"{key}ApiKey"] = {
            "Type": "String",
            "NoEcho": True,
            "MinLength": 1,
            "Description": f"API key EventBridge sends to {endpoint.name} (x-api-key).",
        }
    return params


CONDITIONS = {
    "HasGlueDatabaseName": {"Fn::Not": [{"Fn::Equals": [ref("GlueDatabaseName"), ""]}]},
    "ObjectLockOn": {"Fn::Not": [{"Fn::Equals": [ref("ObjectLockRetentionDays"), 0]}]},
    "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]},
    "HasTrustedPrincipal": {"Fn::Not": [{"Fn::Equals": [ref("DashboardTrustedPrincipalArn"), ""]}]},
    "CanRedrive": {"Fn::Equals": [ref("DashboardCanRedrive"), "true"]},
}
