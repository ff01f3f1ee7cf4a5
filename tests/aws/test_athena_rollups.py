"""Rollups on Athena (app/engines/athena_rollups.py): each closed day materialized once,
marked only after its INSERTs, never double counted after a crash, claimed by one builder.

S3 is moto's; Athena is a fake that "writes" what an INSERT INTO would (one object per
rollup table and day under the table's prefix) and can fail at a chosen statement — moto
does not run Athena queries. The engine's ``execute`` itself is checked with Stubber.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from app.engines.athena import Execution
from app.engines.athena_rollups import CLAIM, DONE, STALE_CLAIM, AthenaRollups, closed_days
from app.engines.base import QueryError
from app.lake.rollup_sql import rollup_prefix
from app.lake.rollups import ROLLUP_TABLES
from app.services import rollup_plan
from tests.aws.test_athena_engine import QID, TOKEN, Clock, execution, make_engine, stubbed  # noqa: F401
from tests.instant import NOW, TODAY

BUCKET = "verticals-lake-test"


def day(ago: int) -> str:
    return (TODAY - timedelta(days=ago)).isoformat()


INSERT = re.compile(r'^INSERT INTO "(\w+)"')


class FakeAthena:
    """``execute`` as Athena would: an INSERT writes an object per day into the rollup's
    ``dt=`` prefix. ``fail_at``: the statement (1-based) that fails instead."""

    def __init__(self, s3):
        self.s3 = s3
        self.statements: list[str] = []
        self.fail_at: int | None = None

    def execute(self, sql: str, timeout_s: float | None = None) -> Execution:
        self.statements.append(sql)
        if self.fail_at == len(self.statements):
            raise QueryError("Athena could not run the query: simulated crash")
        table = INSERT.match(sql).group(1)
        days = re.findall(r"dt IN \(([^)]*)\)", sql)[0]
        for day in re.findall(r"'(\d{4}-\d\d-\d\d)'", days):
            key = f"{rollup_prefix(ROLLUP_TABLES[table])}dt={day}/{len(self.statements)}.parquet"
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=b"rows")
        return Execution(f"q{len(self.statements)}", "SUCCEEDED", "", 5 * 2**20, "", False, 10)

    def cost_of(self, execution: Execution) -> float:
        return 0.0


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def objects(s3, prefix: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def day_objects(s3, day: str) -> dict[str, int]:
    return {t.name: len(objects(s3, f"{rollup_prefix(t)}dt={day}/")) for t in ROLLUP_TABLES.values()}


def rollups_for(s3, now: datetime = NOW, **kwargs) -> tuple[AthenaRollups, FakeAthena]:
    engine = FakeAthena(s3)
    return AthenaRollups(engine, BUCKET, now=lambda: now, **kwargs), engine


def test_closed_days_end_a_grace_before_now_and_the_open_day_is_never_one():
    now = datetime(2026, 11, 10, 0, 20, tzinfo=UTC)  # 9 Nov ended 20 minutes ago: not closed yet
    days = closed_days(now - timedelta(days=3), now, now)
    assert days == ["2026-11-07", "2026-11-08"]
    later = now + timedelta(minutes=15)
    assert closed_days(later - timedelta(days=3), later, later)[-1] == "2026-11-09"


def test_a_day_is_built_once_one_insert_per_table_and_marked_after(s3):
    rollups, athena = rollups_for(s3)
    days = [day(8), day(7)]
    report = rollups.build(days)
    assert report.built == days and report.queries == len(ROLLUP_TABLES)
    assert [INSERT.match(s).group(1) for s in athena.statements] == list(ROLLUP_TABLES)
    assert rollups.done_days() == frozenset(days)
    assert objects(s3, CLAIM) == []
    again = rollups.build(days)  # idempotent: no query, no scan
    assert again.built == [] and again.queries == 0 and len(athena.statements) == len(ROLLUP_TABLES)
    assert day_objects(s3, day(8)) == dict.fromkeys(ROLLUP_TABLES, 1)


def test_the_open_day_and_days_not_closed_are_never_built(s3):
    rollups, athena = rollups_for(s3)
    today = NOW.astimezone(UTC).date().isoformat()
    assert rollups.build([today]).built == []
    assert athena.statements == []


@pytest.mark.parametrize("crash_at", range(1, len(ROLLUP_TABLES) + 1))
def test_a_crash_between_insert_and_marking_never_double_counts(s3, crash_at):
    """The build dies at one INSERT (the ones before it wrote their rows): the the_day is not
    marked, pages read it raw; the next build deletes what was written and writes it once."""
    the_day = day(6)
    rollups, athena = rollups_for(s3)
    athena.fail_at = crash_at
    with pytest.raises(QueryError):
        rollups.build([the_day])
    assert rollups.done_days() == frozenset()  # read raw: the partial rows are never read
    assert sum(day_objects(s3, the_day).values()) == crash_at - 1
    later, athena2 = rollups_for(s3, NOW + STALE_CLAIM + timedelta(seconds=1))
    assert later.build([the_day]).built == [the_day]  # the dead builder's claim is taken over
    assert len(athena2.statements) == len(ROLLUP_TABLES)
    assert day_objects(s3, the_day) == dict.fromkeys(ROLLUP_TABLES, 1)  # once each: no double count
    assert later.done_days() == frozenset({the_day})


def test_a_dead_builds_object_s3_will_not_delete_stops_the_build_before_any_insert(s3, monkeypatch):
    """DeleteObjects answers 200 and names the keys it kept in ``Errors``: a dead build's
    rows it kept would be counted beside the new ones, so the day is neither written nor
    marked (pages read it raw), and the sentence names the object."""
    the_day = day(4)
    table = next(iter(ROLLUP_TABLES.values()))
    leftover = f"{rollup_prefix(table)}dt={the_day}/dead-build.parquet"
    s3.put_object(Bucket=BUCKET, Key=leftover, Body=b"rows of a dead build")
    rollups, athena = rollups_for(s3)
    monkeypatch.setattr(
        s3,
        "delete_objects",
        lambda Bucket, Delete: {
            "Errors": [
                {"Key": o["Key"], "Code": "AccessDenied", "Message": "Access Denied"}
                for o in Delete["Objects"]
            ]
        },
    )
    with pytest.raises(
        QueryError, match=f"S3 did not delete s3://{BUCKET}/{re.escape(leftover)} .AccessDenied"
    ):
        rollups.build([the_day])
    assert athena.statements == [] and rollups.done_days() == frozenset()
    assert objects(s3, f"{rollup_prefix(table)}dt={the_day}/") == [leftover]


def test_a_crash_after_every_insert_but_before_the_marker_is_rebuilt_once(s3, monkeypatch):
    the_day = day(5)
    rollups, _ = rollups_for(s3)
    real_put = s3.put_object

    def no_marker(**kwargs):
        if kwargs["Key"].startswith(DONE):
            raise KeyboardInterrupt("killed before the marker")
        return real_put(**kwargs)

    monkeypatch.setattr(s3, "put_object", no_marker)
    with pytest.raises(KeyboardInterrupt):
        rollups.build([the_day])
    monkeypatch.setattr(s3, "put_object", real_put)
    assert day_objects(s3, the_day) == dict.fromkeys(ROLLUP_TABLES, 1) and rollups.done_days() == frozenset()
    soon, athena = rollups_for(s3, NOW + timedelta(minutes=5))
    assert soon.build([the_day]).skipped == [the_day] and athena.statements == []  # claim still live
    later, _ = rollups_for(s3, NOW + STALE_CLAIM + timedelta(minutes=1))
    assert later.build([the_day]).built == [the_day]
    assert day_objects(s3, the_day) == dict.fromkeys(ROLLUP_TABLES, 1)


def test_a_day_claimed_by_a_live_builder_is_skipped_and_read_raw(s3):
    first, _ = rollups_for(s3)
    assert first._claim(day(4), "someone-else")
    second, athena = rollups_for(s3)
    report = second.build([day(4), day(3)])
    assert report.skipped == [day(4)] and report.built == [day(3)]
    assert f"'{day(4)}'" not in "".join(athena.statements)


def test_a_taken_over_claim_is_not_marked_by_the_builder_that_lost_it(s3, monkeypatch):
    the_day = day(2)
    rollups, athena = rollups_for(s3)
    real = athena.execute

    def taken_over_meanwhile(sql, timeout_s=None):
        s3.put_object(Bucket=BUCKET, Key=CLAIM + the_day, Body=b'{"token": "the-new-builder"}')
        return real(sql, timeout_s)

    monkeypatch.setattr(athena, "execute", taken_over_meanwhile)
    assert rollups.build([the_day]).built == []
    assert rollups.done_days() == frozenset()


def test_a_rebuild_unmarks_first_then_writes_each_day_once(s3):
    rollups, athena = rollups_for(s3)
    rollups.build([day(8)])
    report = rollups.build([day(8)], rebuild=True)
    assert report.built == [day(8)] and len(athena.statements) == 2 * len(ROLLUP_TABLES)
    assert day_objects(s3, day(8)) == dict.fromkeys(ROLLUP_TABLES, 1)


def test_a_page_builds_at_most_view_days_newest_first_and_a_failure_reads_raw(s3):
    rollups, athena = rollups_for(s3, view_days=3)
    start = NOW - timedelta(days=10)
    done = rollups.ensure(start, NOW)
    closed = closed_days(start, NOW, NOW)
    assert done == frozenset(closed[-3:])
    assert len(athena.statements) == len(ROLLUP_TABLES)  # one batch: one INSERT per table
    athena.fail_at = len(athena.statements) + 1
    assert rollups.ensure(start, NOW) == frozenset(closed[-3:])
    assert "simulated crash" in (rollups.last_error or "")
    assert rollups.ensure() == frozenset(closed[-3:])  # no range: only reads the markers


def test_markers_that_are_not_days_are_ignored(s3):
    rollups, _ = rollups_for(s3)
    s3.put_object(Bucket=BUCKET, Key=DONE + "../../x", Body=b"")
    s3.put_object(Bucket=BUCKET, Key=DONE + day(8), Body=b"")
    assert rollups.done_days() == frozenset({day(8)})


def test_pages_ask_the_engine_for_their_range():
    seen = []

    class Engine:
        def rollup_days(self, start=None, end=None):
            seen.append((start, end))
            return frozenset({day(8)})

    class Ctx:
        engine = Engine()

    class Range:
        start, end = NOW - timedelta(days=7), NOW

    assert rollup_plan.rollup_days(Ctx(), Range()) == frozenset({day(8)})  # type: ignore[arg-type]
    assert seen == [(Range.start, Range.end)]


def test_engine_execute_sends_no_parameters_and_no_result_reuse(stubbed):  # noqa: F811
    athena, s3, athena_stub, _ = stubbed
    clock = Clock()
    engine = make_engine(athena, s3, clock)
    sql = 'INSERT INTO "events_hourly" ("hour", dt) SELECT 1, 2'
    athena_stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": QID},
        {
            "QueryString": sql,
            "ClientRequestToken": TOKEN,
            "QueryExecutionContext": {"Database": "verticals", "Catalog": "AwsDataCatalog"},
            "WorkGroup": "verticals",
        },
    )
    athena_stub.add_response(
        "get_query_execution", execution("SUCCEEDED", scanned=3 * 2**20), {"QueryExecutionId": QID}
    )
    done = engine.execute(sql, timeout_s=600)
    assert done.bytes_scanned == 3 * 2**20 and engine.cost_of(done) == pytest.approx(10 * 5.0 / 2**20)
    assert engine.rollup_days() == frozenset()  # no lake bucket known: no rollups


def test_the_cli_builds_the_stacks_closed_days_from_since(s3, monkeypatch, capsys):
    from app.aws.session import AwsResources
    from app.cli import infra as infra_cli
    from app.cli.main import main
    from app.engines import athena

    calls = []
    resources = AwsResources("us-east-1", "wg", "db", BUCKET, "bus", stack="s")
    monkeypatch.setattr(infra_cli, "_with_stack", lambda args, run: run(None, None))
    monkeypatch.setattr("app.aws.session.resolve_resources", lambda settings, session, queues: resources)
    monkeypatch.setattr(athena.AthenaEngine, "from_settings", classmethod(lambda cls, *a: FakeAthena(s3)))

    original = AthenaRollups.build

    def build(self, days, *, rebuild=False, timeout_s=None):
        calls.append((self.bucket, list(days), rebuild))
        return original(self, days, rebuild=rebuild, timeout_s=timeout_s)

    monkeypatch.setattr(AthenaRollups, "build", build)
    assert main(["lake", "rollups", "--backend", "aws", "--stack", "s", "--since", day(3), "--refresh"]) == 0
    assert calls == [(BUCKET, [day(3), day(2), day(1)], False)]
    assert "3 day(s) rolled up on Athena" in capsys.readouterr().out
