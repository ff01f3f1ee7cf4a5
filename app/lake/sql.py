"""How DuckDB spells the lake's column types and quotes names and strings: shared by the
engine's views and the rollup builder, which both write SQL over the lake's files."""

from __future__ import annotations

DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "array<string>": "VARCHAR[]",
}
PARTITION_TYPE = "VARCHAR"  # dt and source compare as text in Athena and here alike


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
