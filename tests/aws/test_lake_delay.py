"""The app learns how far behind the lake is from the stack's FirehoseBufferSeconds."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from app.aws.session import DEFAULT_BUFFER_S, firehose_buffer_s, make_session, resolve_resources
from app.bus.definition import load_definition
from app.infra.parameters import parameters
from app.infra.render import render_template, to_json
from app.settings import load_settings
from tests.aws.cfn_moto import REGION, moto_variant
from tests.aws.test_stack_outputs_moto import PARAMETERS

DEFINITION = load_definition()


def test_the_default_is_the_templates():
    assert parameters(DEFINITION)["FirehoseBufferSeconds"]["Default"] == DEFAULT_BUFFER_S


@pytest.mark.parametrize(
    ("listed", "seconds"),
    [
        pytest.param([{"ParameterKey": "FirehoseBufferSeconds", "ParameterValue": "60"}], 60, id="set"),
        pytest.param([{"ParameterKey": "AlarmEmail", "ParameterValue": ""}], DEFAULT_BUFFER_S, id="absent"),
        pytest.param(
            [{"ParameterKey": "FirehoseBufferSeconds", "ParameterValue": "x"}], DEFAULT_BUFFER_S, id="odd"
        ),
    ],
)
def test_firehose_buffer_s(listed, seconds):
    assert firehose_buffer_s({"Parameters": listed}) == seconds


@pytest.mark.parametrize(("given", "seconds"), [({"FirehoseBufferSeconds": "120"}, 180), ({}, 450)])
def test_resolved_resources_carry_the_stacks_buffer(given, seconds, monkeypatch):
    """The lake may be 1.5 buffer intervals behind: Firehose's multi-stage buffering with
    dynamic partitioning (its buffering.html); 300 s is the template's default."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        variant, _ = moto_variant(render_template(DEFINITION))
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName="delay",
            TemplateBody=to_json(variant),
            Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in {**PARAMETERS, **given}.items()],
        )
        settings = load_settings(
            {
                "VERTICALS_STACK": "delay",
                "VERTICALS_REGION": REGION,
                "VERTICALS_ATHENA_WORKGROUP": "delay",  # moto drops the workgroup and the database
                "VERTICALS_ATHENA_DATABASE": "delay",
            }
        )
        resources = resolve_resources(settings, make_session(settings), list(DEFINITION.dead_letter_queues))
    assert resources.lake_delay_s == seconds
