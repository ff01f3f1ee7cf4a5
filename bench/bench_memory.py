"""Memory of the dashboard: the Streamlit server's RSS after visiting every page, and what
each page's data calls allocate and keep.

Server mode (default): starts ``streamlit run dashboard/streamlit_app.py`` over ``--lake``
(a temporary HOME, 127.0.0.1, a free port), visits every page for each ``--ranges`` in
headless chromium (/usr/bin/chromium, never a downloaded browser) and prints the server's
resident memory (VmRSS, and its peak VmHWM, from /proc) after start and after each page.

Profile mode (``--profile``): in this process, each page's data calls (bench_pages.py's
PAGE_CALLS) under tracemalloc: the peak Python allocation of the call and the deep size
of what it returns — what ``st.cache_data`` keeps per entry.

    .venv/bin/python bench/bench_memory.py --lake /tmp/lake [--ranges 30d 365d] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CHROMIUM = "/usr/bin/chromium"
PAGES = [  # (url path, heading the page shows once drawn)
    ("", "Overview"),
    ("event_rates", "Event rates"),
    ("delivery_health", "Delivery health"),
    ("campaigns", "Campaigns"),
    ("demand_forecast", "Demand forecast"),
    ("saved_queries", "Saved queries"),
    ("event_explorer", "Event explorer"),
]
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(lake: Path, home: Path) -> Iterator[tuple[str, int]]:
    import requests

    port = _free_port()
    env = {**os.environ, "VERTICALS_LAKE": str(lake), "HOME": str(home)}
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/streamlit_app.py"]
    command += ["--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1"]
    command += ["--browser.gatherUsageStats", "false"]
    quiet = subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=quiet, stderr=quiet)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/_stcore/health", timeout=1).ok:
                    break
            time.sleep(0.5)
        else:
            raise SystemExit("streamlit did not start")
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_mode(lake: Path, ranges: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as home, serve(lake, Path(home)) as (url, pid), sync_playwright() as p:
        print(f"lake {lake}\n{'after':40}{'RSS MB':>10}{'peak MB':>10}{'seconds':>10}")
        print(f"{'start':40}" + "".join(f"{v:>10.0f}" for v in rss_mb(pid)))
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)  # HOME is temporary
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for key in ranges:
            for path, title in PAGES:
                started = time.perf_counter()
                page.goto(f"{url}/{path}?range={key}")
                page.get_by_role("heading", name=title).first.wait_for(timeout=180_000)
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=180_000
                )
                seconds = time.perf_counter() - started
                page.wait_for_timeout(1500)  # charts finish drawing; a late rerun shows its widget
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=180_000
                )
                rss, peak = rss_mb(pid)
                print(f"{title + ' ' + key:40}{rss:>10.0f}{peak:>10.0f}{seconds:>10.1f}", flush=True)
        browser.close()
        time.sleep(2)
        print(f"{'end':40}" + "".join(f"{v:>10.0f}" for v in rss_mb(pid)))


def deep_size(value: object) -> int:
    """Bytes of the frames (deep) and arrays a result holds, one level into dataclasses,
    tuples, lists and dicts."""
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(deep=True).sum())
    if isinstance(value, pd.Series):
        return int(value.memory_usage(deep=True))
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(deep_size(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(deep_size(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return sum(deep_size(getattr(value, f)) for f in value.__dataclass_fields__)
    return 0


def duckdb_mb(engine: object) -> float:
    """What the engine's DuckDB database holds in its buffer manager (0 for another engine)."""
    db = getattr(engine, "_db", None)
    if db is None:
        return 0.0
    return (db.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0] or 0) / 2**20


def profile_mode(lake: Path, ranges: list[str]) -> None:
    from bench_pages import PAGE_CALLS

    from app.services.context import build_context
    from app.services.timerange import preset_range
    from app.settings import load_settings

    settings = load_settings().replace(lake=str(lake.resolve()))
    now = datetime.now(UTC)
    import pyarrow as pa

    print(f"arrow memory pool: {pa.default_memory_pool().backend_name}")
    head = f"{'page data call':36}{'range':>6}{'peak MB':>10}{'kept MB':>10}{'DuckDB MB':>10}{'arrow MB':>10}"
    head += f"{'RSS MB':>10}"
    print(f"lake {lake}\n{head}")
    for key in ranges:
        rng = preset_range(key, now)
        for name, call in PAGE_CALLS.items():
            ctx = build_context(settings)
            tracemalloc.start()
            result = call(ctx, rng)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            kept = deep_size(result) / 2**20
            rss = rss_mb(os.getpid())[0]
            duck = duckdb_mb(ctx.engine)
            arrow = pa.total_allocated_bytes() / 2**20
            figures = f"{peak / 2**20:>10.1f}{kept:>10.2f}{duck:>10.0f}{arrow:>10.0f}{rss:>10.0f}"
            print(f"{name:36}{key:>6}{figures}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", type=Path, required=True)
    parser.add_argument("--ranges", nargs="+", default=["30d", "365d"])
    parser.add_argument("--profile", action="store_true", help="data calls under tracemalloc, no server")
    args = parser.parse_args()
    (profile_mode if args.profile else server_mode)(args.lake.resolve(), args.ranges)


if __name__ == "__main__":
    main()
