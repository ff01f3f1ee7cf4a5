from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app import clock
from app.settings import REPO_ROOT, SETTINGS, SettingsError, load_settings


def test_defaults_need_no_environment():
    settings = load_settings(environ={})
    assert settings.backend == "local"
    assert settings.lake == REPO_ROOT / "data" / "lake"
    assert settings.max_entry_bytes == 256 * 1024


def test_environment_wins_over_secrets():
    settings = load_settings(
        environ={"VERTICALS_BACKEND": "AWS"}, secrets={"backend": "local", "cache_ttl": 60}
    )
    assert settings.backend == "aws" and settings.cache_ttl == 60


def test_absolute_lake_path_is_kept(tmp_path):
    assert load_settings(environ={"VERTICALS_LAKE": str(tmp_path)}).lake == Path(tmp_path)


@pytest.mark.parametrize(
    "env, named",
    [
        pytest.param({"VERTICALS_BACKEND": "azure"}, "VERTICALS_BACKEND", id="backend"),
        pytest.param({"VERTICALS_CACHE_TTL": "-5"}, "VERTICALS_CACHE_TTL", id="negative-ttl"),
        pytest.param({"VERTICALS_CACHE_TTL": "soon"}, "VERTICALS_CACHE_TTL", id="text-ttl"),
        pytest.param({"VERTICALS_TIMEZONE": "Mars/Olympus"}, "VERTICALS_TIMEZONE", id="timezone"),
        pytest.param({"VERTICALS_LAKE": "  "}, "VERTICALS_LAKE", id="empty-lake"),
        pytest.param({"VERTICALS_BAKEND": "local"}, "VERTICALS_BAKEND", id="misspelled-name"),
        pytest.param({"VERTICALS_NOW": "2028-02-30T10:00:00Z"}, "VERTICALS_NOW", id="no-such-day"),
        pytest.param({"VERTICALS_NOW": "2028-02-28T10:00"}, "VERTICALS_NOW", id="instant-without-zone"),
    ],
)
def test_an_invalid_value_names_the_variable(env, named):
    with pytest.raises(SettingsError, match=named):
        load_settings(environ=env)


def test_replace_validates():
    settings = load_settings(environ={})
    assert settings.replace(cache_ttl="10").cache_ttl == 10
    with pytest.raises(SettingsError):
        settings.replace(backend="gcp")


def test_every_setting_is_documented():
    docs = (REPO_ROOT / "docs" / "settings.md").read_text()
    missing = [s.env_var for s in SETTINGS if f"`{s.env_var}`" not in docs]
    assert not missing, f"document these in docs/settings.md: {missing}"


def test_the_clock_reads_verticals_now(monkeypatch):
    monkeypatch.setenv("VERTICALS_NOW", "2028-03-01T00:30:00+01:00")
    assert clock.now() == datetime(2028, 2, 29, 23, 30, tzinfo=UTC)
    assert clock.today() == date(2028, 2, 29)
    monkeypatch.setenv("VERTICALS_NOW", "tomorrow")
    with pytest.raises(SettingsError, match="VERTICALS_NOW"):
        clock.now()
    monkeypatch.setenv("VERTICALS_NOW", "")
    assert clock.now().tzinfo is not None


def test_the_test_suites_own_variables_are_not_unknown_settings(tmp_path):
    settings = load_settings(environ={"VERTICALS_TESTDATA": str(tmp_path), "VERTICALS_ANALYTICS_LAKES": "x"})
    assert settings.backend == "local"
