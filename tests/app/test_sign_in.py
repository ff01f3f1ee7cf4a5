"""Sign-in and roles, as a browser session meets them: a signed-out visitor sees only the
prompt, a manager can neither open Saved queries nor redrive (even by forcing the action),
ops can, and the audit trail records it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from app import audit, ui
from app.settings import load_settings
from tests.app.apptest import APP, TIMEOUT
from tests.app.test_live_and_redrive import PICK, dead_letters, waiting  # noqa: F401 (a fixture)
from tests.test_display_and_exports import shown

AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-cookie-secret-for-tests-only-0123456789",
    "client_id": "verticals",
    "client_secret": "not-a-secret",
    "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
}
MANAGER = {"is_logged_in": True, "email": "mia@example.com", "name": "Mia", "groups": ["dash-managers"]}
OPS = {"is_logged_in": True, "email": "oli@example.com", "name": "Oli", "groups": ["sre"]}
ROLE_MAP = "dash-managers=manager,data-team=analyst,sre=ops"


@pytest.fixture
def oidc(on_empty_lake: Path, monkeypatch) -> Path:
    monkeypatch.setenv("VERTICALS_SIGN_IN", "oidc")
    monkeypatch.setenv("VERTICALS_ROLES", ROLE_MAP)
    return audit.audit_path(load_settings())


def open_as(user: dict, page: str | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.user = user
    at.secrets["auth"] = AUTH
    for key, value in (query or {"range": "24h"}).items():
        at.query_params[key] = value
    at.run()
    return at.switch_page(f"../pages/{page}.py").run() if page else at


def texts(elements) -> list[str]:
    """What each element shows (plain() breaks e-mail addresses with a zero-width space)."""
    return [shown(element.value) for element in elements]


def test_a_signed_out_visitor_sees_only_the_sign_in_prompt(oidc):
    for page in (None, "saved_queries", "delivery_health"):
        at = open_as({"is_logged_in": False}, page)
        assert not at.exception
        assert texts(at.title) == ["Verticals"]
        assert texts(at.info) == ["Sign in to see the dashboards."]
        assert [b.key for b in at.button] == ["sign_in"]
        assert not at.sidebar.children or not any(
            [at.sidebar.selectbox, at.sidebar.caption, at.sidebar.warning]
        )
        assert not at.metric and not at.dataframe and not at.get("plotly_chart")


def test_without_sign_in_the_app_refuses_to_serve_beyond_localhost(on_empty_lake):
    config.set_option("server.address", "0.0.0.0")  # the conftest fixture puts it back
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert texts(at.error) == [ui.LOCAL_ONLY]
    assert not at.metric and not at.sidebar.selectbox


@pytest.mark.parametrize("host", ["evil.example:8501", "localhost.evil.example", "127.0.0.1.nip.io:8501"])
def test_without_sign_in_a_page_reached_by_another_name_is_refused(on_empty_lake, monkeypatch, host):
    """DNS rebinding: a page of evil.example re-points its name at 127.0.0.1 and reaches the
    dashboard, but its requests name their own host."""
    monkeypatch.setattr(ui, "_request_host", lambda: host)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert texts(at.error) == [ui.LOCAL_HOST_ONLY]
    assert not at.metric and not at.sidebar.selectbox


@pytest.mark.parametrize("host", ["localhost:8501", "127.0.0.1:8501", "[::1]:8501", "LOCALHOST"])
def test_without_sign_in_this_machines_names_are_served(on_empty_lake, monkeypatch, host):
    monkeypatch.setattr(ui, "_request_host", lambda: host)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error


def test_a_manager_reads_dashboards_but_not_saved_queries(oidc):
    at = open_as(MANAGER)
    assert not at.exception and not at.error
    assert "Signed in as mia@example.com · manager" in texts(at.sidebar.caption)
    at = open_as(MANAGER, "saved_queries")
    assert texts(at.error) == [
        "Only analyst or ops may open Saved queries and the Event explorer; you are signed in as "
        "mia@example.com (manager)."
    ]
    assert not at.main.selectbox and not at.main.code  # stopped before reading the library
    at = open_as(MANAGER, "event_explorer")
    assert len(at.error) == 1 and not at.dataframe


def test_a_manager_cannot_redrive_even_by_forcing_the_action(oidc, dead_letters):  # noqa: F811
    at = open_as(MANAGER, "delivery_health")
    assert not at.exception and not at.error
    keys = {b.key for b in at.button}
    assert "dlq_redrive" not in keys and "dlq_all" not in keys
    assert "Redriving dead letters is for ops." in texts(at.caption)
    assert not any(s.value == "Audit trail" for s in at.subheader)
    # A forged pending redrive (as if the button had been drawn): the action checks again.
    at.session_state["dlq_pending"] = {"queue": "crm-webhook-dlq", "ids": dead_letters["ok"], "question": "?"}
    at.run()
    at.button(key="dlq_confirm").click().run()
    assert not at.exception
    assert texts(at.error) == [
        "Only ops may redrive dead letters; you are signed in as mia@example.com (manager)."
    ]
    assert waiting(at) == "4"
    entry = audit.read(oidc)[0]
    assert (entry.user, entry.action, entry.what, entry.count, entry.outcome) == (
        "mia@example.com",
        "redrive",
        "crm-webhook-dlq",
        3,
        "refused",
    )


def test_ops_redrives_and_the_audit_trail_records_who_what_and_how_many(oidc, dead_letters):  # noqa: F811
    at = open_as(OPS, "delivery_health")
    at.multiselect(key=PICK.format(0)).set_value(dead_letters["ok"]).run()
    at.button(key="dlq_redrive").click().run()
    at.button(key="dlq_confirm").click().run()
    assert not at.exception and not at.error
    assert texts(at.success) == ["3 of 3 messages delivered again."]
    assert waiting(at) == "1"
    entries = audit.read(oidc)
    assert [(e.action, e.user, e.via) for e in entries] == [
        ("redrive", "oli@example.com", "oidc"),
        ("sign-in", "oli@example.com", "oidc"),
    ]
    redrive = entries[0]
    assert (redrive.what, redrive.count, redrive.outcome, redrive.roles) == (
        "crm-webhook-dlq",
        3,
        "done",
        "ops",
    )
    assert redrive.detail == "3 of 3 messages delivered again."
    assert texts(at.subheader)[-1] == "Audit trail"
    trail = at.dataframe[-1].value  # the last table on the page
    assert trail["action"].tolist() == ["redrive", "sign-in"]


def test_ops_open_saved_queries(oidc):
    at = open_as(OPS, "saved_queries")
    assert not at.exception and not at.error and at.selectbox(key="sq_name")


def test_a_user_without_a_role_is_told_so(oidc):
    at = open_as({**MANAGER, "groups": ["visitors"]})
    assert len(at.error) == 1 and "no role in this dashboard" in at.error[0].value
    assert not at.metric


def test_the_local_identity_has_the_configured_roles(on_empty_lake, monkeypatch):
    monkeypatch.setenv("VERTICALS_LOCAL_ROLES", "manager")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert "Signed in as local · manager" in texts(at.sidebar.caption)
    at.switch_page("../pages/saved_queries.py").run()
    assert len(at.error) == 1 and "Only analyst or ops" in at.error[0].value
