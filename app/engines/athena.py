"""The aws query engine: Athena over the S3 lake.

A run is StartQueryExecution → poll GetQueryExecution → read the result file:

- ``:name`` placeholders become ``?`` and the values go in ``ExecutionParameters`` as SQL
  literals (``app.engines.sqlparams``: ``to_positional`` and ``format_literal``, the one
  tested place where values become SQL text). Athena accepts ``?`` only in WHERE clauses
  and wants string values quoted
  (https://docs.aws.amazon.com/athena/latest/ug/querying-with-prepared-statements.html);
  :func:`check_placeholders` says so before a query is sent.
- The workgroup (with enforced settings, so its result location and scan cutoff apply) and
  query result reuse with a maximum age
  (https://docs.aws.amazon.com/athena/latest/ug/reusing-query-results.html).
- A query still running after the timeout is stopped with StopQueryExecution.
- Throttled calls (ThrottlingException, TooManyRequestsException) are retried with
  exponential backoff and full jitter; StartQueryExecution carries a ClientRequestToken so
  that a retried start never runs the query twice.
- Results are read from the CSV Athena writes to S3 in one GET and parsed by Arrow, typed
  from the result metadata — not in 1,000-row GetQueryResults pages.
- Each result carries the query id, bytes scanned and cost: Athena bills per TB scanned,
  rounded up to the MB with a 10 MB minimum per query, and nothing for a reused result
  (https://aws.amazon.com/athena/pricing/). MB and TB are binary (2^20, 2^40 bytes).
- A query that ends without a result carries its cost too (on the :class:`QueryError`
  and in its sentence), read from GetQueryExecution's ``Statistics.DataScannedInBytes``:
  the pricing page bills "cancelled queries ... based on the amount of data scanned" and
  has "no charges for ... failed queries"; a query the workgroup's scan cutoff stops "is
  canceled" and billed as such whatever state it reports
  (https://docs.aws.amazon.com/athena/latest/ug/workgroups-setting-control-limits-cloudwatch.html).
  A query stopped on timeout is read once more after StopQueryExecution for what it scanned.
"""

from __future__ import annotations

import dataclasses
import io
import math
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from botocore.exceptions import BotoCoreError, ClientError
from sqlglot import exp

from app.aws.errors import explain, is_throttling
from app.engines.base import QueryError, QueryResult, format_usd
from app.engines.sqlparams import check_params, expand_in_lists, format_literal, parse_query, to_positional

MB = 1024**2
MB_PER_TB = 1024**2
MIN_BILLED_MB = 10
MAX_PARAMETER_CHARS = 1024  # API_StartQueryExecution: each ExecutionParameters item 1-1024 chars
MAX_REUSE_MINUTES = 10_080  # 7 days
DEFAULT_REUSE_MINUTES = 60
RUNNING_STATES = frozenset({"QUEUED", "RUNNING"})


def cost_usd(bytes_scanned: int, price_per_tb: float, reused: bool = False) -> float:
    """What Athena charges for one query."""
    if reused:
        return 0.0
    billed_mb = max(MIN_BILLED_MB, math.ceil(max(bytes_scanned, 0) / MB))
    return billed_mb * price_per_tb / MB_PER_TB


@dataclass(frozen=True)
class AthenaOptions:
    workgroup: str
    database: str
    catalog: str = "AwsDataCatalog"
    reuse_max_age_minutes: int = DEFAULT_REUSE_MINUTES  # 0: never reuse a result
    timeout_s: float = 120.0
    price_per_tb: float = 5.0
    max_attempts: int = 6  # per API call, on throttling
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 20.0
    poll_first_s: float = 0.2
    poll_max_s: float = 2.0

    def __post_init__(self) -> None:
        if not 0 <= self.reuse_max_age_minutes <= MAX_REUSE_MINUTES:
            raise ValueError(f"result reuse age must be 0 to {MAX_REUSE_MINUTES} minutes")


# --- pure request building and response parsing ---------------------------------------


def check_placeholders(tree: exp.Expr) -> None:
    """Athena takes ``?`` in WHERE clauses only; say which placeholder is elsewhere."""
    for node in tree.find_all(exp.Placeholder):
        clause = node.find_ancestor(exp.Where, exp.Select, exp.Join, exp.Having, exp.Limit, exp.Order)
        if not isinstance(clause, exp.Where):
            where = clause.key.upper() if clause else "the query"
            raise QueryError(
                f"parameter :{node.name} is in {where}; Athena binds parameters in WHERE clauses only"
            )


