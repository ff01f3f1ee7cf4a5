import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from app.lake.tables import ORDERS
from app.lake.writer import LakeWriter


def envelope(detail_type="OrderPlaced", source="verticals.shop", time="2026-11-20T10:00:00Z", **detail):
    return {
        "version": "0", "id": f"id-{detail_type}-{time}-{len(detail)}", "detail-type": detail_type,
        "source": source, "account": "123456789012", "time": time, "region": "us-east-1",
        "resources": [], "detail": detail,
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


@pytest.mark.parametrize("bad", [
    pytest.param({"amount": "twelve"}, id="text-for-number"),
    pytest.param({"quantity": True}, id="bool-for-int"),
    pytest.param({"order_id": {"nested": 1}}, id="object-for-string"),
    pytest.param({"quantity": 1.5}, id="fraction-for-int"),
])
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
