"""One real-browser pass: serve the app on a seeded lake, visit every page in headless
Debian chromium, save a screenshot of each (artifacts/screenshots/), and check that each
page rendered its title and no exception."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from app.settings import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
SHOTS = REPO_ROOT / "artifacts" / "screenshots"
PAGES = [  # (url path, text the page must show)
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

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(seeded_lake, tmp_path_factory):
    _require_chromium()
    port = _free_port()
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "VERTICALS_LAKE": str(seeded_lake), "HOME": str(home)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "streamlit_app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_stcore/health", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"streamlit did not start: {process.stdout.read().decode()[-2000:]}")
    yield url, home
    process.terminate()
    process.wait(timeout=10)


def test_every_page_renders_in_chromium(server):
    from playwright.sync_api import sync_playwright

    url, _home = server
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)  # HOME is a temporary folder
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path, title in PAGES:
            page.goto(f"{url}/{path}?range=30d")
            page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
            )
            page.wait_for_timeout(1500)  # let plotly finish drawing
            page.screenshot(path=str(SHOTS / f"{path or 'overview'}.png"), full_page=True)
            assert page.locator("[data-testid='stException']").count() == 0, f"{title} raised an exception"
        browser.close()
    assert len(list(SHOTS.glob("*.png"))) == len(PAGES)