def execution_parameters(names: list[str], params: Mapping[str, Any]) -> list[str]:
    """The values of the ``?`` in order, as Athena SQL literals."""
    values = [format_literal(params[name]) for name in names]
    for name, value in zip(names, values, strict=True):
        if len(value) > MAX_PARAMETER_CHARS:
            raise QueryError(
                f"parameter :{name} is {len(value)} characters as SQL; Athena takes at most "
                f"{MAX_PARAMETER_CHARS}"
            )
    return values


def start_request(sql: str, parameters: list[str], options: AthenaOptions, token: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "QueryString": sql,
        "ClientRequestToken": token,
        "QueryExecutionContext": {"Database": options.database, "Catalog": options.catalog},
        "WorkGroup": options.workgroup,
    }
    if parameters:
        request["ExecutionParameters"] = parameters
    if options.reuse_max_age_minutes:
        request["ResultReuseConfiguration"] = {
            "ResultReuseByAgeConfiguration": {
                "Enabled": True,
                "MaxAgeInMinutes": options.reuse_max_age_minutes,
            }
        }
    return request


@dataclass(frozen=True)
class Execution:
    query_id: str
    state: str
    reason: str
    bytes_scanned: int
    output_location: str
    reused: bool
    engine_ms: int
    error_type: int | None = None

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES


def parse_execution(raw: Mapping[str, Any]) -> Execution:
    """GetQueryExecution's ``QueryExecution`` as the few fields a run needs."""
    status = raw.get("Status", {})
    stats = raw.get("Statistics", {})
    return Execution(
        query_id=raw["QueryExecutionId"],
        state=status.get("State", ""),
        reason=status.get("StateChangeReason", "") or status.get("AthenaError", {}).get("ErrorMessage", ""),
        bytes_scanned=int(stats.get("DataScannedInBytes", 0)),
        output_location=raw.get("ResultConfiguration", {}).get("OutputLocation", ""),
        reused=bool(stats.get("ResultReuseInformation", {}).get("ReusedPreviousResult", False)),
        engine_ms=int(stats.get("EngineExecutionTimeInMillis", 0)),
        error_type=status.get("AthenaError", {}).get("ErrorType"),
    )


def _reason(execution: Execution) -> str:
    return execution.reason.strip().splitlines()[0] if execution.reason.strip() else "no reason given"


def cut_off(execution: Execution) -> bool:
    """The workgroup's BytesScannedCutoffPerQuery stopped it."""
    reason = _reason(execution).lower()
    return "scanned" in reason and "limit" in reason


def is_billed(execution: Execution) -> bool:
    """Athena bills succeeded and cancelled queries (a cut-off one included), not failed ones."""
    return execution.state != "FAILED" or cut_off(execution)


def execution_cost(execution: Execution, price_per_tb: float) -> float:
    """What Athena charges for an execution in any final state."""
    if not is_billed(execution):
        return 0.0
    return cost_usd(execution.bytes_scanned, price_per_tb, execution.reused)


def cost_note(execution: Execution, price_per_tb: float) -> str:
    """What a query that gave no result scanned and cost, for its error's sentence."""
    scanned = f"scanned {execution.bytes_scanned / MB:,.1f} MB"
    if not is_billed(execution):
        return f"{scanned}, not billed: Athena does not bill failed queries"
    return f"{scanned}, billed {format_usd(execution_cost(execution, price_per_tb))}"


def failure_message(execution: Execution) -> str:
    reason = _reason(execution)
    if cut_off(execution):
        return (
            "Athena stopped the query: it would scan more than the workgroup's limit "
            f"(BytesScannedCutoffPerQuery); narrow the date range (query {execution.query_id})"
        )
    if execution.state == "CANCELLED":
        return f"The Athena query {execution.query_id} was cancelled: {reason}"
    return f"Athena could not run the query {execution.query_id}: {reason}"


