"""Deploying the rendered template to moto, honestly.

moto's CloudFormation creates only the resource types it implements (no Glue, Athena,
Firehose, QueuePolicy, BucketPolicy, Alarm, Connection, ApiDestination, LogStream, SNS
Subscription), fails on the references to the others, and a rule with a Firehose target
makes moto answer HTTP 500 (../shared/STACK-NOTES.md). moto also ignores the condition of
a bucket policy's Deny, so the TLS-only bucket policies are not applied here. So:

- :func:`moto_variant` drops the resource types moto lacks and every list element
  (a rule target, a policy statement or resource, an output) that refers to one, and says
  what it dropped;
- :class:`Resolver` evaluates the template's own intrinsic functions against the deployed
  stack, so that tests can create the dropped Glue tables, Athena workgroup and Firehose
  streams through their APIs with the template's exact properties (botocore validates
  their shape against the service model; moto stores them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"
_SUB_VAR = re.compile(r"\$\{(?!!)([A-Za-z0-9:.]+)\}")


def moto_supported_types() -> set[str]:
    from moto.cloudformation.parsing import get_model_map

    return set(get_model_map())


def references(node: Any) -> set[str]:
    """Logical names a template fragment refers to (Ref, GetAtt, Sub variables)."""
    if isinstance(node, list):
        return set().union(*(references(n) for n in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    if "Ref" in node and len(node) == 1:
        return {node["Ref"]}
    if "Fn::GetAtt" in node and len(node) == 1:
        return {node["Fn::GetAtt"][0]}
    if "Fn::Sub" in node and len(node) == 1:
        text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
        return {name.split(".")[0] for name in _SUB_VAR.findall(text)}
    return set().union(*(references(v) for v in node.values())) if node else set()


def _prune(node: Any, dropped: set[str]) -> Any:
    if isinstance(node, list):
        return [_prune(item, dropped) for item in node if not references(item) & dropped]
    if isinstance(node, dict):
        return {key: _prune(value, dropped) for key, value in node.items()}
    return node


def moto_variant(template: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The template without what moto cannot create, and {logical id: type} of what went."""
    supported = moto_supported_types()
    dropped = {rid: r["Type"] for rid, r in template["Resources"].items() if r["Type"] not in supported}
    resources = {
        rid: _moto_archive_pattern(_prune(r, set(dropped)))
        for rid, r in template["Resources"].items()
        if rid not in dropped
    }
    outputs = {key: out for key, out in template["Outputs"].items() if not references(out) & set(dropped)}
    return {**template, "Resources": resources, "Outputs": outputs}, dropped


def _moto_archive_pattern(resource: dict[str, Any]) -> dict[str, Any]:
    """moto 5.2 json.loads an AWS::Events::Archive's EventPattern, so it takes only the
    string form of this Json property (CloudFormation takes the object, as the template has it)."""
    pattern = resource.get("Properties", {}).get("EventPattern")
    if resource["Type"] != "AWS::Events::Archive" or not isinstance(pattern, dict):
        return resource
    return {**resource, "Properties": {**resource["Properties"], "EventPattern": json.dumps(pattern)}}


