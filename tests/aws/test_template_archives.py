"""The definition's archives in the CloudFormation template."""

from __future__ import annotations

import pytest

from app.bus.definition import parse_definition
from app.infra.render import archive_resources

BUS_ARN = {"Fn::GetAtt": ["EventBus", "Arn"]}


@pytest.mark.parametrize(
    ("raw", "resources"),
    [
        pytest.param(
            {
                "name": "verticals-all",
                "description": "All.",
                "pattern": {"source": [{"prefix": "verticals."}]},
                "retention_days": 365,
            },
            {
                "ArchiveVerticalsAll": {
                    "Type": "AWS::Events::Archive",
                    "Properties": {
                        "ArchiveName": {"Fn::Sub": "${AWS::StackName}-verticals-all"},
                        "Description": "All.",
                        "SourceArn": BUS_ARN,
                        "EventPattern": {"source": [{"prefix": "verticals."}]},
                        "RetentionDays": 365,
                    },
                }
            },
            id="every-property",
        ),
        pytest.param(
            {"name": "everything"},
            {
                "ArchiveEverything": {
                    "Type": "AWS::Events::Archive",
                    "Properties": {
                        "ArchiveName": {"Fn::Sub": "${AWS::StackName}-everything"},
                        "SourceArn": BUS_ARN,
                        "RetentionDays": 0,
                    },
                }
            },
            id="no-pattern-kept-for-ever",
        ),
    ],
)
def test_archive_resources(raw, resources):
    definition = parse_definition({"bus": "b", "rules": [], "archives": [raw]})
    assert archive_resources(definition) == resources
