"""Dead letters in moto's SQS: peeked with EventBridge's attributes and left in place;
redriven to moto's EventBridge bus and deleted only once accepted."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from app.aws.dlq import SqsDeadLetters, parse_message, put_events_batches, put_events_entry
from app.events import DEFAULT_MAX_ENTRY_BYTES, entry_size

RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/verticals/crm-customer-signals"


def event(i: int, detail_type: str = "PaymentFailed") -> dict:
    return {
        "version": "0",
        "id": f"evt-{i}",
        "detail-type": detail_type,
        "source": "verticals.payments",
        "account": "123456789012",
        "time": "2026-03-14T09:30:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:verticals:::order/{i}"],
        "detail": {"order_id": f"o-{i}", "amount": 10.5 + i},
    }


def attributes(i: int) -> dict:
    values = {
        "ERROR_CODE": "SDK_CLIENT_ERROR",
        "ERROR_MESSAGE": f"Connection refused ({i})",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "RETRY_ATTEMPTS": "3",
        "RULE_ARN": RULE_ARN,
        "TARGET_ARN": "arn:aws:events:us-east-1:123456789012:api-destination/crm/x",
    }
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}


@pytest.fixture
def aws():
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="verticals-crm-webhook-dlq")["QueueUrl"]
        for i in range(14):  # more than one receive batch
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event(i)), MessageAttributes=attributes(i))
        yield sqs, url


def visible(sqs, url) -> int:
    return int(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
    )


def test_peek_shows_every_message_with_its_attributes_and_deletes_nothing(aws):
    sqs, url = aws
    letters = SqsDeadLetters(sqs, {"crm-webhook-dlq": url})

    first = letters.peek("crm-webhook-dlq")
    again = letters.peek("crm-webhook-dlq")

    assert len(first) == 14 and {x.message_id for x in first} == {x.message_id for x in again}
    assert visible(sqs, url) == 14
    by_event = {x.event["id"]: x for x in first}
    assert by_event["evt-3"].attributes["ERROR_MESSAGE"] == "Connection refused (3)"
    assert by_event["evt-3"].attributes["RULE_ARN"] == RULE_ARN
    assert by_event["evt-3"].attributes["RETRY_ATTEMPTS"] == "3"
    assert all(x.sent_at.endswith("+00:00") for x in first)
    assert [x.sent_at for x in first] == sorted(x.sent_at for x in first)
    assert len(letters.peek("crm-webhook-dlq", limit=5)) == 5


def test_peek_of_an_empty_queue_does_not_receive(aws):
    sqs, _ = aws
    url = sqs.create_queue(QueueName="verticals-lake-dlq")["QueueUrl"]
    assert SqsDeadLetters(sqs, {"lake-dlq": url}).peek("lake-dlq") == []


def test_unknown_queue_is_named(aws):
    sqs, url = aws
    with pytest.raises(ValueError, match=r"unknown dead-letter queue 'nope'.*crm-webhook-dlq"):
        SqsDeadLetters(sqs, {"crm-webhook-dlq": url}).peek("nope")


def test_redrive_puts_events_back_on_the_bus_and_deletes_only_those(aws):
    sqs, url = aws
    events = boto3.client("events", region_name="us-east-1")
    events.create_event_bus(Name="verticals")
    catcher = sqs.create_queue(QueueName="catcher")["QueueUrl"]
    catcher_arn = sqs.get_queue_attributes(QueueUrl=catcher, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="all", EventBusName="verticals", EventPattern=json.dumps({"source": ["verticals.payments"]})
    )
    events.put_targets(Rule="all", EventBusName="verticals", Targets=[{"Id": "catcher", "Arn": catcher_arn}])
    sqs.send_message(QueueUrl=url, MessageBody="not json at all", MessageAttributes=attributes(99))
    letters = SqsDeadLetters(sqs, {"crm-webhook-dlq": url})
    peeked = {
        x.event["id"] if x.body.startswith("{") else "bad": x.message_id
        for x in letters.peek("crm-webhook-dlq")
    }

    result = letters.redrive(
        "crm-webhook-dlq",
        [peeked["evt-1"], peeked["evt-2"], peeked["bad"], "no-such-id"],
        events,
        "verticals",
    )

    assert sorted(result.sent) == sorted([peeked["evt-1"], peeked["evt-2"]])
    assert result.failed == {peeked["bad"]: "the message is not an EventBridge event"}
    assert result.missing == ["no-such-id"]
    remaining = {x.message_id for x in letters.peek("crm-webhook-dlq")}
    assert peeked["evt-1"] not in remaining and peeked["evt-2"] not in remaining
    assert peeked["bad"] in remaining and len(remaining) == 13
    delivered = sqs.receive_message(QueueUrl=catcher, MaxNumberOfMessages=10)["Messages"]
    bodies = sorted((json.loads(m["Body"]) for m in delivered), key=lambda e: e["detail"]["order_id"])
    assert [b["detail"] for b in bodies] == [event(1)["detail"], event(2)["detail"]]
    assert {b["detail-type"] for b in bodies} == {"PaymentFailed"}
    assert bodies[0]["resources"] == ["arn:aws:verticals:::order/1"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            json.dumps(event(1)),
            {
                "EventBusName": "b",
                "Source": "verticals.payments",
                "DetailType": "PaymentFailed",
                "Detail": '{"order_id":"o-1","amount":11.5}',
                "Resources": ["arn:aws:verticals:::order/1"],
            },
            id="event",
        ),
        pytest.param(
            json.dumps({**event(2), "resources": []}),
            {
                "EventBusName": "b",
                "Source": "verticals.payments",
                "DetailType": "PaymentFailed",
                "Detail": '{"order_id":"o-2","amount":12.5}',
            },
            id="no-resources",
        ),
    ],
)
def test_put_events_entry_keeps_the_event(body, expected):
    entry = put_events_entry(body, "b")
    assert entry.pop("Time").isoformat() == "2026-03-14T09:30:00+00:00"
    assert entry == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[]", id="a-list"),
        pytest.param('{"source": "x"}', id="no-detail"),
        pytest.param("nope", id="not-json"),
    ],
)
def test_put_events_entry_refuses_what_is_not_an_event(body):
    with pytest.raises(ValueError):
        put_events_entry(body, "b")


def test_parse_message_reads_attributes_and_sent_time():
    letter = parse_message(
        {
            "MessageId": "m",
            "Body": "{}",
            "Attributes": {"SentTimestamp": "1773480600000"},
            "MessageAttributes": {"ERROR_CODE": {"DataType": "String", "StringValue": "X"}},
        }
    )
    assert letter.attributes == {"ERROR_CODE": "X"}
    assert letter.sent_at == "2026-03-14T09:30:00+00:00"


class Answering:
    """A boto3 client with some operations answered by the functions ``answers`` names."""

    def __init__(self, real, **answers):
        self.real, self.answers = real, answers

    def __getattr__(self, name):
        return self.answers.get(name) or getattr(self.real, name)


def test_a_message_sqs_does_not_delete_is_not_reported_sent(aws):
    """DeleteMessageBatch answers 200 and lists what it kept in ``Failed``: those events
    went to the bus, the messages are still in the queue, and the result says so."""
    sqs, url = aws

    def keep_the_first(QueueUrl, Entries):
        kept = Entries[0]
        sqs.delete_message_batch(QueueUrl=QueueUrl, Entries=Entries[1:])
        failure = {
            "Id": kept["Id"],
            "SenderFault": True,
            "Code": "ReceiptHandleIsInvalid",
            "Message": "stale",
        }
        return {"Successful": [{"Id": e["Id"]} for e in Entries[1:]], "Failed": [failure]}

    events = boto3.client("events", region_name="us-east-1")
    events.create_event_bus(Name="verticals")
    letters = SqsDeadLetters(
        Answering(sqs, delete_message_batch=keep_the_first),
        {"crm-webhook-dlq": url},
        events=events,
        bus="verticals",
    )
    chosen = [x.message_id for x in letters.peek("crm-webhook-dlq")[:3]]
    result = letters.redrive("crm-webhook-dlq", chosen)
    assert len(result.sent) == 2 and len(result.failed) == 1
    ((kept, why),) = result.failed.items()
    assert why == (
        "sent to the bus again, but SQS kept the message (ReceiptHandleIsInvalid: stale); "
        "redriving it again would send its event twice"
    )
    remaining = {x.message_id for x in letters.peek("crm-webhook-dlq")}
    assert kept in remaining and not set(result.sent) & remaining and len(remaining) == 12


class OneMessageSeenTwice:
    """An SQS queue of one message whose visibility runs out at once: the first two
    receives return it, each with a receipt handle of its own, then the queue looks empty."""

    def __init__(self):
        self.receives, self.deleted = 0, []

    def receive_message(self, **kwargs):
        self.receives += 1
        if self.receives > 2:
            return {}
        return {
            "Messages": [
                {"MessageId": "m1", "ReceiptHandle": f"handle-{self.receives}", "Body": json.dumps(event(1))}
            ]
        }

    def delete_message_batch(self, QueueUrl, Entries):
        self.deleted += [e["ReceiptHandle"] for e in Entries]
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    def change_message_visibility_batch(self, QueueUrl, Entries):
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


def test_a_message_received_twice_is_deleted_by_its_newest_receipt_handle():
    """SQS deletes a message only by the receipt handle of its latest receive."""
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        events.create_event_bus(Name="verticals")
        sqs = OneMessageSeenTwice()
        letters = SqsDeadLetters(sqs, {"q": "https://sqs/q"}, events=events, bus="verticals")
        result = letters.redrive("q", ["m1", "m2"])
    assert result.sent == ["m1"] and result.missing == ["m2"]
    assert sqs.deleted == ["handle-2"]


def test_redrive_calls_stay_under_put_events_total_size():
    """PutEvents refuses a call whose entries add up to more than 256 KB: ten dead letters
    of 60 KB go in calls of four."""
    big = {
        "Source": "verticals.shop",
        "DetailType": "OrderPlaced",
        "Detail": json.dumps({"note": "x" * 60_000}),
    }
    batches = list(put_events_batches([(i, big) for i in range(10)] + [(10, {**big, "Detail": "{}"})]))
    assert [len(b) for b in batches] == [4, 4, 3]
    assert all(sum(entry_size(e) for _, e in b) <= DEFAULT_MAX_ENTRY_BYTES for b in batches)
    assert [m for b in batches for m, _ in b] == list(range(11))  # every one, in order
    small = [(i, {"Source": "s", "DetailType": "d", "Detail": "{}"}) for i in range(23)]
    assert [len(b) for b in put_events_batches(small)] == [10, 10, 3]
