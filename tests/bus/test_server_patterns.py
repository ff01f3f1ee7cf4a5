"""Every golden EventBridge case through boto3's ``test_event_pattern`` against ``bus serve``."""

import json
import os
from pathlib import Path

import botocore.exceptions
import pytest

from app.settings import REPO_ROOT
from tests.bus.server_helpers import running_bus, write_definition

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bus-server")]


def golden_folder() -> Path:
    folder = Path(
        os.environ.get("VERTICALS_TESTDATA") or REPO_ROOT.parent / "shared" / "testdata" / "eventbridge"
    )
    if not (folder / "match_cases.jsonl").exists():
        if os.environ.get("CI"):
            pytest.fail(f"EventBridge golden cases missing at {folder} (set VERTICALS_TESTDATA)")
        pytest.skip(f"EventBridge golden cases not found at {folder}; set VERTICALS_TESTDATA")
    return folder


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bus")
    with running_bus(tmp, write_definition(tmp)) as bus:
        yield bus.client()


def test_every_match_case_gives_eventbridges_result(events):
    folder = golden_folder()
    cases = [
        (c["id"], json.dumps(c["pattern"]), json.dumps(c["event"]), c["match"])
        for c in read_jsonl(folder / "match_cases.jsonl")
    ]
    # Where EventBridge's answer is undetermined (match: null) the cases say to follow event-ruler.
    cases += [
        (
            c["id"],
            c["pattern_raw"],
            c["event_raw"],
            c["event_ruler_match"] if c["match"] is None else c["match"],
        )
        for c in read_jsonl(folder / "raw_cases.jsonl")
    ]
    big = json.loads((folder / "big_event_case.json").read_text())
    cases.append((big["id"], json.dumps(big["pattern"]), json.dumps(big["event"]), big["match"]))
    wrong, refused = [], []
    for case_id, pattern, event, expected in cases:
        completed = with_mandatory_fields(pattern, event)
        if completed is None:  # the pattern is about a mandatory field the event lacks
            with pytest.raises(botocore.exceptions.ClientError) as excinfo:
                events.test_event_pattern(EventPattern=pattern, Event=event)
            assert excinfo.value.response["Error"]["Message"] == "Parameter Event is not valid."
            refused.append(case_id)
        elif events.test_event_pattern(EventPattern=pattern, Event=completed)["Result"] != expected:
            wrong.append(case_id)
    assert len(cases) >= 580 and len(refused) < 30
    assert wrong == []


MANDATORY = ("id", "account", "source", "time", "region", "detail-type")


def with_mandatory_fields(pattern: str, event: str) -> str | None:
    """The event text with the fields TestEventPattern requires added in front (the golden
    cases are matching cases; many events lack them). A field the pattern names anywhere is
    never added — it could change the result — so such an event stays as it is: None."""
    parsed = json.loads(event)
    missing = [k for k in MANDATORY if k not in parsed]
    if not missing:
        return event
    if any(f'"{k}"' in pattern for k in missing) or not event.lstrip().startswith("{"):
        return None
    added = ", ".join(f'"{k}": "x"' for k in missing)
    body = event.lstrip()[1:]
    return "{" + added + ("," if body.strip() != "}" else "") + body


EVENT = json.dumps(dict.fromkeys(MANDATORY, "x"))


def test_every_invalid_pattern_is_refused_with_eventbridges_exception(events):
    accepted = []
    cases = read_jsonl(golden_folder() / "invalid_patterns.jsonl")
    for case in cases:
        text = case.get("pattern_raw") or json.dumps(case["pattern"])
        try:
            events.test_event_pattern(EventPattern=text, Event=EVENT)
            accepted.append(case["id"])
        except botocore.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] == "InvalidEventPatternException", case["id"]
            assert error.response["Error"]["Message"], case["id"]
    assert len(cases) >= 100
    assert accepted == []
