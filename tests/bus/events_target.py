"""Where the EventBridge API tests send their requests: ``bus serve`` (the default) or, when
``VERTICALS_EVENTS_TARGET=aws``, real EventBridge with the environment's credentials.

The tests are written in the local bus's terms: fixed resource names (``orders-bus``), the
local account ``123456789012`` in ARNs, ``us-east-1``. Against AWS, :class:`AwsEventBridge`
gives every client a translation, both ways and nothing else: names the test chooses get the
run's random prefix (``vt-1a2b3c4d-orders-bus``) and the local account becomes the real
one on the way out; on the way back the prefix is removed, the real account becomes
``123456789012`` again, and List* answers leave out what is not the run's (the account's
other rules and buses). An assertion on an ARN's shape or on a message's text thus checks
EventBridge's own answer. Everything the run created is deleted at the end (replays cannot
be deleted in EventBridge: running ones are cancelled).

Tests that only make sense locally (the server's state files and processes, the account
taken from the access key, local extensions such as ``http://`` targets, the local replay
timings) carry :func:`local_only`.
"""

from __future__ import annotations

import os
import re
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from tests.bus.server_helpers import BusProcess, write_definition

TARGET_VARIABLE = "VERTICALS_EVENTS_TARGET"
TARGETS = ("local", "aws")
LOCAL_ACCOUNT = "123456789012"
LOCAL_KEY = "x"  # the access key id the tests use for the local default account
# Real AWS: give up on an unreachable endpoint quickly, and never retry behind the test's back.
AWS_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 1})
# Request members holding a resource name the test chose (top level, or in PutEvents' entries).
NAME_KEYS = frozenset({"Name", "Rule", "EventBusName", "ArchiveName", "ReplayName", "NamePrefix"})
# arn:aws:events:REGION:ACCOUNT:TYPE/REST
EVENTS_ARN = re.compile(r"^(arn:aws[\w-]*:events:[\w-]*:)(\d{12}|)(:)([\w-]+)/(.+)$")
ANY_ARN_ACCOUNT = r"(arn:aws[\w-]*:[\w-]+:[\w-]*:){account}(?=:)"
# List* answers: the key of the list, and how an item is named.
LISTED = {
    "Rules": "Name",
    "EventBuses": "Name",
    "Archives": "ArchiveName",
    "Replays": "ReplayName",
    "Connections": "Name",
    "ApiDestinations": "Name",
}


def events_target() -> str:
    value = os.environ.get(TARGET_VARIABLE, "local") or "local"
    if value not in TARGETS:
        raise pytest.UsageError(f"{TARGET_VARIABLE} must be 'local' or 'aws', not {value!r}.")
    return value


def on_aws() -> bool:
    return events_target() == "aws"


def local_only(reason: str) -> pytest.MarkDecorator:
    """Skip a test when the tests run against real EventBridge, saying why."""
    return pytest.mark.skipif(on_aws(), reason=f"local bus only: {reason}")


