"""A query that a compaction overtakes: the files DuckDB listed are merged and unlinked
(app/lake/compact.py) before it opens them all. The query is run again over the merged
file; a folder merged again at every attempt is one sentence that says so, not advice to
quarantine a file that is only gone."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from app.engines import duckdb_engine
from app.engines.base import QueryError
from app.engines.duckdb_engine import DuckDBEngine
from app.lake.compact import compact_folder
from app.lake.writer import LakeWriter
from tests.lake.test_compact import event

FILES = 60  # DuckDB opens a folder's files as it scans them, not all before the first row
DAY = "2026-11-20"
COUNT = f"SELECT count(*) AS n FROM events WHERE dt = '{DAY}' AND merge_now(id)"


def engine_over_a_folder_merged_mid_query(tmp: Path, merges: Callable[[], int]) -> DuckDBEngine:
    """An engine over ``FILES`` one-event files whose query ``COUNT`` merges the folder
    while it reads it: a row it filters merges the folder's files into one, up to
    ``merges()`` times in all. After each merge ``FILES`` new one-event files appear
    beside it, so a query run again after a merge may be overtaken again."""
    lake = tmp / "lake"
    writer = LakeWriter(lake)
    for i in range(FILES):
        writer.write([event(i)])
    folder = lake / "events" / f"dt={DAY}" / "source=verticals.shop"
    small = shutil.copy(sorted(folder.glob("*.parquet"))[0], tmp / "one-event.parquet")
    engine = DuckDBEngine(lake)
    engine._db.execute("SET threads = 1")  # one scan, file after file
    done: list[int] = []

    def merge_now(_: str) -> bool:
        if len(done) < merges():
            compact_folder(folder, sorted(folder.glob("*.parquet")))
            done.append(1)
            for i in range(FILES):
                shutil.copy(small, folder / f"new-{len(done)}-{i}.parquet")
        return True

    engine._db.create_function("merge_now", merge_now, ["VARCHAR"], "BOOLEAN", side_effects=True)
    return engine


@pytest.mark.parametrize("rows", ["frame", "columns"])
def test_a_query_overtaken_by_a_compaction_reads_the_merged_file(tmp_path, rows):
    engine = engine_over_a_folder_merged_mid_query(tmp_path, merges=lambda: 1)
    # the 60 events, and the new ones (copies of one event) that came after the merge
    assert list(getattr(engine, rows)(COUNT)["n"]) == [FILES + FILES]


def test_a_folder_merged_at_every_attempt_is_one_sentence_after_the_last(tmp_path, monkeypatch):
    attempts: list[int] = []
    fetch = duckdb_engine._fetch
    monkeypatch.setattr(duckdb_engine, "_fetch", lambda *a: attempts.append(1) or fetch(*a))
    engine = engine_over_a_folder_merged_mid_query(tmp_path, merges=lambda: len(attempts))
    with pytest.raises(QueryError) as error:
        engine.frame(COUNT)
    assert len(attempts) == duckdb_engine.REPLACED_FILE_ATTEMPTS
    assert str(error.value) == (
        "The lake's files changed while the query read them (a compaction merged them); run it again."
    )
