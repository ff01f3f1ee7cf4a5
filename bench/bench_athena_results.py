"""Reading an Athena result: the engine's one CSV GET parsed by Arrow, against the baseline
of GetQueryResults pages (1,000 rows each) converted row by row — measured in one run.

Both start from bytes already received (network time is not measured: the page path also
needs one API round trip per 1,000 rows, the CSV path two calls in all — printed as calls).

Run: .venv/bin/python bench/bench_athena_results.py [rows]
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app.engines.athena import frame_from_csv

COLUMNS = [
    ("order_id", "varchar"),
    ("region", "varchar"),
    ("quantity", "bigint"),
    ("amount", "double"),
    ("day", "date"),
    ("time", "timestamp"),
    ("late", "boolean"),
]
PAGE = 1000


def rows(n: int, seed: int = 7) -> list[list[str | None]]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1)
    out = []
    for i in range(n):
        moment = start + timedelta(seconds=rng.randrange(90 * 86400))
        out.append(
            [
                f"o-{i:08d}",
                rng.choice(["east", "west", "north", "south"]),
                str(rng.randrange(1, 9)),
                f"{rng.uniform(5, 500):.2f}",
                moment.date().isoformat(),
                moment.strftime("%Y-%m-%d %H:%M:%S.000"),
                rng.choice(["true", "false", None]),
            ]
        )
    return out


def athena_csv(data: list[list[str | None]]) -> bytes:
    def cell(v: str | None) -> str:
        return "" if v is None else '"' + v.replace('"', '""') + '"'

    lines = [",".join(f'"{n}"' for n, _ in COLUMNS)] + [",".join(cell(v) for v in row) for row in data]
    return ("\n".join(lines) + "\n").encode()


def result_pages(data: list[list[str | None]]) -> list[bytes]:
    """GetQueryResults responses as they arrive (JSON), the header row in the first page."""
    header = [{"Data": [{"VarCharValue": n} for n, _ in COLUMNS]}]
    records = [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in data]
    pages = []
    for i in range(0, len(records), PAGE):
        body = (header if i == 0 else []) + records[i : i + PAGE]
        pages.append(json.dumps({"ResultSet": {"Rows": body}}).encode())
    return pages


CONVERT = {
    "varchar": str,
    "bigint": int,
    "double": float,
    "date": date.fromisoformat,
    "timestamp": lambda v: datetime.strptime(v, "%Y-%m-%d %H:%M:%S.%f"),
    "boolean": lambda v: v == "true",
}


def frame_from_pages(pages: list[bytes]) -> pd.DataFrame:
    """The baseline: parse each page, convert each cell in Python (as a DB-API cursor does)."""
    converters = [CONVERT[t] for _, t in COLUMNS]
    out = []
    for i, page in enumerate(pages):
        for row in json.loads(page)["ResultSet"]["Rows"][1 if i == 0 else 0 :]:
            cells = [c.get("VarCharValue") for c in row["Data"]]
            out.append([None if v is None else f(v) for f, v in zip(converters, cells, strict=True)])
    return pd.DataFrame(out, columns=[n for n, _ in COLUMNS])


def timed(fn, *args, repeat: int = 3) -> tuple[float, object]:
    best, result = math.inf, None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    data = rows(n)
    csv, pages = athena_csv(data), result_pages(data)
    csv_s, frame = timed(frame_from_csv, csv, COLUMNS)
    pages_s, baseline = timed(frame_from_pages, pages)
    assert len(frame) == len(baseline) == n
    assert frame["quantity"].sum() == baseline["quantity"].sum()
    print(f"rows: {n:,}   CSV {len(csv) / 1e6:.1f} MB   pages JSON {sum(map(len, pages)) / 1e6:.1f} MB")
    print(
        f"baseline  GetQueryResults pages, row by row: {pages_s:6.2f} s  {n / pages_s:>12,.0f} rows/s  "
        f"{len(pages)} API calls"
    )
    print(
        f"engine    result CSV parsed by Arrow:        {csv_s:6.2f} s  {n / csv_s:>12,.0f} rows/s  "
        "2 API calls"
    )
    print(f"ratio     {pages_s / csv_s:.1f}x faster to parse, {len(pages) / 2:.0f}x fewer calls")
    print(f"dtypes    {dict(frame.dtypes.astype(str))}")


if __name__ == "__main__":
    main()
