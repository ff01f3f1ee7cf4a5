"""The Event explorer's search (day windows newest first; ``detail`` read by the same top-N
query on an engine that says ``wide_top_n``, else by a second pass over the rows shown)
answers exactly what one query over the whole range gives, either way.

Random filters (sources, detail types, text that is an event id, an order id, a fragment
of a detail, or absent; limits; ranges from minutes to the lake's whole length, custom
days in three time zones) over the small seeded lake, compared frame for frame.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from app.engines.duckdb_engine import DuckDBEngine
from app.services import explorer
from app.services.common import run_sql, to_local_time
from app.services.context import Context
from app.services.timerange import CUSTOM, TimeRange, custom_range
from app.settings import load_settings
from tests.instant import NOW

ZONES = ("UTC", "America/New_York", "Asia/Kolkata")

# The search as it was: one query over the range, reading every row's detail.
ONE_QUERY_SQL = """
SELECT time, source, detail_type, id, json_extract_scalar(detail, '$.order_id') AS order_id, detail
FROM events
WHERE dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to{filters}
ORDER BY time DESC, id, source, detail_type
LIMIT {limit}
"""


def one_query(ctx: Context, rng: TimeRange, query: explorer.EventQuery) -> pd.DataFrame:
    narrow, params = explorer.find_sql(query)
    filters = narrow.split("AND time < :t_to", 1)[1].split("ORDER BY", 1)[0].rstrip()
    sql = ONE_QUERY_SQL.replace("{filters}", filters).replace("{limit}", str(explorer.row_limit(query)))
    frame = run_sql(ctx, sql, rng, **params)
    text = frame["id"].dtype  # the page's text type, also for a column of nulls only
    frame = frame.assign(order_id=frame["order_id"].astype(text), detail=frame["detail"].astype(text))
    frame["time"] = to_local_time(frame["time"], ctx.settings.timezone)
    frame.insert(1, "department", frame["source"].map(explorer._department))
    frame["summary"] = frame["detail"].map(explorer._summary)
    return frame[explorer.SHOWN]


class Recording:
    """The DuckDB engine, remembering each query and the days it was allowed to read;
    ``wide``: whether it says a top-N query should select ``detail`` itself (DuckDB does;
    Athena not)."""

    name = "duckdb"

    def __init__(self, engine: DuckDBEngine, wide: bool = True):
        self.engine, self.lake, self.calls = engine, engine.lake, []
        self.wide_top_n = wide

    def run(self, sql, params=None, *, days=None):
        self.calls.append((sql, days))
        return self.engine.run(sql, params, days=days)

    def tables(self):
        return self.engine.tables()


@pytest.fixture(scope="module")
def engine(seeded_lake: Path) -> DuckDBEngine:
    return DuckDBEngine(seeded_lake)


def context(engine, zone: str = "UTC") -> Context:
    settings = load_settings({"VERTICALS_TIMEZONE": zone, "VERTICALS_LAKE": str(engine.lake)})
    return Context(settings, engine, None, None, "local", str(engine.lake), ())  # type: ignore[arg-type]


def samples(engine: DuckDBEngine, rnd: random.Random) -> tuple[list[str], list[str], list[str]]:
    frame = engine.run(
        "SELECT id, json_extract_scalar(detail, '$.order_id') AS order_id, detail FROM events "
        "WHERE dt BETWEEN :a AND :b",
        {"a": (NOW - timedelta(days=40)).date().isoformat(), "b": NOW.date().isoformat()},
    ).frame.sample(200, random_state=rnd.randrange(1 << 30))
    fragments = [d[len(d) // 3 : len(d) // 3 + 8] for d in frame["detail"]]
    return list(frame["id"]), list(frame["order_id"].dropna()), fragments


def random_query(rnd: random.Random, ids, orders, fragments) -> explorer.EventQuery:
    sources = tuple(rnd.sample(explorer.source_choices(), rnd.choice([0, 0, 1, 2, 3])))
    types = explorer.detail_type_choices(sources)
    detail_types = tuple(rnd.sample(types, min(len(types), rnd.choice([0, 0, 1, 2]))))
    found = [rnd.choice(ids), rnd.choice(orders), rnd.choice(fragments)]
    text = rnd.choice(["", "", "", *found, "nowhere-at-all"])
    return explorer.EventQuery(sources, detail_types, text, rnd.choice([500, 500, 37, 1]))


def random_range(rnd: random.Random) -> tuple[TimeRange, str]:
    zone = rnd.choice(ZONES)
    if rnd.random() < 0.3:
        last = NOW.date() - timedelta(days=rnd.randrange(0, 10))
        return custom_range(last - timedelta(days=rnd.randrange(0, 70)), last, zone), zone
    end = NOW - timedelta(seconds=rnd.randrange(0, 5 * 86_400))
    length = timedelta(seconds=rnd.choice([600, 3 * 3600, 86_400 * rnd.randrange(1, 70)]))
    return TimeRange(end - length, end, CUSTOM, "random"), zone


@pytest.mark.parametrize("wide", [True, False], ids=["one pass", "two passes"])
def test_the_search_answers_what_one_query_does(engine, wide):
    rnd = random.Random(13)
    ids, orders, fragments = samples(engine, rnd)
    kinds = set()
    for _ in range(40):
        rng, zone = random_range(rnd)
        query = random_query(rnd, ids, orders, fragments)
        ctx = context(Recording(engine, wide), zone)
        want, got = one_query(ctx, rng, query), explorer.find_events(ctx, rng, query)
        pd.testing.assert_frame_equal(got, want, obj=f"{query} over {rng}")
        kinds.add("empty" if want.empty else "full" if len(want) == explorer.row_limit(query) else "partial")
    # The draws reached the cases that matter: full pages, partial pages, empty answers.
    assert kinds == {"empty", "full", "partial"}


def test_without_wide_top_n_detail_is_read_in_a_second_pass(engine):
    recording = Recording(engine, wide=False)
    rng = TimeRange(NOW - timedelta(days=50), NOW, CUSTOM, "50 days")
    found = explorer.find_events(context(recording), rng, explorer.EventQuery())
    assert len(found) == explorer.MAX_ROWS
    *narrow, (detail_sql, detail_days) = recording.calls
    assert narrow and not any(re.search(r"\bdetail\b", sql) for sql, _ in narrow)
    assert re.search(r"\bdetail\b", detail_sql)
    shown_days = {t.date().isoformat() for t in found["time"]}  # UTC zone: local days are UTC days
    assert set(detail_days["events"]) == shown_days
    assert len(shown_days) <= 2  # the seeded lake holds 3,000 events a day: 500 fit in the newest day or two


def test_with_wide_top_n_one_query_per_window(engine):
    recording = Recording(engine, wide=True)
    rng = TimeRange(NOW - timedelta(days=50), NOW, CUSTOM, "50 days")
    found = explorer.find_events(context(recording), rng, explorer.EventQuery())
    assert len(found) == explorer.MAX_ROWS
    windows = list(explorer.day_windows(rng))[: len(recording.calls)]
    assert [days["events"] for _, days in recording.calls] == [explorer._days(w) for w in windows]
    assert all(re.search(r"\bdetail\b", sql) for sql, _ in recording.calls)


def test_windows_cover_the_range_once_newest_first():
    rng = TimeRange(NOW - timedelta(days=20, hours=5), NOW, CUSTOM, "r")
    windows = list(explorer.day_windows(rng))
    assert windows[0].end == rng.end and windows[-1].start == rng.start
    assert all(a.start == b.end for a, b in itertools.pairwise(windows))
    assert windows[0].dt_from == NOW.date().isoformat()
    assert windows[1].dt_from == (NOW.date() - timedelta(days=2)).isoformat()
    assert len(windows) == 5  # 12 hours, 2, 4, 8 days, then the 5 days 17 hours left of 16


def test_the_text_is_found_in_any_case(engine):
    """An event id pasted in capitals, an order id typed in lower case, a word of the detail
    in either: each finds what the text in its own case finds, and the rows a plain
    case-blind look at the same events picks (id equal, or the text inside the detail)."""
    rnd = random.Random(20261207)
    ctx = context(Recording(engine))
    rng = TimeRange(NOW - timedelta(days=3), NOW, CUSTOM, "3 days")
    every = engine.run(
        "SELECT id, detail FROM events WHERE dt BETWEEN :a AND :b AND time >= :s AND time < :e",
        {"a": rng.dt_from, "b": rng.dt_to, "s": rng.start, "e": rng.end},
    ).frame
    texts = []
    for _, row in every.sample(frac=1.0, random_state=rnd.randrange(1 << 30)).iterrows():
        fields = json.loads(row["detail"])
        words = [v for k, v in fields.items() if isinstance(v, str) and not k.endswith("_id") and v.isalpha()]
        if "order_id" in fields and words:
            texts = [row["id"], fields["order_id"], words[0]]
            break
    assert texts, "the lake has events with an order id and a word in their detail"
    for text in texts:
        as_written = explorer.find_events(ctx, rng, explorer.EventQuery(text=text))
        for other in {text.upper(), text.lower(), text.swapcase()}:
            found = explorer.find_events(ctx, rng, explorer.EventQuery(text=other))
            pd.testing.assert_frame_equal(found, as_written, obj=f"{other!r} against {text!r}")
        wanted = every[
            (every["id"].str.lower() == text.lower())
            | every["detail"].str.lower().str.contains(text.lower(), regex=False)
        ]
        assert len(as_written) == min(len(wanted), explorer.MAX_ROWS) > 0
        assert set(as_written["id"]) <= set(wanted["id"])


def test_an_event_whose_detail_spells_half_a_utf16_pair_is_shown_not_a_failure(tmp_path):
    """Such an event is refused at PutEvents now; a lake may hold one from before (or from
    another writer). DuckDB cannot read that JSON: the search reads it as no order id."""
    from app.lake.writer import LakeWriter
    from tests.fixtures_lake import FIXTURE_END, write_fixture_lake

    lake = write_fixture_lake(tmp_path / "lake")
    odd = {
        "version": "0",
        "id": "half-a-pair",
        "detail-type": "CartAbandoned",
        "source": "verticals.shop",
        "account": "123456789012",
        "time": f"{FIXTURE_END.isoformat()}T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"note": "\ud800"},
    }
    LakeWriter(lake).write([odd])
    ctx = context(DuckDBEngine(lake))
    first, end = NOW.replace(year=2026, month=3, day=2), NOW.replace(year=2026, month=3, day=5)
    rng = TimeRange(first, end, CUSTOM, "the fixture's days")
    for text in ("", "half-a-pair", "ORD"):
        assert len(explorer.find_events(ctx, rng, explorer.EventQuery(text=text))) > 0
    row = explorer.find_events(ctx, rng, explorer.EventQuery(text="HALF-A-PAIR")).iloc[0]
    assert row["id"] == "half-a-pair" and row["summary"] == "note=\\ud800"
    row["summary"].encode("utf-8")  # a table can show it


@pytest.mark.parametrize("text", ["Müller", "müller", 'said "hi"', "back\\slash", "Zürich 5°", "MÜLLER SAID"])
def test_a_word_is_found_as_typed_though_the_json_spells_it_escaped(tmp_path, text):
    """The lake's `detail` spells a non-ASCII letter \\uXXXX, a quote \\" and a backslash \\\\:
    a search for the word as the Detail column shows it found nothing."""
    from app.lake.writer import LakeWriter
    from tests.fixtures_lake import FIXTURE_END, write_fixture_lake

    lake = write_fixture_lake(tmp_path / "lake")
    note = 'Müller said "hi" from Zürich 5° back\\slash'
    event = {
        "version": "0",
        "id": "spelled",
        "detail-type": "TicketOpened",
        "source": "verticals.crm",
        "account": "123456789012",
        "time": f"{FIXTURE_END.isoformat()}T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"note": note},
    }
    LakeWriter(lake).write([event])
    ctx = context(DuckDBEngine(lake))
    first, end = NOW.replace(year=2026, month=3, day=2), NOW.replace(year=2026, month=3, day=5)
    rng = TimeRange(first, end, CUSTOM, "the fixture's days")
    found = explorer.find_events(ctx, rng, explorer.EventQuery(text=text))
    assert found["id"].tolist() == ["spelled"]