def failure_error(execution: Execution, price_per_tb: float, message: str | None = None) -> QueryError:
    """The error for an execution that gave no result, with what it scanned and cost."""
    text = (message or failure_message(execution)).rstrip(".")
    return QueryError(
        f"{text} ({cost_note(execution, price_per_tb)}).",
        query_id=execution.query_id,
        bytes_scanned=execution.bytes_scanned,
        cost_usd=execution_cost(execution, price_per_tb),
    )


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise QueryError(f"Athena returned a result location that is not in S3: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def result_columns(results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, Athena type) of each result column, from GetQueryResults' metadata."""
    info = results["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    return [(c["Name"], c["Type"].lower()) for c in info]


# --- result conversion: Athena's CSV text to typed columns ------------------------------

INTEGER_TYPES = frozenset({"tinyint", "smallint", "integer", "int", "bigint"})
FLOAT_TYPES = frozenset({"real", "float", "double", "decimal"})


def _integers(column: pa.Array) -> pd.api.extensions.ExtensionArray | np.ndarray:
    values = column.cast(pa.int64())
    if values.null_count == 0:
        return values.to_numpy()
    # Nullable like the DuckDB engine's frames; NULL is not silently a float NaN.
    return pd.arrays.IntegerArray(
        values.fill_null(0).to_numpy(), values.is_null().to_numpy(zero_copy_only=False)
    )


def _booleans(column: pa.Array) -> Any:
    values = column.cast(pa.bool_())
    if values.null_count == 0:
        return values.to_numpy(zero_copy_only=False)
    return pd.arrays.BooleanArray(
        values.fill_null(False).to_numpy(zero_copy_only=False),
        values.is_null().to_numpy(zero_copy_only=False),
    )


def _timestamps(column: pa.Array, with_zone: bool) -> pd.Series:
    # The lake stores UTC; Athena's `timestamp` has no zone, so these are UTC instants.
    # `timestamp with time zone` prints as "2026-01-02 10:00:00.000 UTC".
    text = pc.replace_substring_regex(column, pattern=r" UTC$", replacement="") if with_zone else column
    values = text.cast(pa.timestamp("us")).to_pandas()
    return values.dt.tz_localize("UTC")


def convert_column(column: pa.Array, athena_type: str) -> Any:
    """One column of Athena's CSV (text, NULL as empty) as the type Athena declared."""
    base = re.split(r"[^a-z]", athena_type, maxsplit=1)[0]  # "decimal(10,2)", "timestamp(3) with time zone"
    if base in INTEGER_TYPES:
        return _integers(column)
    if base in FLOAT_TYPES:  # decimals too: the DuckDB engine returns them as float64
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if base == "boolean":
        return _booleans(column)
    if base == "date":
        return column.cast(pa.date32()).cast(pa.timestamp("us")).to_pandas()
    if base == "timestamp":
        return _timestamps(column, with_zone="with time zone" in athena_type)
    return column.to_pandas()  # varchar, char, arrays, maps, rows, json, varbinary: as text


def frame_from_csv(data: bytes, columns: list[tuple[str, str]]) -> pd.DataFrame:
    """Athena's result CSV (header row, every value quoted, NULL unquoted and empty) as a
    typed frame (https://docs.aws.amazon.com/athena/latest/ug/querying.html#query-results)."""
    names = [name for name, _ in columns]
    positions = [f"c{i}" for i in range(len(columns))]  # result columns may repeat a name
    table = (
        pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=positions, skip_rows=1),
            # A one-column row whose value is NULL is an empty line: keep it.
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={p: pa.string() for p in positions},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                null_values=[""],
            ),
        )
        if data.strip()
        else pa.table({p: pa.array([], pa.string()) for p in positions})
    )
    converted = {
        p: convert_column(table.column(p).combine_chunks(), t)
        for p, (_, t) in zip(positions, columns, strict=True)
    }
    frame = pd.DataFrame({p: pd.Series(v).reset_index(drop=True) for p, v in converted.items()})
    frame.columns = names
    return frame


# --- the engine -----------------------------------------------------------------------


