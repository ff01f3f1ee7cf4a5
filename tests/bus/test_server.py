"""``bus serve`` driven with boto3 only: rules, targets, PutEvents, the lake and the DLQ."""

import json
import threading

import botocore.exceptions
import pytest

from tests.bus.server_helpers import (
    BusProcess,
    dead_letters,
    free_port,
    http_consumer,
    lake_ids,
    running_bus,
    wait_for,
    write_definition,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bus-server")]

PATTERN = {
    "source": ["shop"],
    "detail-type": ["OrderPlaced"],
    "detail": {"amount": [{"numeric": [">", 100]}]},
}


def order(amount, source="shop", detail_type="OrderPlaced"):
    # For the definition's bus, a custom bus beside each account's default bus.
    return {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps({"amount": amount}),
        "EventBusName": "test-bus",
    }


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_rules_targets_events_lake_and_dead_letters_through_boto3(tmp_path):
    nothing_listens = f"http://127.0.0.1:{free_port()}/events"
    with http_consumer(500) as failing, running_bus(tmp_path, write_definition(tmp_path)) as bus:
        failing_url = failing.url
        events = bus.client()
        arn = events.put_rule(
            Name="big-orders",
            EventPattern=json.dumps(PATTERN),
            Description="orders over 100",
            EventBusName="test-bus",
        )["RuleArn"]
        assert arn == "arn:aws:events:us-east-1:123456789012:rule/test-bus/big-orders"
        events.put_targets(
            Rule="big-orders",
            EventBusName="test-bus",
            Targets=[
                {"Id": "lake", "Arn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/test-bus-lake"},
                {
                    "Id": "failing",
                    "Arn": failing_url,
                    "RetryPolicy": {"MaximumRetryAttempts": 1},
                    "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:123456789012:failing-dlq"},
                },
                {
                    "Id": "down",
                    "Arn": nothing_listens,
                    "RetryPolicy": {"MaximumRetryAttempts": 0},
                    "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:123456789012:down-dlq"},
                },
            ],
        )
        entries = [
            order(150),
            order(50),
            order(101),
            order(500, source="other"),
            order(200, detail_type="OrderCancelled"),
            order("150"),
            order(1000),
            {"Source": "shop", "DetailType": "OrderPlaced", "Detail": "{broken", "EventBusName": "test-bus"},
        ]
        response = events.put_events(Entries=entries)
        assert response["FailedEntryCount"] == 1
        assert response["Entries"][-1]["ErrorCode"] == "MalformedDetail"
        ids = [e.get("EventId") for e in response["Entries"]]
        matching = sorted(ids[i] for i in (0, 2, 6))  # numeric matches numbers only: "150" does not

        assert wait_for(lambda: lake_ids(bus.lake) == matching), lake_ids(bus.lake)
        assert wait_for(lambda: len(dead_letters(tmp_path, "failing-dlq")) == 3)
        assert wait_for(lambda: len(dead_letters(tmp_path, "down-dlq")) == 3)
        assert len(failing.bodies) == 6  # each matching event tried twice
        failed = dead_letters(tmp_path, "failing-dlq")
        assert sorted(json.loads(m["Body"])["id"] for m in failed) == matching
        assert failed[0]["Attributes"] == {
            "ERROR_CODE": "SDK_CLIENT_ERROR",
            "ERROR_MESSAGE": "Target answered HTTP 500",
            "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
            "RETRY_ATTEMPTS": "1",
            "RULE_ARN": arn,
            "TARGET_ARN": "arn:aws:events:us-east-1:123456789012:api-destination/" + failing_url,
        }
        down = dead_letters(tmp_path, "down-dlq")[0]["Attributes"]
        assert down["RETRY_ATTEMPTS"] == "0" and down["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"


def test_rule_operations_and_their_errors(tmp_path):
    with running_bus(tmp_path, write_definition(tmp_path)) as bus:
        events = bus.client()
        events.put_rule(Name="r1", EventPattern=json.dumps({"source": ["a"]}), State="DISABLED")
        described = events.describe_rule(Name="r1")
        assert (described["State"], json.loads(described["EventPattern"])) == ("DISABLED", {"source": ["a"]})
        events.enable_rule(Name="r1")
        assert events.describe_rule(Name="r1")["State"] == "ENABLED"
        events.put_targets(
            Rule="r1", Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:orders"}]
        )
        targets = events.list_targets_by_rule(Rule="r1")["Targets"]
        assert [(t["Id"], t["Arn"]) for t in targets] == [("q", "arn:aws:sqs:us-east-1:123456789012:orders")]
        assert targets[0]["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}

        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            events.delete_rule(Name="r1")
        assert error_code(excinfo) == "ValidationException"
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            events.describe_rule(Name="missing")
        assert error_code(excinfo) == "ResourceNotFoundException"
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            events.put_rule(Name="bad", EventPattern="{not json")
        assert error_code(excinfo) == "InvalidEventPatternException"
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            events.put_targets(
                Rule="r1", Targets=[{"Id": f"t{i}", "Arn": "arn:aws:sqs:us-east-1:1:q"} for i in range(5)]
            )
        assert error_code(excinfo) == "LimitExceededException"
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            events.put_targets(
                Rule="r1",
                Targets=[
                    {
                        "Id": "x",
                        "Arn": "arn:aws:sqs:us-east-1:1:q",
                        "RetryPolicy": {"MaximumRetryAttempts": 186},
                    }
                ],
            )  # boto3 checks minimums only
        assert error_code(excinfo) == "ValidationException"
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            events.put_events(Entries=[order(1)] * 11)
        assert error_code(excinfo) == "ValidationException"
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            events.put_targets(
                Rule="r1",
                Targets=[
                    {
                        "Id": "t",
                        "Arn": "arn:aws:sqs:us-east-1:1:q",
                        "InputPath": "$.detail",
                        "InputTransformer": {"InputTemplate": '"x"'},
                    }
                ],
            )
        assert (
            excinfo.value.response["Error"]["Message"]
            == "Only one of Input, InputPath, or InputTransformer must be provided for target t."
        )
        transformer = {"InputPathsMap": {"a": "$.detail.amount"}, "InputTemplate": '{"amount": <a>}'}
        events.put_targets(
            Rule="r1",
            Targets=[{"Id": "t", "Arn": "arn:aws:sqs:us-east-1:1:q", "InputTransformer": transformer}],
        )
        listed = {t["Id"]: t for t in events.list_targets_by_rule(Rule="r1")["Targets"]}
        assert listed["t"]["InputTransformer"] == transformer
        events.remove_targets(Rule="r1", Ids=["t"])

        events.put_rule(Name="r2", EventPattern=json.dumps({"source": ["b"]}))
        assert [r["Name"] for r in events.list_rules()["Rules"]] == ["r1", "r2"]
        assert [r["Name"] for r in events.list_rules(NamePrefix="r2")["Rules"]] == ["r2"]
        page = events.list_rules(Limit=1)
        assert [r["Name"] for r in page["Rules"]] == ["r1"] and page["NextToken"]
        events.remove_targets(Rule="r1", Ids=["q"])
        events.delete_rule(Name="r1")
        assert [r["Name"] for r in events.list_rules()["Rules"]] == ["r2"]

    with running_bus(tmp_path, write_definition(tmp_path)) as bus:  # rules survive a restart
        assert [r["Name"] for r in bus.client().list_rules()["Rules"]] == ["r2"]


def test_a_killed_server_delivers_every_accepted_event_once_after_restart(tmp_path):
    with http_consumer(200, delay_s=0.05) as slow:  # keeps deliveries behind publishers
        definition = write_definition(
            tmp_path,
            f"""
bus: test-bus
endpoints:
  slow: {{url: "{slow.url}"}}
rules:
  - name: all-to-lake
    pattern: {{"source": [{{"prefix": "shop"}}]}}
    targets: [{{id: lake, kind: lake}}, {{id: slow, kind: http, endpoint: slow}}]
""",
        )
        accepted = publish_then_kill(BusProcess(tmp_path, definition).start())
        assert len(set(lake_ids(tmp_path / "lake"))) < len(accepted), "the kill came after every delivery"
        slow.delay_s = 0.0
        restarted = BusProcess(tmp_path, definition).start()
        try:
            wait_for(lambda: set(accepted) <= set(lake_ids(restarted.lake)), timeout_s=60)
            in_lake = lake_ids(restarted.lake)
            assert set(accepted) <= set(in_lake), f"{len(set(accepted) - set(in_lake))} accepted events lost"
            assert len(in_lake) == len(set(in_lake)), "an event reached the lake twice"
            consumed = {b["id"] for b in slow.bodies}
            assert wait_for(lambda: set(accepted) <= {b["id"] for b in slow.bodies}, timeout_s=30), (
                f"{len(set(accepted) - consumed)} accepted events never reached the HTTP consumer"
            )
        finally:
            restarted.stop()


def publish_then_kill(bus: BusProcess, publishers: int = 3, enough: int = 300) -> list[str]:
    """Publish from several threads; SIGKILL the server mid-stream; return the accepted ids."""
    accepted: list[str] = []
    stop = threading.Event()

    def publish():
        events = bus.client()
        while not stop.is_set():
            try:
                response = events.put_events(Entries=[order(i) for i in range(10)])
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                return  # the server is gone
            accepted.extend(e["EventId"] for e in response["Entries"])

    threads = [threading.Thread(target=publish) for _ in range(publishers)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(accepted) >= enough and lake_ids(bus.lake), timeout_s=30)
        bus.kill()  # SIGKILL while calls and deliveries are in flight
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    return accepted
