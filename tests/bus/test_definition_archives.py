"""The definition's ``archives:``: parsing and validation, and the local bus having them
from its start, as CreateArchive would have made them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.bus.api import BusApi
from app.bus.archive import ArchiveStore
from app.bus.definition import ArchiveSpec, DefinitionError, load_definition, parse_definition
from app.bus.local import LocalBus
from app.bus.rule_store import RuleStore
from tests.bus.server_helpers import running_bus, write_definition

BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/test-bus"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SHOP = {"source": [{"prefix": "shop"}]}


def definition(*archives):
    return parse_definition({"bus": "test-bus", "rules": [], "archives": list(archives)})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({"name": "all"}, ArchiveSpec("all"), id="only-a-name-every-event-for-ever"),
        pytest.param(
            {"name": "shop.orders_1-a", "pattern": SHOP, "retention_days": 365, "description": "Shop."},
            ArchiveSpec("shop.orders_1-a", SHOP, 365, "Shop."),
            id="every-field",
        ),
        pytest.param(
            {"name": "a" * 48, "retention_days": 0}, ArchiveSpec("a" * 48), id="48-characters-zero-retention"
        ),
    ],
)
def test_archives_parse(raw, expected):
    assert definition(raw).archives == (expected,)


@pytest.mark.parametrize(
    ("archives", "message"),
    [
        pytest.param([{"name": "a" * 49}], "1-48 letters", id="name-too-long"),
        pytest.param([{"name": "shop/orders"}], "1-48 letters", id="slash-in-name"),
        pytest.param([{"name": ""}], "1-48 letters", id="empty-name"),
        pytest.param([{"pattern": SHOP}], "archive name None", id="no-name"),
        pytest.param(["all"], "archive name None", id="not-a-mapping"),
        pytest.param(
            [{"name": "x", "pattern": {"source": "shop"}}], "invalid event pattern", id="pattern-not-a-list"
        ),
        pytest.param(
            [{"name": "x", "pattern": {"source": [{"prefixx": "shop"}]}}],
            "invalid event pattern",
            id="unknown-matcher",
        ),
        pytest.param([{"name": "x", "retention_days": -1}], "retention_days", id="negative-retention"),
        pytest.param([{"name": "x", "retention_days": "365"}], "retention_days", id="retention-as-text"),
        pytest.param([{"name": "x", "retention_days": True}], "retention_days", id="retention-bool"),
        pytest.param([{"name": "x", "description": "d" * 513}], "512", id="description-too-long"),
        pytest.param([{"name": "x"}, {"name": "x", "retention_days": 1}], "defined twice", id="duplicate"),
    ],
)
def test_invalid_archives_are_refused(archives, message):
    with pytest.raises(DefinitionError, match=message):
        definition(*archives)


def test_a_definition_without_archives_has_none():
    assert parse_definition({"bus": "b", "rules": []}).archives == ()


def test_the_repository_definition_archives_every_department_event():
    archive = {a.name: a for a in load_definition().archives}["verticals-all"]
    assert (archive.pattern, archive.retention_days) == ({"source": [{"prefix": "verticals."}]}, 365)


def put_orders(bus, *sources):
    entries = [{"Source": s, "DetailType": "OrderPlaced", "Time": NOW, "Detail": "{}"} for s in sources]
    return [e["EventId"] for e in bus.put_events(entries, now=NOW)["Entries"]]


def test_the_local_bus_has_the_definition_archive_from_its_start(tmp_path):
    spec = {"name": "shop", "pattern": SHOP, "retention_days": 30, "description": "Shop events."}
    bus = LocalBus(definition(spec), tmp_path / "lake")
    described = BusApi(bus, RuleStore(tmp_path / "bus" / "rules.json")).call(
        "DescribeArchive", {"ArchiveName": "shop"}
    )
    assert (described["State"], described["RetentionDays"], described["Description"]) == (
        "ENABLED",
        30,
        "Shop events.",
    )
    assert json.loads(described["EventPattern"]) == SHOP
    assert described["EventSourceArn"] == BUS_ARN

    kept = put_orders(bus, "shop.web", "erp")
    assert [e["id"] for _, e in bus.archives.events("shop", 0, 2e9)] == kept[:1]
    assert ArchiveStore(tmp_path / "bus").archives["shop"].retention_days == 30  # saved as the API saves it


def test_an_archive_of_that_name_already_there_is_kept_not_duplicated(tmp_path):
    first = LocalBus(definition({"name": "other"}), tmp_path / "lake")
    api = BusApi(first, RuleStore(tmp_path / "bus" / "rules.json"))
    api.call(
        "CreateArchive",
        {
            "ArchiveName": "shop",
            "EventSourceArn": BUS_ARN,
            "RetentionDays": 7,
            "EventPattern": json.dumps({"source": ["shop"]}),
        },
    )
    created = first.archives.archives["shop"]

    again = LocalBus(definition({"name": "shop", "pattern": SHOP, "retention_days": 30}), tmp_path / "lake")

    assert sorted(again.archives.archives) == ["other", "shop"]
    assert again.archives.archives["shop"] == created  # the API-made one, untouched


@pytest.mark.slow
@pytest.mark.xdist_group("bus-server")
def test_bus_serve_lists_the_definition_archive(tmp_path):
    path = write_definition(
        tmp_path,
        """
bus: test-bus
rules: []
archives:
  - {name: shop, pattern: {"source": [{"prefix": "shop"}]}, retention_days: 0}
""",
    )
    with running_bus(tmp_path, path) as bus:
        archives = bus.client().list_archives()["Archives"]
    assert [(a["ArchiveName"], a["RetentionDays"], a["EventSourceArn"]) for a in archives] == [
        ("shop", 0, BUS_ARN)
    ]