class Resolver:
    """Evaluates Ref / GetAtt / Sub / Join / If of the template against a deployed stack."""

    def __init__(self, template: Mapping[str, Any], stack: str, parameters: Mapping[str, Any]):
        self.template = template
        self.cfn = boto3.client("cloudformation", region_name=REGION)
        summaries = self.cfn.describe_stack_resources(StackName=stack)["StackResources"]
        self.physical = {
            r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries if r.get("PhysicalResourceId")
        }
        self.arns: dict[str, str] = {}
        defaults = {k: v.get("Default") for k, v in template["Parameters"].items()}
        self.values: dict[str, Any] = {
            **defaults,
            **parameters,
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::StackName": stack,
            "AWS::NoValue": None,
        }

    def add(self, logical: str, physical: str, arn: str | None = None) -> None:
        """A resource the test created itself (for Refs and GetAtt Arn to it)."""
        self.physical[logical] = physical
        if arn:
            self.arns[logical] = arn

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        return self.physical[name]

    def get_att(self, name: str, attribute: str) -> str:
        if attribute == "Arn" and name in self.arns:
            return self.arns[name]
        kind = self.template["Resources"][name]["Type"]
        if kind == "AWS::Events::Rule" and attribute == "Arn":
            return boto3.client("events", region_name=REGION).describe_rule(
                Name=self.template["Resources"][name]["Properties"]["Name"], EventBusName=self.ref_bus()
            )["Arn"]
        if kind == "AWS::Events::EventBus" and attribute in ("Arn", "Name"):
            bus = self.ref_bus()
            return bus if attribute == "Name" else f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
        physical = self.physical[name]
        if kind == "AWS::SQS::Queue" and attribute in ("Arn", "QueueName"):
            key = {"Arn": "QueueArn", "QueueName": "QueueArn"}[attribute]
            arn = boto3.client("sqs", region_name=REGION).get_queue_attributes(
                QueueUrl=physical, AttributeNames=[key]
            )["Attributes"][key]
            return arn if attribute == "Arn" else arn.rsplit(":", 1)[-1]
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{physical}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{physical}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{physical}:*",
        }
        if attribute != "Arn" or kind not in arns:
            raise KeyError(f"{name}.{attribute} ({kind}) is not resolved by this test helper")
        return arns[kind]

    def ref_bus(self) -> str:
        return self.resolve(self.template["Resources"]["EventBus"]["Properties"]["Name"])

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(n) for n in node) if v is not None]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            handler = {
                "Ref": self.ref,
                "Fn::GetAtt": lambda a: self.get_att(*a),
                "Fn::Sub": self._sub,
                "Fn::Join": lambda a: a[0].join(str(x) for x in self.resolve(a[1])),
                "Fn::Split": lambda a: self.resolve(a[1]).split(a[0]),
                "Fn::If": lambda a: self.resolve(a[1] if self.condition(a[0]) else a[2]),
                "Fn::Not": lambda a: not self.resolve(a[0]),
                "Fn::Equals": lambda a: str(self.resolve(a[0])) == str(self.resolve(a[1])),
            }.get(key)
            if handler:
                return handler(arg)
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not None}

    def _sub(self, text: str) -> str:
        def value(match: re.Match) -> str:
            name, _, attribute = match.group(1).partition(".")
            return str(self.get_att(name, attribute) if attribute else self.ref(name))

        return _SUB_VAR.sub(value, text).replace("${!", "${")


def _create_glue(resolver: Resolver, resources: Mapping[str, Any]) -> None:
    glue = boto3.client("glue", region_name=REGION)
    database = resolver.resolve(resources["GlueDatabase"]["Properties"]["DatabaseInput"])
    glue.create_database(DatabaseInput=database)
    resolver.add("GlueDatabase", database["Name"])
    for rid, resource in resources.items():
        if resource["Type"] == "AWS::Glue::Table":
            table = resolver.resolve(resource["Properties"]["TableInput"])
            glue.create_table(DatabaseName=database["Name"], TableInput=table)
            resolver.add(rid, table["Name"])


def _create_workgroup(resolver: Resolver, resource: Mapping[str, Any]) -> None:
    props = resolver.resolve(resource["Properties"])
    boto3.client("athena", region_name=REGION).create_work_group(
        Name=props["Name"], Configuration=props["WorkGroupConfiguration"], Description=props["Description"]
    )
    resolver.add("AthenaWorkGroup", props["Name"])