class AthenaEngine:
    name = "athena"
    wide_top_n = False

    def __init__(
        self,
        athena: Any,
        s3: Any,
        options: AthenaOptions,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        new_token: Callable[[], str] = lambda: uuid.uuid4().hex,
    ):
        self.athena, self.s3, self.options = athena, s3, options
        self._sleep, self._clock, self._rng, self._new_token = sleep, clock, rng or random.Random(), new_token
        self.rollups: Any = None  # app.engines.athena_rollups.AthenaRollups, when the lake bucket is known

    @classmethod
    def from_settings(cls, settings: Any, resources: Any, session: Any) -> AthenaEngine:
        """An engine for the stack's workgroup and database (see app.aws.session)."""
        from app.aws.session import client

        reuse = settings.athena_result_reuse_minutes
        options = AthenaOptions(
            workgroup=resources.workgroup,
            database=resources.database,
            reuse_max_age_minutes=int(reuse),
            timeout_s=float(settings.query_timeout),
            price_per_tb=float(settings.athena_price_per_tb),
        )
        engine = cls(client(session, "athena"), client(session, "s3"), options)
        if resources.lake_bucket:
            from app.engines.athena_rollups import AthenaRollups

            engine.rollups = AthenaRollups(engine, resources.lake_bucket)
        return engine

    # public API

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        sql, params = expand_in_lists(sql, params or {})
        tree = parse_query(sql)
        check_params(tree, params)
        check_placeholders(tree)
        positional, names = to_positional(sql)
        parameters = execution_parameters(names, params)
        started = self._clock()
        request = start_request(positional, parameters, self.options, self._new_token())
        query_id = self._call("start_query_execution", **request)["QueryExecutionId"]
        execution = self._wait(query_id, started)
        frame = self._read_result(execution)
        return QueryResult(
            frame=frame,
            elapsed_s=self._clock() - started,
            bytes_scanned=execution.bytes_scanned,
            query_id=query_id,
            cost_usd=execution_cost(execution, self.options.price_per_tb),
            engine=self.name,
            sql=positional,
            extra={
                "execution_parameters": parameters,
                "reused": execution.reused,
                "engine_ms": execution.engine_ms,
                "output_location": execution.output_location,
                "workgroup": self.options.workgroup,
            },
        )

    def rollup_days(self, start: Any = None, end: Any = None) -> frozenset[str]:
        """Days whose rollups are done; closed days of ``[start, end)`` missing are built
        first (a few per view: app/engines/athena_rollups.py). None: no rollups."""
        return self.rollups.ensure(start, end) if self.rollups is not None else frozenset()

    def execute(self, sql: str, timeout_s: float | None = None) -> Execution:
        """Run one statement that writes (a rollup's INSERT INTO): no parameters, no result
        reuse, no result read; ``timeout_s`` (default: the engine's) before it is stopped."""
        options = dataclasses.replace(self.options, reuse_max_age_minutes=0)
        # _wait measures from ``started``: shift it to give this statement its own timeout.
        started = self._clock() + ((timeout_s or self.options.timeout_s) - self.options.timeout_s)
        request = start_request(sql, [], options, self._new_token())
        query_id = self._call("start_query_execution", **request)["QueryExecutionId"]
        return self._wait(query_id, started)

    def cost_of(self, execution: Execution) -> float:
        return cost_usd(execution.bytes_scanned, self.options.price_per_tb, execution.reused)

    def tables(self) -> list[str]:
        names: list[str] = []
        token = None
        while True:
            kwargs = {
                "CatalogName": self.options.catalog,
                "DatabaseName": self.options.database,
                "WorkGroup": self.options.workgroup,
            }
            page = self._call("list_table_metadata", **kwargs, **({"NextToken": token} if token else {}))
            names += [t["Name"] for t in page.get("TableMetadataList", [])]
            token = page.get("NextToken")
            if not token:
                return sorted(names)

    # internals

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """One Athena or S3 call; throttling is retried, any other failure is one sentence."""
        client = self.s3 if operation == "get_object" else self.athena
        for attempt in range(self.options.max_attempts):
            try:
                return getattr(client, operation)(**kwargs)
            except ClientError as exc:
                if not is_throttling(exc) or attempt == self.options.max_attempts - 1:
                    raise QueryError(explain(exc)) from exc
                self._sleep(self._backoff(attempt))
            except BotoCoreError as exc:
                raise QueryError(explain(exc)) from exc
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        # Full jitter: https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
        return self._rng.uniform(0, min(self.options.backoff_cap_s, self.options.backoff_base_s * 2**attempt))

    def _wait(self, query_id: str, started: float) -> Execution:
        delay = self.options.poll_first_s
        while True:
            execution = parse_execution(
                self._call("get_query_execution", QueryExecutionId=query_id)["QueryExecution"]
            )
            if not execution.running:
                break
            if self._clock() - started >= self.options.timeout_s:
                raise self._stopped(execution)
            self._sleep(delay)
            delay = min(self.options.poll_max_s, delay * 1.5)
        if execution.state != "SUCCEEDED":
            raise failure_error(execution, self.options.price_per_tb)
        return execution

    def _stopped(self, running: Execution) -> QueryError:
        """Stop a query that ran too long, and say what it scanned until then: Athena bills
        a cancelled query for that (the statistics are read once more after the stop)."""
        self._call("stop_query_execution", QueryExecutionId=running.query_id)
        try:
            raw = self._call("get_query_execution", QueryExecutionId=running.query_id)["QueryExecution"]
            final = parse_execution(raw)
        except QueryError:
            final = running  # what it had scanned at the last poll: a lower bound
        stopped = replace(final, state="CANCELLED")  # billed as cancelled, whatever it reports yet
        message = (
            f"The query ran longer than {self.options.timeout_s:g} s and was stopped (Athena query "
            f"{running.query_id}); narrow the date range or raise VERTICALS_QUERY_TIMEOUT"
        )
        return failure_error(stopped, self.options.price_per_tb, message)

    def _read_result(self, execution: Execution) -> pd.DataFrame:
        metadata = self._call("get_query_results", QueryExecutionId=execution.query_id, MaxResults=1)
        columns = result_columns(metadata)
        bucket, key = split_s3_uri(execution.output_location)
        body = self._call("get_object", Bucket=bucket, Key=key)["Body"].read()
        return frame_from_csv(body, columns)
