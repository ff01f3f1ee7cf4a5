"""The error every data source raises when a query cannot be answered.

Neutral ground: the engines raise it, and ``app.aws.errors.AwsError`` is one (the engines
build on ``app.aws``, so ``app.aws`` cannot import it from ``app.engines``).
"""

from __future__ import annotations


class QueryError(Exception):
    """A query failed; the message is one sentence a user can act on.

    A query that failed after it ran (stopped, cancelled, timed out) may still have been
    billed: ``bytes_scanned`` and ``cost_usd`` say what it scanned and cost when the engine
    knows (None otherwise; the local engine never bills).
    """

    def __init__(
        self,
        message: str = "",
        *,
        query_id: str | None = None,
        bytes_scanned: int | None = None,
        cost_usd: float | None = None,
    ):
        super().__init__(message)
        self.query_id, self.bytes_scanned, self.cost_usd = query_id, bytes_scanned, cost_usd
