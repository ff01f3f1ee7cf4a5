"""Archive and replay through boto3 against ``bus serve``."""

import json
from datetime import UTC, datetime, timedelta

import botocore.exceptions
import pytest

from tests.bus.server_helpers import http_consumer, lake_ids, running_bus, wait_for, write_definition

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bus-server")]

BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/test-bus"
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/test-bus/"


def order(at: datetime, n: int) -> dict:
    return {
        "Source": "shop",
        "DetailType": "OrderPlaced",
        "Time": at,
        "Detail": json.dumps({"n": n}),
        "EventBusName": "test-bus",  # the definition's bus, a custom bus
    }


def test_archive_then_replay_to_one_rule_reaches_it_and_the_lake_counts_each_event_once(tmp_path):
    with http_consumer(200) as consumer:
        definition = write_definition(
            tmp_path,
            f"""
bus: test-bus
endpoints:
  consumer: {{url: "{consumer.url}"}}
rules:
  - name: to-lake
    pattern: {{"source": ["shop"]}}
    targets: [{{id: lake, kind: lake}}]
  - name: to-consumer
    pattern: {{"source": ["shop"]}}
    targets: [{{id: consumer, kind: http, endpoint: consumer}}]
""",
        )
        with running_bus(tmp_path, definition) as bus:
            events = bus.client()
            created = events.create_archive(
                ArchiveName="shop",
                EventSourceArn=BUS_ARN,
                EventPattern=json.dumps({"source": ["shop"]}),
                RetentionDays=30,
            )
            assert created["State"] == "ENABLED" and created["ArchiveArn"].endswith(":archive/shop")
            start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
            inside = [order(start + timedelta(minutes=m), m) for m in range(3)]
            ids = [
                e["EventId"]
                for e in events.put_events(Entries=[*inside, order(start + timedelta(hours=2), 9)])["Entries"]
            ]
            assert wait_for(lambda: len(consumer.bodies) == 4 and len(lake_ids(bus.lake)) == 4)
            assert wait_for(lambda: events.describe_archive(ArchiveName="shop")["EventCount"] == 4)

            answer = events.start_replay(
                ReplayName="again",
                EventSourceArn=created["ArchiveArn"],
                EventStartTime=start,
                EventEndTime=start + timedelta(hours=1),
                Destination={"Arn": BUS_ARN, "FilterArns": [RULE_ARN + "to-consumer"]},
            )
            assert answer["State"] == "STARTING"
            done = wait_for(lambda: events.describe_replay(ReplayName="again")["State"] == "COMPLETED")
            described = events.describe_replay(ReplayName="again")
            assert done, described
            assert described["EventLastReplayedTime"] == start + timedelta(minutes=2)
            replayed = [b for b in consumer.bodies if b.get("replay-name") == "again"]
            assert sorted(b["id"] for b in replayed) == sorted(ids[:3])
            assert sorted(lake_ids(bus.lake)) == sorted(ids)  # once each
            assert [a["ArchiveName"] for a in events.list_archives()["Archives"]] == ["shop"]
            assert [r["ReplayName"] for r in events.list_replays()["Replays"]] == ["again"]

            with pytest.raises(botocore.exceptions.ClientError) as excinfo:
                events.start_replay(
                    ReplayName="again",
                    EventSourceArn=created["ArchiveArn"],
                    EventStartTime=start,
                    EventEndTime=start + timedelta(hours=1),
                    Destination={"Arn": BUS_ARN},
                )
            assert excinfo.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
            with pytest.raises(botocore.exceptions.ClientError) as excinfo:
                events.describe_archive(ArchiveName="missing")
            assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"

        with running_bus(tmp_path, definition) as bus:  # archives and replays survive a restart
            events = bus.client()
            assert events.describe_archive(ArchiveName="shop")["EventCount"] == 4
            assert events.describe_replay(ReplayName="again")["State"] == "COMPLETED"
