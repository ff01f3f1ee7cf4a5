"""An empty lake: every page says there is nothing yet and what to do, without an error."""

from __future__ import annotations

import pytest

from tests.app.apptest import open_app, open_page

pytestmark = pytest.mark.usefixtures("on_empty_lake")

SEED_HINT = "make run"


def hints(at) -> list[str]:
    return [element.value for element in at.info]


def assert_says_what_to_do(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert any(SEED_HINT in text for text in hints(at)), hints(at)
    assert not at.metric and not at.get("plotly_chart")


def test_overview_on_an_empty_lake():
    assert_says_what_to_do(open_app())


@pytest.mark.parametrize(
    "page",
    [
        pytest.param("event_rates", id="event-rates"),
        pytest.param("delivery_health", id="delivery-health"),
        pytest.param("campaigns", id="campaigns"),
        pytest.param("demand_forecast", id="demand-forecast"),
        pytest.param("event_explorer", id="event-explorer"),
    ],
)
def test_dashboard_on_an_empty_lake(page):
    assert_says_what_to_do(open_page(page))


def test_saved_query_on_an_empty_lake_runs_and_says_no_rows():
    at = open_page("saved_queries")
    at.button(key="sq_run").click().run()
    assert not at.exception and not at.error
    assert any("no rows" in text for text in hints(at)), hints(at)
    assert at.metric[0].value == "0"
