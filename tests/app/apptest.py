"""Opening the app in AppTest, the way a browser would: a URL's range, then a page."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.settings import REPO_ROOT

APP = REPO_ROOT / "dashboard" / "streamlit_app.py"
TIMEOUT = 60


def open_app(range_query: dict[str, str] | None = None) -> AppTest:
    """The app's first run (the Overview), with the range the URL carries."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in (range_query or {}).items():
        at.query_params[key] = value
    return at.run()


def open_page(page: str, range_query: dict[str, str] | None = None) -> AppTest:
    at = open_app(range_query)
    return at.switch_page(f"../pages/{page}.py").run()  # relative to the router's folder