def _create_streams(resolver: Resolver, resources: Mapping[str, Any]) -> None:
    firehose = boto3.client("firehose", region_name=REGION)
    logs = boto3.client("logs", region_name=REGION)
    for rid, resource in resources.items():
        if resource["Type"] == "AWS::Logs::LogStream":
            props = resolver.resolve(resource["Properties"])
            logs.create_log_stream(logGroupName=props["LogGroupName"], logStreamName=props["LogStreamName"])
        if resource["Type"] == "AWS::KinesisFirehose::DeliveryStream":
            props = resolver.resolve(resource["Properties"])
            arn = firehose.create_delivery_stream(**props)["DeliveryStreamARN"]
            resolver.add(rid, props["DeliveryStreamName"], arn)


def _create_api_destinations(resolver: Resolver, resources: Mapping[str, Any]) -> None:
    events = boto3.client("events", region_name=REGION)
    for kind, create in (
        ("AWS::Events::Connection", events.create_connection),
        ("AWS::Events::ApiDestination", events.create_api_destination),
    ):
        for rid, resource in resources.items():
            if resource["Type"] == kind:
                arn_key = "ConnectionArn" if kind.endswith("Connection") else "ApiDestinationArn"
                arn = create(Name=rid, **resolver.resolve(resource["Properties"]))[arn_key]
                resolver.add(rid, rid, arn)


def _apply_dropped_targets(
    resolver: Resolver, resources: Mapping[str, Any], dropped: Mapping[str, str]
) -> list[str]:
    """put_targets for each rule target moto's CloudFormation skipped, except Firehose ones
    (moto answers a Firehose rule target with HTTP 500). Returns the skipped target ids."""
    events = boto3.client("events", region_name=REGION)
    skipped = []
    for resource in resources.values():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        props = resource["Properties"]
        for target in props["Targets"]:
            refs = references(target) & set(dropped)
            if not refs:
                continue
            if any(dropped[r] == "AWS::KinesisFirehose::DeliveryStream" for r in refs):
                skipped.append(f"{props['Name']}/{target['Id']}")
                continue
            events.put_targets(
                Rule=props["Name"], EventBusName=resolver.ref_bus(), Targets=[resolver.resolve(target)]
            )
    return skipped


def _apply_policies_and_alarms(resolver: Resolver, resources: Mapping[str, Any]) -> None:
    import json

    sqs = boto3.client("sqs", region_name=REGION)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for rid, resource in resources.items():
        # Bucket policies stay out: moto ignores the TLS-only Deny's condition and would
        # refuse every request (test_template.py checks the policy in the template).
        if resource["Type"] not in ("AWS::SQS::QueuePolicy", "AWS::CloudWatch::Alarm"):
            continue
        props = resolver.resolve(resource["Properties"])
        if resource["Type"] == "AWS::SQS::QueuePolicy":
            for url in props["Queues"]:
                sqs.set_queue_attributes(
                    QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
                )
        elif resource["Type"] == "AWS::CloudWatch::Alarm":
            cloudwatch.put_metric_alarm(AlarmName=rid, **props)


def apply_dropped(resolver: Resolver, dropped: Mapping[str, str]) -> list[str]:
    """Create what moto's CloudFormation skipped through each service's API, from the
    template's own properties. Returns the rule targets that still could not be created."""
    resources = resolver.template["Resources"]
    _create_glue(resolver, resources)
    _create_workgroup(resolver, resources["AthenaWorkGroup"])
    _create_streams(resolver, resources)
    _create_api_destinations(resolver, resources)
    skipped = _apply_dropped_targets(resolver, resources, dropped)
    _apply_policies_and_alarms(resolver, resources)
    return skipped


def create_stack(template: Mapping[str, Any], stack: str, parameters: Mapping[str, str]) -> Resolver:
    """The template on moto with CreateStack (which fills the outputs, unlike change sets),
    then what moto's CloudFormation skipped created through the services' APIs."""
    variant, dropped = moto_variant(template)
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=stack,
        TemplateBody=json.dumps(variant, separators=(",", ":")),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    resolver = Resolver(template, stack, parameters)
    apply_dropped(resolver, dropped)  # the Athena workgroup and the Glue database among them
    return resolver