class Namespace:
    """The run's resource names and account: the test's terms <-> EventBridge's."""

    def __init__(self, prefix: str, account: str):
        self.prefix, self.account = prefix, account
        self.real_account = re.compile(ANY_ARN_ACCOUNT.format(account=re.escape(account)))

    def name(self, name: str) -> str:
        if name == "default" or name.startswith(self.prefix):
            return name
        return self.prefix + name

    def arn(self, arn: str) -> str:
        if arn.startswith("arn:"):
            arn = re.sub(ANY_ARN_ACCOUNT.format(account=LOCAL_ACCOUNT), rf"\g<1>{self.account}", arn)
        match = EVENTS_ARN.match(arn)
        if match is None:
            return arn
        head, account, colon, kind, rest = match.groups()
        parts = rest.split("/")
        if kind in ("event-bus", "rule"):
            parts = [self.name(p) for p in parts]  # rule/NAME, rule/BUS/NAME
        else:  # archive/NAME, replay/NAME, connection/NAME/ID, api-destination/NAME/ID
            parts[0] = self.name(parts[0])
        return f"{head}{account}{colon}{kind}/{'/'.join(parts)}"

    def outbound(self, request: dict) -> dict:
        """A request: the names at its top level and in PutEvents' entries (not, say, an
        input transformer's variable called ``Name``); ARNs anywhere."""
        out = {key: self._named(key, self._arns(value)) for key, value in request.items()}
        if isinstance(out.get("Entries"), list):
            out["Entries"] = [
                {k: self._named(k, v) for k, v in entry.items()} if isinstance(entry, dict) else entry
                for entry in out["Entries"]
            ]
        return out

    def _named(self, key: str, value: Any) -> Any:
        if key in NAME_KEYS and isinstance(value, str) and not value.startswith("arn:"):
            return self.name(value)
        return value

    def _arns(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._arns(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._arns(v) for v in value]
        if isinstance(value, str) and value.startswith("arn:"):
            return self.arn(value)
        return value

    def ours(self, name: Any) -> bool:
        return name == "default" or (isinstance(name, str) and self.prefix in name)

    def inbound(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.inbound(self._only_ours(k, v)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.inbound(v) for v in value]
        if isinstance(value, str):
            return self.real_account.sub(rf"\g<1>{LOCAL_ACCOUNT}", value.replace(self.prefix, ""))
        return value

    def _only_ours(self, key: str, value: Any) -> Any:
        if key == "RuleNames" and isinstance(value, list):
            return [v for v in value if self.ours(v)]
        if key in LISTED and isinstance(value, list):
            return [v for v in value if isinstance(v, dict) and self.ours(v.get(LISTED[key]))]
        return value


def _translated(client: Any, namespace: Namespace) -> Any:
    def outbound(params: dict, **_: Any) -> None:
        translated = namespace.outbound(params)
        params.clear()
        params.update(translated)

    def inbound(parsed: dict, **_: Any) -> None:  # also error answers: botocore raises after this
        translated = namespace.inbound(parsed)
        parsed.clear()
        parsed.update(translated)

    client.meta.events.register("before-parameter-build.events", outbound)
    client.meta.events.register("after-call.events", inbound)
    return client


class AwsEventBridge:
    """Real EventBridge in the place of :class:`BusProcess`, for tests that only call
    ``client()``: one run's prefixed resources in the environment's account."""

    is_aws = True

    def __init__(self, credentials: Any, account: str, home_bus: str):
        self.credentials = credentials  # frozen: the tests' autouse fixture swaps the environment's
        self.namespace = Namespace(f"vt-{uuid.uuid4().hex[:8]}-", account)
        self.home_bus = home_bus
        self.regions: set[str] = set()

    @classmethod
    def connect(cls, home_bus: str) -> AwsEventBridge:
        """The environment's credentials and account, or a test failure in one sentence."""
        session = boto3.Session()
        found = session.get_credentials()
        if found is None:
            pytest.fail(
                f"{TARGET_VARIABLE}=aws but no AWS credentials were found (environment, AWS_PROFILE, "
                f"~/.aws): set them, or unset {TARGET_VARIABLE} to test the local bus.",
                pytrace=False,
            )
        credentials = found.get_frozen_credentials()
        region = session.region_name or "us-east-1"
        sts = boto3.client("sts", region_name=region, config=AWS_CONFIG, **_keys(credentials))
        try:
            account, problem = sts.get_caller_identity()["Account"], ""
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            account, problem = "", str(exc)
        if problem:
            pytest.fail(
                f"{TARGET_VARIABLE}=aws but AWS STS refused or could not be reached: {problem}", pytrace=False
            )
        target = cls(credentials, account, home_bus)
        target.client().create_event_bus(Name=home_bus)  # the definition's bus, as bus serve has it
        return target

    def client(self, region: str = "us-east-1", key: str = LOCAL_KEY) -> Any:
        if key != LOCAL_KEY:
            pytest.skip(
                "local bus only: the account comes from the access key in the local bus's convention; "
                "against AWS the credentials decide it"
            )
        self.regions.add(region)
        return _translated(self.raw(region), self.namespace)

    def raw(self, region: str) -> Any:
        return boto3.client("events", region_name=region, config=AWS_CONFIG, **_keys(self.credentials))

    def cleanup(self) -> None:
        """Delete everything whose name carries the run's prefix, in every region used."""
        left: list[str] = []
        for region in sorted(self.regions):
            left += _delete_run(self.raw(region), self.namespace.prefix)
        if left:
            warnings.warn(f"EventBridge resources of this run were not deleted: {left}", stacklevel=1)


def _keys(credentials: Any) -> dict[str, str]:
    return {
        "aws_access_key_id": credentials.access_key,
        "aws_secret_access_key": credentials.secret_key,
        "aws_session_token": credentials.token,
    }


def _all(call: Callable[..., dict], key: str, **request: Any) -> list:
    items, token = [], None
    while True:
        page = call(**request, **({"NextToken": token} if token else {}))
        items += page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return items


def _delete_run(events: Any, prefix: str) -> list[str]:
    left: list[str] = []

    def attempt(what: str, call: Callable[[], Any]) -> None:
        try:
            call()
        except botocore.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                left.append(f"{what} ({exc.response['Error']['Code']})")

    for replay in _all(events.list_replays, "Replays", NamePrefix=prefix):
        if replay["State"] in ("STARTING", "RUNNING"):
            attempt(replay["ReplayName"], lambda r=replay: events.cancel_replay(ReplayName=r["ReplayName"]))
    for archive in _all(events.list_archives, "Archives", NamePrefix=prefix):
        attempt(archive["ArchiveName"], lambda a=archive: events.delete_archive(ArchiveName=a["ArchiveName"]))
    buses = ["default"] + [b["Name"] for b in _all(events.list_event_buses, "EventBuses", NamePrefix=prefix)]
    for bus in buses:
        for name_prefix in (prefix, f"Events-Archive-{prefix}"):
            for rule in _all(events.list_rules, "Rules", EventBusName=bus, NamePrefix=name_prefix):
                attempt(rule["Name"], lambda r=rule, b=bus: _delete_rule(events, b, r["Name"]))
    for destination in _all(events.list_api_destinations, "ApiDestinations", NamePrefix=prefix):
        attempt(destination["Name"], lambda d=destination: events.delete_api_destination(Name=d["Name"]))
    for connection in _all(events.list_connections, "Connections", NamePrefix=prefix):
        attempt(connection["Name"], lambda c=connection: events.delete_connection(Name=c["Name"]))
    for bus in buses[1:]:
        attempt(bus, lambda b=bus: events.delete_event_bus(Name=b))
    return left


def _delete_rule(events: Any, bus: str, name: str) -> None:
    ids = [t["Id"] for t in _all(events.list_targets_by_rule, "Targets", Rule=name, EventBusName=bus)]
    if ids:
        events.remove_targets(Rule=name, EventBusName=bus, Ids=ids, Force=True)
    events.delete_rule(Name=name, EventBusName=bus, Force=True)


@contextmanager
def events_endpoint(tmp: Path, home_bus: str = "test-bus") -> Iterator[BusProcess | AwsEventBridge]:
    """``bus serve`` with a definition whose bus is ``home_bus`` (no rules), or — with
    ``VERTICALS_EVENTS_TARGET=aws`` — real EventBridge with a custom bus of that name."""
    if on_aws():
        target = AwsEventBridge.connect(home_bus)
        try:
            yield target
        finally:
            target.cleanup()
        return
    process = BusProcess(tmp, write_definition(tmp, f"bus: {home_bus}\nrules: []\n")).start()
    try:
        yield process
    finally:
        process.stop()
