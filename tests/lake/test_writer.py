import json
import random
import struct
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from app.lake.tables import ORDERS
from app.lake.writer import LakeWriter


def envelope(detail_type="OrderPlaced", source="verticals.shop", time="2026-11-20T10:00:00Z", **detail):
    return {
        "version": "0",
        "id": f"id-{detail_type}-{time}-{len(detail)}",
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def read(folder: Path):
    return pq.ParquetDataset(list(folder.rglob("*.parquet"))).read().to_pylist()


def test_writes_raw_and_typed_tables_partitioned_by_date_and_source(tmp_path):
    events = [
        envelope(order_id="o1", amount=12.5, quantity=2, region="eu-north"),
        envelope(time="2026-11-21T00:00:01Z", order_id="o2", amount=3, quantity=1),
        envelope("PaymentFailed", "verticals.payments", order_id="o1", method="card", reason="declined"),
    ]
    LakeWriter(tmp_path).write(events)
    assert sorted(p.relative_to(tmp_path).parent.as_posix() for p in tmp_path.rglob("*.parquet")) == [
        "events/dt=2026-11-20/source=verticals.payments",
        "events/dt=2026-11-20/source=verticals.shop",
        "events/dt=2026-11-21/source=verticals.shop",
        "orders/dt=2026-11-20",
        "orders/dt=2026-11-21",
        "payments/dt=2026-11-20",
    ]
    orders = read(tmp_path / "orders")
    assert {(o["order_id"], o["amount"], o["quantity"]) for o in orders} == {("o1", 12.5, 2), ("o2", 3.0, 1)}
    payment = read(tmp_path / "payments")[0]
    assert payment["failure_reason"] == "declined" and payment["method"] == "card"
    raw = read(tmp_path / "events" / "dt=2026-11-20" / "source=verticals.shop")[0]
    assert json.loads(raw["detail"])["order_id"] == "o1"
    assert raw["time"].isoformat() == "2026-11-20T10:00:00+00:00"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"amount": "twelve"}, id="text-for-number"),
        pytest.param({"quantity": True}, id="bool-for-int"),
        pytest.param({"order_id": {"nested": 1}}, id="object-for-string"),
        pytest.param({"quantity": 1.5}, id="fraction-for-int"),
    ],
)
def test_a_wrongly_typed_field_costs_only_that_field(tmp_path, bad):
    LakeWriter(tmp_path).write([envelope(order_id="good", amount=1.0, quantity=1), envelope(**bad)])
    rows = read(tmp_path / "orders")
    assert len(rows) == 2
    assert len(read(tmp_path / "events")) == 2
    field = next(iter(bad))
    odd = next(r for r in rows if r["order_id"] != "good")
    expected = json.dumps(bad[field]) if field == "order_id" else None
    assert odd[field] == expected


def test_no_temporary_file_is_left_behind(tmp_path):
    LakeWriter(tmp_path).write([envelope(order_id="o1")])
    assert not list(tmp_path.rglob("*.tmp"))
    assert pq.read_schema(next((tmp_path / "orders").rglob("*.parquet"))) == ORDERS.arrow_schema()


# The raw table's detail is orjson's text where it equals json's, json's elsewhere: each
# case must read back as exactly the detail and be the very text json writes.
JSON_TEXT = json.JSONEncoder(separators=(",", ":")).encode  # what the writer wrote before orjson

HOSTILE_DETAILS = [
    pytest.param({}, id="empty-object"),
    pytest.param({"n": 2**70, "neg": -(2**70)}, id="int-beyond-64-bits"),
    pytest.param({"max": 2**64 - 1, "min": -(2**63), "over": 2**64}, id="int-at-64-bit-edges"),
    pytest.param({"big": 1e20, "tenth": 0.1, "negzero": -0.0, "whole": 3.0, "int": 3}, id="floats-and-ints"),
    pytest.param({"tiny": 1e-7, "sub": 5e-324, "max": 1.7976931348623157e308}, id="float-exponents"),
    pytest.param({"small": 2.5e-5, "edge": 1e-4}, id="floats-under-1e-4"),
    pytest.param({"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}, id="nan-and-infinity"),
    pytest.param({"text": "café 日本語 😀 \u2028\u2029", "name": "Ünïcödé"}, id="unicode"),
    pytest.param({"esc": '"quote" \\back\\ /slash \n\r\t\b\f \x00\x1f\x7f </script>'}, id="escapes"),
    pytest.param({"lone": "\ud800", "pair": json.loads('"\\ud83d\\ude00"')}, id="surrogates"),
    pytest.param({'k\u00e9y "q"': "v", "": ""}, id="odd-keys"),
    pytest.param({"a": [1, [2, [3, {"b": {"c": [None, True, False, "", [], {}]}}]]]}, id="nested"),
    pytest.param(
        {"none": None, "looks": "null", "num": "1e-07", "zeros": "0.00001"}, id="null-and-float-like-strings"
    ),
    pytest.param({"deep": json.loads("[" * 300 + "]" * 300)}, id="nesting-beyond-orjson-limit"),
]


def raw_details(lake: Path) -> list[str]:
    return [row["detail"] for row in read(lake / "events")]


@pytest.mark.parametrize("detail", HOSTILE_DETAILS)
def test_the_raw_detail_reads_back_as_exactly_the_event_detail(tmp_path, detail):
    LakeWriter(tmp_path).write([{**envelope(), "detail": detail}])
    [text] = raw_details(tmp_path)
    assert repr(json.loads(text)) == repr(detail)  # repr: 1.0 is not 1, -0.0 is not 0.0, nan is nan
    assert text == JSON_TEXT(detail)


class Label(str):
    pass


@pytest.mark.parametrize(
    "detail",
    [
        pytest.param({1: "a", False: "b", None: "c"}, id="non-string-keys"),
        pytest.param({Label("key"): Label("value")}, id="str-subclasses"),
        pytest.param({"n": np.float64(0.1)}, id="float-subclass"),
    ],
)
def test_details_no_put_events_entry_can_hold_are_written_as_json_writes_them(tmp_path, detail):
    # Publishers in this process hand the writer Python dicts: what json wrote, it still writes.
    LakeWriter(tmp_path).write([{**envelope(), "detail": detail}])
    assert raw_details(tmp_path) == [JSON_TEXT(detail)]


def test_a_detail_json_cannot_write_still_fails_rather_than_being_made_up(tmp_path):
    with pytest.raises(TypeError):
        LakeWriter(tmp_path).write([{**envelope(), "detail": {"at": datetime(2026, 11, 20, tzinfo=UTC)}}])


def test_seeded_random_floats_and_characters_are_written_as_json_writes_them(tmp_path):
    draw = random.Random(7)
    floats = [struct.unpack("<d", draw.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(2_000)]
    floats += [draw.uniform(1, 10) * 10.0 ** draw.randrange(-12, 22) for _ in range(2_000)]
    code_points = [
        draw.choice([draw.randrange(0x80), draw.randrange(0xD800), draw.randrange(0xE000, 0x110000)])
        for _ in range(5_000)
    ]
    characters = "".join(map(chr, code_points))
    details = [{"float": x} for x in floats] + [{"text": characters[i : i + 50]} for i in range(0, 5_000, 50)]
    LakeWriter(tmp_path).write([{**envelope(), "id": f"e{i}", "detail": d} for i, d in enumerate(details)])
    by_id = {row["id"]: row["detail"] for row in read(tmp_path / "events")}
    assert [by_id[f"e{i}"] for i in range(len(details))] == [JSON_TEXT(d) for d in details]
