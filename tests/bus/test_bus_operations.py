"""docs/bus.md's table of EventBridge's operations is true: one row for each operation of
botocore's ``events`` model, ``yes``/``partly`` exactly for those ``bus serve`` has, and each
operation it lacks answered with a clean HTTP 400 ``UnknownOperationException``."""

from __future__ import annotations

import re

import boto3
import botocore.exceptions
import botocore.session
import pytest
import requests

from app.bus.api import OPERATIONS
from app.bus.api_buses import SCOPE_OPERATIONS
from app.settings import REPO_ROOT
from tests.bus.events_target import local_only

ROW = re.compile(r"^\| ([A-Za-z]+) \| (yes|partly|no|in progress \(branch [\w-]+\)) \|", re.MULTILINE)
SERVED = set(OPERATIONS) | set(SCOPE_OPERATIONS)


def documented() -> dict[str, str]:
    rows = ROW.findall((REPO_ROOT / "docs" / "bus.md").read_text())
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "an operation has two rows in docs/bus.md"
    return dict(rows)


def missing() -> list[str]:
    return sorted(name for name, status in documented().items() if status not in ("yes", "partly"))


def test_docs_bus_md_has_one_row_for_every_eventbridge_operation():
    model = botocore.session.get_session().get_service_model("events")
    assert set(documented()) == set(model.operation_names)
    assert len(documented()) == 57  # the API reference's list (API_Operations.html)


def test_docs_bus_md_says_yes_or_partly_exactly_for_what_bus_serve_has():
    said = {name for name, status in documented().items() if status in ("yes", "partly")}
    assert said - SERVED == set(), "docs/bus.md says bus serve has these, it does not"
    assert SERVED - said == set(), "bus serve has these: update their rows in docs/bus.md"


@local_only("the answer of bus serve to an operation it lacks")
def test_every_operation_the_local_bus_lacks_is_a_clean_400(bus):
    for operation in [*missing(), "Frobnicate"]:
        response = requests.post(
            bus.url,
            headers={"X-Amz-Target": f"AWSEvents.{operation}", "Content-Type": "application/x-amz-json-1.1"},
            data="{}",
            timeout=10,
        )
        assert (response.status_code, response.json()) == (
            400,
            {
                "__type": "UnknownOperationException",
                "message": f"Operation {operation} is not supported by the local bus.",
            },
        )


@local_only("the answer of bus serve to an operation it lacks")
def test_boto3_surfaces_an_unknown_operation_as_a_client_error_once(bus):
    calls = []
    # botocore's default retry configuration: it retries 5xx and throttling, not this.
    events = boto3.client(
        "events",
        endpoint_url=bus.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    events.meta.events.register("before-send.events", lambda **kw: calls.append(kw["request"].url))
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        events.list_endpoints()
    response = excinfo.value.response
    assert (response["Error"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        {
            "Code": "UnknownOperationException",
            "Message": "Operation ListEndpoints is not supported by the local bus.",
        },
        400,
    )
    assert len(calls) == 1
