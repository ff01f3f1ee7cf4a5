"""Everything the services need from the aws backend, built from settings in one call.

``app.services.context.build_aws_context`` wraps :func:`build_aws_parts` into its
``Context``. The boto3 clients are made by the adapters (``app.engines.athena``,
``app.metrics.cloudwatch``, ``app.aws.dlq``) from one session of :mod:`app.aws.session`;
this module only puts them together, outside ``app.aws`` so that package stays the plumbing
the adapters build on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app import audit
from app.aws.audit_logs import CloudWatchLogsSink
from app.aws.dlq import SqsDeadLetters
from app.aws.errors import aws_errors
from app.aws.session import AwsResources, client, make_session, resolve_resources
from app.bus.definition import load_definition
from app.engines.athena import AthenaEngine
from app.infra.rules import deployed_rule_names
from app.lake.tables import TABLES
from app.metrics.cloudwatch import CloudWatchMetricsSource
from app.settings import Settings
from app.stack_names import delivery_stream_name


@dataclass(frozen=True)
class AwsParts:
    engine: AthenaEngine
    metrics: CloudWatchMetricsSource
    dead_letters: SqsDeadLetters
    resources: AwsResources
    rules: tuple[str, ...]  # rule names as deployed (lake rules fan out per table)
    audit: audit.AuditSink

    @property
    def location(self) -> str:
        return self.resources.location


def build_aws_parts(settings: Settings, session: Any = None) -> AwsParts:
    """Athena engine, CloudWatch source, SQS dead letters and the audit trail's sink for
    the configured stack.

    Raises :class:`app.aws.errors.AwsError` (one sentence) when credentials, the stack or a
    resource setting is missing.
    """
    definition = load_definition()
    with aws_errors(profile=settings.aws_profile, region=settings.region):
        session = session or make_session(settings)
        resources = resolve_resources(settings, session, list(definition.dead_letter_queues))
        rules = deployed_rule_names(definition)
        return AwsParts(
            engine=AthenaEngine.from_settings(settings, resources, session),
            metrics=CloudWatchMetricsSource.from_settings(
                session,
                resources.bus_name,
                rules,
                streams=lake_streams(resources),
                lake_bucket=resources.lake_bucket,
            ),
            dead_letters=SqsDeadLetters.from_settings(resources, session),
            resources=resources,
            rules=rules,
            audit=audit_sink(settings, resources, session),
        )


def lake_streams(resources: AwsResources) -> dict[str, str]:
    """Each lake table's Firehose stream: named after the stack (without a stack, after the
    bus, which the template names after the stack)."""
    stack = resources.stack or resources.bus_name
    return {table: delivery_stream_name(stack, table) for table in TABLES}


def audit_sink(settings: Settings, resources: AwsResources, session: Any) -> audit.AuditSink:
    """The stack's audit log group; without one (a stack older than the group, no
    ``VERTICALS_AUDIT_LOG_GROUP``) the local file, as on the local backend."""
    if not resources.audit_log_group:
        return audit.FileSink(audit.audit_path(settings))
    return CloudWatchLogsSink(client(session, "logs"), resources.audit_log_group)
