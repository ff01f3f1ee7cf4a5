"""Everything the services need from the aws backend, built from settings in one call.

``app.services.context.build_aws_context`` is meant to wrap :func:`build_aws_parts` into
its ``Context``; the parts are built here so that this package owns every boto3 client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.aws.dlq import SqsDeadLetters
from app.aws.errors import aws_errors
from app.aws.session import AwsResources, make_session, resolve_resources
from app.engines.athena import AthenaEngine
from app.metrics.cloudwatch import CloudWatchMetricsSource
from app.settings import Settings


@dataclass(frozen=True)
class AwsParts:
    engine: AthenaEngine
    metrics: CloudWatchMetricsSource
    dead_letters: SqsDeadLetters
    resources: AwsResources
    rules: tuple[str, ...]  # rule names as deployed (lake rules fan out per table)

    @property
    def location(self) -> str:
        return self.resources.location


def deployed_rule_names(definition: Any) -> tuple[str, ...]:
    """The rules the template creates: each rule, and ``<rule>-<table>`` for lake targets."""
    from app.infra.render import entity_tables, restrict_to_detail_types
    from app.lake.tables import TABLES

    names = []
    for rule in definition.rules:
        names.append(rule.name)
        if any(t.kind == "lake" for t in rule.targets):
            names += [
                f"{rule.name}-{t.name}"
                for t in entity_tables(TABLES)
                if restrict_to_detail_types(rule.pattern, t.detail_types) is not None
            ]
    return tuple(names)


def build_aws_parts(settings: Settings, session: Any = None) -> AwsParts:
    """Athena engine, CloudWatch source and SQS dead letters for the configured stack.

    Raises :class:`app.aws.errors.AwsError` (one sentence) when credentials, the stack or a
    resource setting is missing.
    """
    from app.bus.definition import load_definition

    definition = load_definition()
    with aws_errors(profile=settings.aws_profile, region=settings.region):
        session = session or make_session(settings)
        resources = resolve_resources(settings, session, list(definition.dead_letter_queues))
        return AwsParts(
            engine=AthenaEngine.from_settings(settings, resources, session),
            metrics=CloudWatchMetricsSource.from_settings(session),
            dead_letters=SqsDeadLetters.from_settings(resources, session),
            resources=resources,
            rules=deployed_rule_names(definition),
        )
