"""The query engine interface: run a saved (Athena SQL) query with bound parameters.

Two adapters implement it: ``duckdb_engine`` over the local Parquet lake, ``athena`` over
the S3 lake. Pages and services only see :class:`QueryEngine` and :class:`QueryResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from app.errors import QueryError

# QueryError lives in app.errors, shared with app.aws
__all__ = ["QueryEngine", "QueryError", "QueryResult", "format_usd"]


@dataclass(frozen=True)
class QueryResult:
    frame: pd.DataFrame
    elapsed_s: float
    bytes_scanned: int
    files_scanned: int | None = None  # local engine: Parquet files read
    query_id: str | None = None  # Athena query execution id
    cost_usd: float = 0.0  # Athena: price of the data scanned
    engine: str = ""
    sql: str = ""  # the SQL the engine ran (after transpiling)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.frame)


def format_usd(amount: float) -> str:
    """A query's cost: Athena's 10 MB minimum is $0.000048, which four decimals show as 0."""
    return f"${amount:,.4f}" if amount == 0 or amount >= 0.01 else f"${amount:.6f}"


class QueryEngine(Protocol):
    name: str
    # Should a top-N query (ORDER BY … LIMIT n) select its wide columns itself, rather than a
    # second query fetch them for the n rows kept? DuckDB: yes, measured (explorer), although
    # over the lake views it reads them for every row scanned: its late materialization does
    # not reach through their UNION ALL. Athena bills every selected column of every row
    # scanned, so wide columns are worth a second, narrower query there.
    wide_top_n: bool

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        """Run Athena SQL with ``:name`` placeholders bound to ``params`` (never spliced)."""
        ...

    def tables(self) -> list[str]:
        """Names of the lake tables the engine can query."""
        ...
