"""The rollups on Athena: each closed UTC day materialized once, by Athena, from raw.

The rollup tables (app/lake/rollups.py ``ROLLUP_TABLES``) are Glue tables over
``s3://<lake>/rollups/<table>/dt=YYYY-MM-DD/`` (app/infra/lake.py); a day's rows are written
by ``INSERT INTO <rollup> SELECT … WHERE dt IN (…)`` generated from the local builder's own
SELECT (:mod:`app.lake.rollup_sql`). Pages read them through :meth:`AthenaRollups.ensure`
(the engine's ``rollup_days``), exactly as on DuckDB: app/services/rollup_plan.py reads the
whole hours of the days it returns from the rollups and everything else raw.

Which days are done: one empty marker object per day, ``rollups/_state/v<N>/done/dt=<day>``
(``N``: app/lake/rollups.py's ``ROLLUP_VERSION``, so that a new definition builds each day
again, deleting the old rows first),
listed with ListObjectsV2 (one request per 1,000 days, $0.005 per 1,000 requests: about
$0.000005 a page view; no Athena query, so no 10 MB minimum bill, no ``SHOW PARTITIONS``,
no ``SELECT DISTINCT dt`` that would cost a query per view). A day without its marker is
read raw, whatever rows its prefix holds.

Building a batch of days (at most 100: Athena's partitions per INSERT):

1. claim each day: ``rollups/_state/v<N>/claim/dt=<day>`` (a token and the time) created with
   ``If-None-Match: *`` (S3 conditional write: one claimant wins). A claim older than
   :data:`STALE_CLAIM` (its builder died) is taken over with ``If-Match`` on the ETag
   read, so again one wins. A
   day claimed by a live builder is skipped (read raw this time);
2. delete every object under each rollup table's ``dt=<day>/`` prefix: what a build that
   died left (a partial INSERT, or a whole one never marked);
3. one INSERT per rollup table for the claimed days (the day's raw rows read once per raw
   table: each rollup table reads different raw tables);
4. check the claim is still ours (same token), then put the done markers, then drop the
   claims.

Why no crash double-counts: a page reads a day from the rollups only once its marker
exists, and the marker is written after every INSERT succeeded; rows of a day without a
marker are never read (the page's predicates list the marked days) and are deleted before
the day is built again. A crash between INSERT and marker costs one more scan of that day,
never a double count. The one race left is a builder still running past
:data:`STALE_CLAIM` (an hour, far above the engine's query timeout, after which its
queries are stopped).

A build that fails (a query error, a timeout) leaves its claims: those days are read raw
and tried again once the claims are stale, an hour later, rather than by every page view.

Late events that land in a day after it was marked are not in its rollups until it is
rebuilt (``python -m app lake rollups --backend aws --since DAY``): a day is closed
:data:`GRACE` after it ends, longer than Firehose's largest buffer (900 s).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from app import clock
from app.aws.errors import explain
from app.engines.base import QueryError
from app.lake.paths import check_dt
from app.lake.rollup_sql import MAX_DAYS_PER_INSERT, ROLLUPS_PREFIX, insert_sql, rollup_prefix
from app.lake.rollups import ROLLUP_TABLES, ROLLUP_VERSION

STATE = f"{ROLLUPS_PREFIX}/_state/v{ROLLUP_VERSION}"  # another version's markers: not done
DONE = f"{STATE}/done/dt="
CLAIM = f"{STATE}/claim/dt="
GRACE = timedelta(minutes=30)  # Firehose buffers up to 900 s, then retries
STALE_CLAIM = timedelta(hours=1)
VIEW_DAYS = 31  # a page view materializes at most this many missing days (newest first)
DAY = timedelta(days=1)


@dataclass
class BuildReport:
    built: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # claimed by a live builder
    queries: int = 0
    bytes_scanned: int = 0
    cost_usd: float = 0.0


def closed_days(start: datetime, end: datetime, now: datetime) -> list[str]:
    """UTC days that meet ``[start, end)`` and ended :data:`GRACE` before ``now``."""
    first = start.astimezone(UTC).date()
    last = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    closed_before = (now.astimezone(UTC) - GRACE).date()  # days before this one are closed
    days, day = [], first
    while day <= last and day < closed_before:
        days.append(day.isoformat())
        day += DAY
    return days


class AthenaRollups:
    """The rollups of one stack: which days are done, and building the missing ones.

    ``engine``: an :class:`app.engines.athena.AthenaEngine` (its ``execute`` runs the
    INSERTs, its ``s3`` client keeps the markers); ``bucket``: the lake bucket.
    """

    def __init__(
        self,
        engine: Any,
        bucket: str,
        *,
        now: Callable[[], datetime] = clock.now,
        new_token: Callable[[], str] = lambda: uuid.uuid4().hex,
        view_days: int = VIEW_DAYS,
    ):
        self.engine, self.bucket, self._now, self._new_token = engine, bucket, now, new_token
        self.view_days = view_days
        self.last_error: str | None = None  # why the last page-triggered build failed

    # reading

    def done_days(self) -> frozenset[str]:
        days = set()
        for key in self._keys(DONE):
            day = key[len(DONE) :]
            try:
                days.add(check_dt(day))
            except ValueError:
                continue  # not ours: never a day
        return frozenset(days)

    def ensure(self, start: datetime | None = None, end: datetime | None = None) -> frozenset[str]:
        """The done days, after building up to ``view_days`` closed days of ``[start,
        end)`` that are missing (newest first). A failed build is not the page's failure:
        those days are read raw (``last_error`` says why)."""
        done = self.done_days()
        if start is None or end is None or self.view_days <= 0:
            return done
        missing = [d for d in closed_days(start, end, self._now()) if d not in done]
        if not missing:
            return done
        try:
            self.build(sorted(missing, reverse=True)[: self.view_days])
        except QueryError as exc:
            self.last_error = str(exc)
        return self.done_days()

    # building

    def build(
        self, days: Iterable[str], *, rebuild: bool = False, timeout_s: float | None = None
    ) -> BuildReport:
        """Materialize ``days`` (closed ones only; done ones only when ``rebuild``)."""
        now = self._now()
        wanted = sorted({check_dt(d) for d in days})
        today_closed = (now.astimezone(UTC) - GRACE).date().isoformat()
        wanted = [d for d in wanted if d < today_closed]
        done = self.done_days()
        if not rebuild:
            wanted = [d for d in wanted if d not in done]
        report = BuildReport()
        for i in range(0, len(wanted), MAX_DAYS_PER_INSERT):
            self._build_batch(wanted[i : i + MAX_DAYS_PER_INSERT], done, report, timeout_s)
        return report

    def _build_batch(
        self, days: list[str], done: frozenset[str], report: BuildReport, timeout_s: float | None
    ) -> None:
        token = self._new_token()
        claimed = [d for d in days if self._claim(d, token)]
        report.skipped += [d for d in days if d not in claimed]
        if not claimed:
            return
        for day in claimed:
            if day in done:  # a rebuild: read raw until rebuilt
                self._s3("delete_object", Bucket=self.bucket, Key=DONE + day)
            for table in ROLLUP_TABLES.values():
                self._delete_prefix(f"{rollup_prefix(table)}dt={day}/")
        for table in ROLLUP_TABLES.values():
            execution = self.engine.execute(insert_sql(table, claimed), timeout_s=timeout_s)
            report.queries += 1
            report.bytes_scanned += execution.bytes_scanned
            report.cost_usd += self.engine.cost_of(execution)
        for day in claimed:
            if self._claim_token(day) != token:  # taken over: its builder marks the day
                continue
            self._s3("put_object", Bucket=self.bucket, Key=DONE + day, Body=b"")
            self._s3("delete_object", Bucket=self.bucket, Key=CLAIM + day)
            report.built.append(day)

    def _claim(self, day: str, token: str) -> bool:
        body = json.dumps({"token": token, "at": self._now().astimezone(UTC).isoformat()}).encode()
        key = CLAIM + day
        try:
            self.engine.s3.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
            return True
        except ClientError as exc:
            if not _precondition_failed(exc):
                raise QueryError(explain(exc)) from exc
        except BotoCoreError as exc:
            raise QueryError(explain(exc)) from exc
        held = self._s3("get_object", Bucket=self.bucket, Key=key)
        if self._now() - _claimed_at(held) < STALE_CLAIM:
            return False
        try:  # its builder died: take it over, one of us only
            self.engine.s3.put_object(Bucket=self.bucket, Key=key, Body=body, IfMatch=held["ETag"])
            return True
        except ClientError as exc:
            if _precondition_failed(exc):
                return False
            raise QueryError(explain(exc)) from exc

    def _claim_token(self, day: str) -> str | None:
        try:
            body = self.engine.s3.get_object(Bucket=self.bucket, Key=CLAIM + day)["Body"].read()
        except ClientError:
            return None
        return json.loads(body).get("token")

    def _keys(self, prefix: str) -> list[str]:
        keys, token = [], None
        while True:
            page = self._s3(
                "list_objects_v2",
                Bucket=self.bucket,
                Prefix=prefix,
                **({"ContinuationToken": token} if token else {}),
            )
            keys += [o["Key"] for o in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return keys

    def _delete_prefix(self, prefix: str) -> None:
        """Delete every object under ``prefix``, or raise: DeleteObjects answers 200 and
        lists the keys it could not delete in ``Errors`` (a rows file of a dead build left
        under the day would be counted again beside the new INSERT's)."""
        keys = self._keys(prefix)
        for i in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[i : i + 1000]]
            answer = self._s3("delete_objects", Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise QueryError(
                    f"S3 did not delete s3://{self.bucket}/{first.get('Key')} ({first.get('Code')}: "
                    f"{first.get('Message')}), so its day's rollup was not rebuilt; pages read the day raw."
                )

    def _s3(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self.engine.s3, operation)(**kwargs)
        except ClientError as exc:
            raise QueryError(explain(exc)) from exc
        except BotoCoreError as exc:
            raise QueryError(explain(exc)) from exc


def _claimed_at(held: dict[str, Any]) -> datetime:
    """When a claim was taken: the claimant's clock in its body (the clock every builder
    compares with), else the object's LastModified."""
    try:
        at = datetime.fromisoformat(json.loads(held["Body"].read())["at"])
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    except (ValueError, KeyError, TypeError):
        return held["LastModified"]


def _precondition_failed(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code") in ("PreconditionFailed", "ConditionalRequestConflict") or status == 412


def days_since(since: date, now: datetime) -> list[str]:
    """Every day from ``since`` to the last closed one."""
    return closed_days(datetime(since.year, since.month, since.day, tzinfo=UTC), now, now)
