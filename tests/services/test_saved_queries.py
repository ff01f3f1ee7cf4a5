from datetime import date

import pytest

from app.catalog import load_catalog, resolve_params
from app.services import saved_queries


def test_search_matches_every_word_in_title_or_description():
    found = saved_queries.library("Late CARRIER")
    assert "late_deliveries" in [q.name for q in found]
    for query in found:
        text = f"{query.name} {query.title} {query.description} {' '.join(query.tags)}".lower()
        assert "late" in text and "carrier" in text
    assert len(saved_queries.library("")) == len(load_catalog())
    assert saved_queries.library("no such words anywhere") == []


def test_audience_filter():
    for_ops = saved_queries.library(audience="ops")
    assert for_ops and all(q.audience == "ops" for q in for_ops)


def test_range_options_offer_the_default_phrase_first():
    param = next(p for q in load_catalog().values() for p in q.params if p.type == "daterange")
    options = saved_queries.range_options(param, date(2026, 11, 25))
    assert options[0] == " ".join(str(param.default).lower().split())
    assert len(options) == len(set(options))


@pytest.mark.parametrize("today", [date(2026, 1, 1), date(2026, 3, 31), date(2026, 12, 5), date(2028, 2, 29)])
def test_every_range_offered_is_taken_when_run(today):
    """A query that reads at most N days offers no range longer than that (event_rate_by_source
    takes 31 days; "last 90 days" and, late in a year, "year to date" would be refused)."""
    for query in load_catalog().values():
        for param in (p for p in query.params if p.type == "daterange"):
            options = saved_queries.range_options(param, today)
            assert options, (query.name, param.name)
            for option in options:
                resolve_params(query, {param.name: option}, today)  # raises ParamError if refused
    limited = next(p for p in load_catalog()["event_rate_by_source"].params if p.type == "daterange")
    assert limited.max_days == 31 and "last 90 days" not in saved_queries.range_options(limited, today)


@pytest.mark.parametrize(
    ("count", "text"),
    [
        pytest.param(512, "512 B", id="bytes"),
        pytest.param(1536, "1.5 KB", id="kb"),
        pytest.param(5 * 1024**2, "5.0 MB", id="mb"),
        pytest.param(3 * 1024**4, "3.0 TB", id="tb"),
    ],
)
def test_format_bytes(count, text):
    assert saved_queries.format_bytes(count) == text


def test_a_bad_value_names_the_parameter(settings_ctx):
    with pytest.raises(saved_queries.ParamError, match="regions"):
        saved_queries.run_saved_query(
            settings_ctx(None), "campaign_spend_vs_orders", {"regions": []}, date(2026, 11, 25)
        )
