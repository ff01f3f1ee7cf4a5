"""moto's Athena, answering each query with what DuckDB finds in a local lake.

moto does not run queries: an execution SUCCEEDS with no rows unless results were queued
beforehand (``POST /moto-api/static/athena/query-results``, in process
``moto_api_backend.set_athena_result``), and the queue is first in, first out. A page runs
many queries whose order depends on caching, so :func:`athena_answers_from` queues the
answer at the moment each query starts: it takes the query as Athena receives it
(positional ``?`` and ``ExecutionParameters``), puts the literals in, runs it with the
DuckDB engine over the lake, and queues the rows in GetQueryResults' shape, typed as
Athena types them. moto then writes them to the result location as Athena's CSV, and the
app's Athena engine reads that file as it would on AWS.

An ``INSERT INTO`` (a rollup a page builds) is logged apart and answered by moto as it
does (SUCCEEDED, nothing written): the lake's local rollup files, which DuckDB reads for
the pages' rollup queries, stand for what Athena would have written.

Two gaps of moto's are filled as AWS behaves:

- an execution started without a ResultConfiguration gets its workgroup's (the workgroup
  enforces it, https://docs.aws.amazon.com/athena/latest/ug/workgroups-settings-override.html);
  moto leaves it without an output location;
- the result file is written again as Athena writes it (every value quoted, a quote
  doubled, NULL empty: https://docs.aws.amazon.com/athena/latest/ug/querying.html); moto
  does not escape quotes inside values.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from moto.athena.models import AthenaBackend
from moto.moto_api._internal.models import moto_api_backend
from moto.s3.models import s3_backends
from moto.s3.utils import bucket_and_name_from_url
from sqlglot.dialects.athena import Athena
from sqlglot.tokens import TokenType

from app.engines.duckdb_engine import DuckDBEngine


def with_literals(sql: str, parameters: list[str]) -> str:
    """The positional query with each ``?`` replaced by its ExecutionParameters literal, in
    order ("applied sequentially to the parameters in the query in the order in which the
    parameters occur")."""
    pieces, last, values = [], 0, iter(parameters)
    for token in Athena().tokenize(sql):
        if token.token_type == TokenType.PLACEHOLDER and token.text == "?":
            pieces.append(sql[last : token.start] + next(values))
            last = token.end + 1
    leftover = list(values)
    if leftover:
        raise ValueError(f"{len(leftover)} ExecutionParameters without a ? in the query")
    return "".join(pieces) + sql[last:]


def athena_type(column: pd.Series) -> str:
    """The type Athena would declare for a column DuckDB returned (DuckDB's DATE arrives
    as a naive timestamp at midnight, its TIMESTAMP WITH TIME ZONE as a UTC one)."""
    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    if pd.api.types.is_integer_dtype(column):
        return "bigint"
    if pd.api.types.is_float_dtype(column):
        return "double"
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return "timestamp"
    if pd.api.types.is_datetime64_dtype(column):
        present = column.dropna()
        return "date" if (present == present.dt.normalize()).all() else "timestamp"
    return "varchar"


def athena_text(value: Any, kind: str) -> str | None:
    """One value as Athena prints it in results (None for NULL)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NA:
        return None
    if kind == "timestamp":
        moment = pd.Timestamp(value)
        moment = moment.tz_convert("UTC").tz_localize(None) if moment.tzinfo else moment
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if kind == "date":
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if kind == "boolean":
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def query_results(frame: pd.DataFrame) -> tuple[list[dict], list[dict]]:
    """(rows, column info) in GetQueryResults' shape; the first row is the header, as Athena
    returns it for a SELECT."""
    kinds = [athena_type(frame[c]) for c in frame.columns]
    columns = [
        {"Name": str(c), "Label": str(c), "Type": k, "Nullable": "UNKNOWN", "CaseSensitive": True}
        for c, k in zip(frame.columns, kinds, strict=True)
    ]
    header = {"Data": [{"VarCharValue": str(c)} for c in frame.columns]}
    rows = [header]
    for values in frame.itertuples(index=False):
        cells = [athena_text(v, k) for v, k in zip(values, kinds, strict=True)]
        rows.append({"Data": [{} if text is None else {"VarCharValue": text} for text in cells]})
    return rows, columns


def athena_csv(rows: list[dict]) -> bytes:
    """The result file: every value quoted (quotes doubled), NULL as nothing at all."""
    out = io.StringIO()
    for row in rows:
        cells = [cell.get("VarCharValue") for cell in row["Data"]]
        out.write(",".join("" if c is None else '"' + c.replace('"', '""') + '"' for c in cells) + "\n")
    return out.getvalue().encode("utf-8")


@dataclass
class AthenaLog:
    """What the app asked Athena: one entry per StartQueryExecution."""

    queries: list[dict[str, Any]] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)  # INSERT INTO a rollup: not answered


@contextmanager
def athena_answers_from(
    lake: Path, account: str = "123456789012", region: str = "us-east-1"
) -> Iterator[AthenaLog]:
    engine = DuckDBEngine(lake)
    log = AthenaLog()
    original = AthenaBackend.start_query_execution
    queue_lock = threading.Lock()

    def start(
        backend: AthenaBackend,
        query: str,
        context: Any,
        config: Any,
        workgroup: str,
        execution_parameters: list[str] | None,
    ) -> str:
        group = backend.work_groups.get(workgroup)
        if not (config or {}).get("OutputLocation") and group is not None:
            config = dict(group.configuration.get("ResultConfiguration", {}))
        if query.lstrip().upper().startswith("INSERT INTO"):
            # A rollup built for a page (app/engines/athena_rollups.py): the lake's own
            # rollup files stand for what Athena would write; nothing to answer.
            log.statements.append(query)
            return original(backend, query, context, config, workgroup, execution_parameters)
        log.queries.append(
            {
                "QueryString": query,
                "ExecutionParameters": execution_parameters,
                "WorkGroup": workgroup,
                "OutputLocation": (config or {}).get("OutputLocation"),
            }
        )
        frame = engine.run(with_literals(query, execution_parameters or [])).frame
        rows, columns = query_results(frame)
        # moto hands the queued result to the next execution started: queueing and starting
        # under one lock keeps each result with its query when pages query concurrently.
        with queue_lock:
            moto_api_backend.set_athena_result(
                rows=rows, column_info=columns, account_id=account, region=region
            )
            query_id = original(backend, query, context, config, workgroup, execution_parameters)
        location = backend.executions[query_id].config.get("OutputLocation") if config else None
        if location:
            bucket, key = bucket_and_name_from_url(location)
            s3_backends[account]["aws"].put_object(bucket_name=bucket, key_name=key, value=athena_csv(rows))
        return query_id

    AthenaBackend.start_query_execution = start
    try:
        yield log
    finally:
        AthenaBackend.start_query_execution = original
        engine.close()
