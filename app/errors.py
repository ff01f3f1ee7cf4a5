"""The error every data source raises when a query cannot be answered.

Neutral ground: the engines raise it, and ``app.aws.errors.AwsError`` is one (the engines
build on ``app.aws``, so ``app.aws`` cannot import it from ``app.engines``).
"""


class QueryError(Exception):
    """A query failed; the message is one sentence a user can act on."""
