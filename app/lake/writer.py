"""Write events into the Parquet lake: the raw ``events`` table and the typed entity tables.

Layout (Hive partitions, the same keys Athena's partition projection uses)::

    <lake>/events/dt=2026-11-25/source=verticals.shop/part-<stamp>-<id>.parquet
    <lake>/events/dt=2026-11-25/source=aws.partner%2Fexample.com%2F123/part-….parquet
    <lake>/orders/dt=2026-11-25/part-<stamp>-<id>.parquet

Partition columns live in the path only, their values encoded (app/lake/paths.py: a
source is kept exactly as sent and can never add a folder level); a source too long for a
folder name also goes into its files' ``source_value`` column. Every path is checked to be
inside the lake before anything is written (:class:`LakePathError` otherwise), and an
event whose date or source can't make a partition is refused before any file of the
batch is written. A file appears atomically: it is written under a
hidden ``.tmp`` name in its partition folder, then renamed (a reader's ``*.parquet`` glob
never sees a half-written file, and a crash leaves only a ``.tmp`` to sweep).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from app import clock
from app.events import TIME_FORMAT
from app.lake.paths import LakePathError, check_dt, exact_column, folder_name, inside, is_long
from app.lake.rollups import LEAD_DETAIL_TYPE, closed_days, mark_dirty
from app.lake.tables import EVENTS, ORDERS, TABLE_FOR_DETAIL_TYPE, TABLES, Column, Table

TABLE_NAME_FOR_DETAIL_TYPE = {detail_type: t.name for detail_type, t in TABLE_FOR_DETAIL_TYPE.items()}

COMPRESSION = "zstd"


def partition_dir(root: Path, table: Table, **keys: str) -> Path:
    """The partition folder of ``table`` for these key values, always inside ``root``."""
    path = Path(root) / table.name
    for name in table.partitions:
        path = path / folder_name(name, keys[name])
    inside(root, path)
    return path


def write_parquet_atomic(
    table: pa.Table, folder: Path, prefix: str = "part", *, root: Path | None = None
) -> Path:
    """Write ``table`` to a new file in ``folder``, visible only once complete.

    ``root``: the folder the file must stay inside (the lake); :class:`LakePathError`
    before anything is written when it would not (``..``, a symlink out, a ``/`` in
    ``prefix``).
    """
    if not prefix or "/" in prefix or "\\" in prefix or prefix.startswith("."):
        raise LakePathError(f"Refusing the file name prefix {prefix!r}: it must be a plain name.")
    if root is not None:
        inside(root, folder)
    folder.mkdir(parents=True, exist_ok=True)
    if root is not None:
        inside(root, folder)  # again, now that it exists: a symlink made meanwhile
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    final = folder / f"{prefix}-{stamp}-{uuid.uuid4().hex[:12]}.parquet"
    tmp = folder / f".{final.name}.tmp"
    try:
        pq.write_table(table, tmp, compression=COMPRESSION)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a disk full mid-write: give the partial file's space back
        raise
    return final


def _timestamps(texts: Sequence[str]) -> pa.Array:
    return pc.strptime(pa.array(texts, pa.string()), format=TIME_FORMAT, unit="ms").cast(
        pa.timestamp("ms", tz="UTC")
    )


def _coerce(value: Any, column: Column) -> Any:
    """One detail value as the column's type, or None when it does not fit.

    Publishers are other departments' code: a wrong type must not cost the event (the raw
    table keeps it whole), only that field in the typed table.
    """
    try:
        if column.type == "string":
            return value if isinstance(value, str) else (None if value is None else json.dumps(value))
        if column.type in ("bigint", "double"):
            if isinstance(value, bool) or value is None:
                return None
            number = float(value)
            return (
                int(number)
                if column.type == "bigint" and number.is_integer()
                else (number if column.type == "double" else None)
            )
        if column.type == "boolean":
            return value if isinstance(value, bool) else None
        if column.type == "date":
            return datetime.strptime(value, "%Y-%m-%d").date() if isinstance(value, str) else None
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def _column_array(values: list[Any], column: Column) -> pa.Array:
    # Arrow truncates 1.5 to 1 and takes True for 1 in an int64 column: only exact ints
    # take the fast path there.
    if column.type == "bigint" and not all(type(v) is int or v is None for v in values):
        return pa.array([_coerce(v, column) for v in values], column.arrow_type)
    try:
        if column.type == "date":
            return pa.array(values, pa.string()).cast(pa.date32())
        return pa.array(values, column.arrow_type)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return pa.array([_coerce(v, column) for v in values], column.arrow_type)


_json_text = json.JSONEncoder(separators=(",", ":")).encode  # built once, not per event

# orjson refuses what it does not take for JSON (these options add subclasses, dataclasses
# and datetimes to that), and every refusal goes to json: nothing json wrote is lost.
_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
)
_DIGIT_EXPONENT = re.compile(r"\de-")


def _may_differ_from_json(text: str) -> bool:
    """Whether orjson's text may differ from json's for the same value: then json writes it.

    Where they differ: orjson writes NaN and Infinity as ``null`` (json.loads, and so
    PutEvents' validation here, accepts them: the value would be lost), non-ASCII and DEL
    unescaped, and floats under 1e-4 as ``1e-7`` or ``0.00001`` (json: ``1e-07``, ``1e-05``).
    A string value can trip a test too; that costs only the json call.
    """
    return (
        not text.isascii()
        or "null" in text
        or "\x7f" in text
        or "0.0000" in text
        or ("e-" in text and _DIGIT_EXPONENT.search(text) is not None)
    )


def _compact_json(detail: Any) -> str:
    """json's compact text of ``detail``, character for character, mostly made by orjson.

    The json encoder was a quarter of the writer's time; this is 2.5-3x faster on the
    simulated enterprise's details (bench/bench_writer.py). Beyond json, orjson writes only
    UUIDs and Enums (json raises on them), which no PutEvents detail holds.
    """
    try:
        text = orjson.dumps(detail, option=_ORJSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError: ints past 64 bits, non-str keys, lone surrogates, depth > 255
        return _json_text(detail)
    return _json_text(detail) if _may_differ_from_json(text) else text


def raw_events_table(events: Sequence[dict], replay_name: str | None, ingested_at: datetime) -> pa.Table:
    n = len(events)
    ingested = pa.array([ingested_at] * n, pa.timestamp("ms", tz="UTC"))
    table = pa.table(
        {
            "id": pa.array([e["id"] for e in events], pa.string()),
            "version": pa.array([e.get("version", "0") for e in events], pa.string()),
            "detail_type": pa.array([e["detail-type"] for e in events], pa.string()),
            "account": pa.array([e.get("account") for e in events], pa.string()),
            "time": _timestamps([e["time"] for e in events]),
            "region": pa.array([e.get("region") for e in events], pa.string()),
            "resources": pa.array([e.get("resources") or [] for e in events], pa.list_(pa.string())),
            "detail": pa.array([_compact_json(e["detail"]) for e in events], pa.string()),
            "replay_name": pa.array([replay_name] * n, pa.string()),
            "ingested_at": ingested,
        },
        schema=EVENTS.arrow_schema(),
    )
    source = events[0]["source"] if events else ""
    if source and is_long(source):  # the folder name can't hold it: the file does
        table = table.append_column(exact_column("source"), pa.array([source] * n, pa.string()))
    return table


def event_partition(event: dict) -> tuple[str, str]:
    """(dt, source) of an event's raw partition, or :class:`LakePathError` saying why the
    event can't have one."""
    time, source = event.get("time"), event.get("source")
    if not isinstance(time, str) or not time.endswith("Z") or len(time) != 20:
        raise LakePathError(
            f"Event {event.get('id')!r} has no UTC time of the form 2026-01-31T12:00:00Z: {time!r}."
        )
    try:
        check_dt(time[:10])
        folder_name("source", source)  # type: ignore[arg-type]  # refuses non-strings
    except LakePathError as exc:
        raise LakePathError(f"Event {event.get('id')!r}: {exc}") from None
    return time[:10], source  # type: ignore[return-value]


def entity_table(table: Table, events: Sequence[dict]) -> pa.Table:
    arrays = {
        "event_id": pa.array([e["id"] for e in events], pa.string()),
        "time": _timestamps([e["time"] for e in events]),
        "detail_type": pa.array([e["detail-type"] for e in events], pa.string()),
    }
    details = [e["detail"] for e in events]
    for column in table.columns[3:]:
        key = column.key
        arrays[column.name] = _column_array([d.get(key) for d in details], column)
    return pa.table(arrays, schema=table.arrow_schema())


class LakeWriter:
    """Appends events to the lake; every call writes at most one file per partition."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def write(
        self, events: Iterable[dict], *, replay_name: str | None = None, ingested_at: datetime | None = None
    ) -> list[Path]:
        ingested_at = ingested_at or clock.now()
        raw_parts: dict[tuple[str, str], list[dict]] = defaultdict(list)
        # Keyed by table *name*: hashing the frozen Table (all its columns) per event cost
        # a quarter of the writer's time.
        entity_parts: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for event in events:
            dt, source = event_partition(event)
            raw_parts[(dt, source)].append(event)
            table_name = TABLE_NAME_FOR_DETAIL_TYPE.get(event["detail-type"])
            if table_name is not None and isinstance(event.get("detail"), dict):
                entity_parts[(table_name, dt)].append(event)
        # A write into a closed day makes its rollups stale: marked before (a crash after
        # the write) and after (a rollup built meanwhile read the day without it).
        late = closed_days({dt for dt, _ in raw_parts})
        late_orders = {
            dt
            for (name, dt), group in entity_parts.items()
            if name == ORDERS.name and dt in late and any(e["detail-type"] == LEAD_DETAIL_TYPE for e in group)
        }
        mark_dirty(self.root, late, late_orders)
        written: list[Path] = []
        try:
            for (dt, source), group in raw_parts.items():
                folder = partition_dir(self.root, EVENTS, dt=dt, source=source)
                table = raw_events_table(group, replay_name, ingested_at)
                written.append(write_parquet_atomic(table, folder, root=self.root))
            for (table_name, dt), group in entity_parts.items():
                table = TABLES[table_name]
                folder = partition_dir(self.root, table, dt=dt)
                written.append(write_parquet_atomic(entity_table(table, group), folder, root=self.root))
        except BaseException:
            # All or nothing: a call that fails (a full disk) leaves no file behind, so its
            # retry writes each event once.
            for path in written:
                path.unlink(missing_ok=True)
            raise
        mark_dirty(self.root, late, late_orders)
        return written
