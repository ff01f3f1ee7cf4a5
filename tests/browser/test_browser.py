"""One real-browser pass: serve the app on a seeded lake, visit every page in headless
Debian chromium, save a screenshot of each (artifacts/screenshots/), and check that each
page rendered its title and no exception. Then a deep link as a new server's first request."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from app.settings import REPO_ROOT
from tests.instant import TODAY

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


@contextlib.contextmanager
def _serve(lake: Path, home: Path, **settings: str) -> Iterator[str]:
    """A new ``streamlit run`` process of the router over ``lake``, with these extra
    environment ``settings``; yields its URL."""
    port = _free_port()
    env = {**os.environ, "VERTICALS_LAKE": str(lake), "HOME": str(home), **settings}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "dashboard/streamlit_app.py",
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
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(seeded_lake, tmp_path_factory):
    _require_chromium()
    home = tmp_path_factory.mktemp("home")
    with _serve(seeded_lake, home) as url:
        yield url


# The app root's script state, set by Streamlit's frontend: "initial" before the first run,
# "running" during one, "notRunning" once it has finished. The status widget is no such
# sign: it shows only after a run has lasted a moment, so a quick heading could come
# before it and the rest of the page after the wait had ended.
RUN_FINISHED = "[data-testid='stApp'][data-test-script-state='notRunning']"


def _wait_until_drawn(page, title: str) -> None:
    """Until ``title`` is drawn and the run that drew it has finished."""
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    page.locator(RUN_FINISHED).wait_for(timeout=60_000)


def test_every_page_renders_in_chromium(server):
    from playwright.sync_api import sync_playwright

    url = server
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)  # HOME is a temporary folder
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        elsewhere: list[str] = []  # requests to anything but the app's own server
        page.on(
            "request",
            lambda r: None if r.url.startswith((url, "data:", "blob:")) else elsewhere.append(r.url),
        )
        for path, title in PAGES:
            page.goto(f"{url}/{path}?range=30d")
            _wait_until_drawn(page, title)
            page.wait_for_timeout(1500)  # let plotly finish drawing
            page.screenshot(path=str(SHOTS / f"{path or 'overview'}.png"), full_page=True)
            assert page.locator("[data-testid='stException']").count() == 0, f"{title} raised an exception"
        browser.close()
    assert len(list(SHOTS.glob("*.png"))) == len(PAGES)
    assert not elsewhere, f"the pages asked other hosts: {sorted(set(elsewhere))}"


def test_a_deep_link_is_the_first_request_of_a_new_server(seeded_lake, tmp_path):
    """The first run of a server opens a page by its URL, with days in the query: the page
    is drawn through the router (its navigation and sidebar), with the link's days."""
    from playwright.sync_api import sync_playwright

    _require_chromium()
    today = TODAY
    first, last = (today - timedelta(days=6)).isoformat(), (today - timedelta(days=1)).isoformat()
    with _serve(seeded_lake, tmp_path) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)  # HOME is a temporary folder
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/event_rates?from={first}&to={last}")
        _wait_until_drawn(page, "Event rates")
        sidebar = page.get_by_test_id("stSidebar")
        assert sidebar.get_by_test_id("stSidebarNavLink").count() == len(PAGES)
        assert sidebar.get_by_text("Days (both included)").is_visible()  # the custom days picker
        span = f"{date.fromisoformat(first):%d %b %Y} – {date.fromisoformat(last):%d %b %Y}"
        assert page.get_by_text(span).count() > 0  # the page's caption names the link's days
        assert page.url == f"{url}/event_rates?from={first}&to={last}"
        assert page.locator("[data-testid='stException']").count() == 0
        browser.close()


AUTH_SECRETS = """[auth]
redirect_uri = "http://127.0.0.1:8501/oauth2callback"
cookie_secret = "a-cookie-secret-for-tests-only-0123456789"
client_id = "verticals"
client_secret = "not-a-secret"
server_metadata_url = "https://idp.example/.well-known/openid-configuration"
"""


def test_a_signed_out_visitor_sees_nothing_but_the_sign_in_prompt(seeded_lake, tmp_path):
    """Sign-in by OIDC, nobody signed in: every page, the deep links too, shows the prompt
    and no data, no navigation to the other pages."""
    from playwright.sync_api import sync_playwright

    _require_chromium()
    (tmp_path / ".streamlit").mkdir()  # Streamlit reads secrets from $HOME/.streamlit too
    (tmp_path / ".streamlit" / "secrets.toml").write_text(AUTH_SECRETS)
    with _serve(seeded_lake, tmp_path, VERTICALS_SIGN_IN="oidc") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path in ("", "/delivery_health", "/saved_queries?range=7d"):
            page.goto(f"{url}{path}")
            page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)  # drawn after the text
            page.locator(RUN_FINISHED).wait_for(timeout=60_000)
            assert page.get_by_text("Sign in to see the dashboards.").count() == 1
            assert page.get_by_role("button", name="Sign in").count() == 1
            assert page.get_by_test_id("stSidebarNavLink").count() == 0
            assert page.get_by_test_id("stDataFrame").count() == 0
            assert page.get_by_test_id("stMetric").count() == 0
        browser.close()


def test_a_manager_can_neither_redrive_nor_open_saved_queries(seeded_lake, tmp_path):
    from playwright.sync_api import sync_playwright

    _require_chromium()
    with _serve(seeded_lake, tmp_path, VERTICALS_LOCAL_ROLES="manager") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/delivery_health?range=30d")
        _wait_until_drawn(page, "Delivery health")
        page.get_by_text("Redriving dead letters is for ops.").wait_for(timeout=60_000)
        assert page.get_by_role("button", name="Redrive").count() == 0
        assert [
            link.inner_text().split("\n")[-1] for link in page.get_by_test_id("stSidebarNavLink").all()
        ] == ["Overview", "Event rates", "Delivery health", "Campaigns", "Demand forecast"]
        page.goto(f"{url}/saved_queries")
        page.get_by_text("Only analyst or ops may open Saved queries").wait_for(timeout=60_000)
        assert page.get_by_test_id("stDataFrame").count() == 0
        browser.close()
