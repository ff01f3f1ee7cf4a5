"""The stack's outputs point the app at its resources (moto's CreateStack computes outputs;
its change-set path does not), and destroy keeps the lake bucket."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from app.aws.errors import AwsError
from app.aws.session import resources_from
from app.bus.definition import load_definition
from app.infra.deploy import destroy
from app.infra.render import render_template, to_json
from app.settings import load_settings
from tests.aws.cfn_moto import REGION, moto_variant

DEFINITION = load_definition()
PARAMETERS = {
    "CrmWebhookApiKey": "k1",
    "AttributionApiApiKey": "k2",
    "CrmWebhookUrl": "https://crm.example.com/e",
    "AttributionApiUrl": "https://marketing.example.com/a",
}


def test_outputs_point_the_app_at_the_stack():
    with mock_aws():
        variant, _ = moto_variant(render_template(DEFINITION))
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(
            StackName="outputs",
            TemplateBody=to_json(variant),
            Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
        )
        outputs = {
            o["OutputKey"]: o["OutputValue"]
            for o in cfn.describe_stacks(StackName="outputs")["Stacks"][0]["Outputs"]
        }
        settings = load_settings({"VERTICALS_STACK": "outputs"})
        with pytest.raises(AwsError, match="VERTICALS_ATHENA_WORKGROUP, VERTICALS_ATHENA_DATABASE"):
            resources_from(
                settings, outputs, list(DEFINITION.dead_letter_queues)
            )  # moto dropped those outputs
        explicit = settings.replace(athena_workgroup="outputs", athena_database="verticals")
        resources = resources_from(explicit, outputs, list(DEFINITION.dead_letter_queues))
        assert (
            resources.lake_bucket == outputs["LakeBucket"] and resources.bus_name == "outputs"
        )  # named after the stack
        assert set(resources.dead_letter_queue_urls) == set(DEFINITION.dead_letter_queues)
        sqs = boto3.client("sqs", region_name=REGION)
        for name, url in resources.dead_letter_queue_urls.items():
            assert sqs.get_queue_url(QueueName=f"outputs-{name}")["QueueUrl"] == url
        assert destroy(cfn, "outputs", sleep=lambda s: None) == "DELETE_COMPLETE"
        assert s3_bucket_exists(outputs["LakeBucket"])  # retained


def s3_bucket_exists(name: str) -> bool:
    return name in {b["Name"] for b in boto3.client("s3", region_name=REGION).list_buckets()["Buckets"]}
