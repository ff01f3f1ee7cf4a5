"""Run every saved query with its defaults over a lake and print what each cost.

    .venv/bin/python bench/bench_queries.py [--lake PATH] [--repeat 3] [--today YYYY-MM-DD]

Per query: median elapsed time of ``--repeat`` runs (after one warm-up run), rows, files
and bytes DuckDB read. Then two ratios measured in the same run:

* partition pruning: one query as saved (``dt BETWEEN …`` prunes files) against the same
  query filtering the event time instead (``date_format(time, '%Y-%m-%d') BETWEEN …``),
  which returns the same rows but must open every file;
* schema reconciliation: reading files with ``union_by_name = true`` (files written before
  a column existed still read) reads every file's footer at each query; the engine does it
  only for tables whose files need it. The same query forced both ways shows what it costs.

Relative dates count from the lake's last ``dt`` partition unless ``--today`` is given,
so that the defaults ("last 30 days") land on data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd
from sqlglot import exp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.catalog import SavedQuery, bind, load_catalog, resolve_params
from app.engines.base import QueryResult
from app.engines.duckdb_engine import DuckDBEngine
from app.engines.sqlparams import READ, parse_query
from app.settings import load_settings

PRUNING_QUERY = "daily_orders_by_product_line"


def last_partition(lake: Path) -> date:
    days = sorted(p.name.removeprefix("dt=") for p in (lake / "events").glob("dt=*"))
    if not days:
        raise SystemExit(f"error: no events in {lake}: seed it with `python -m app demo seed --lake {lake}`")
    return date.fromisoformat(days[-1])


def timed(engine: DuckDBEngine, sql: str, params: dict, repeat: int) -> tuple[float, QueryResult]:
    """Median elapsed of ``repeat`` runs after a warm-up run, and the last result."""
    engine.run(sql, params)
    results = [engine.run(sql, params) for _ in range(repeat)]
    return statistics.median(r.elapsed_s for r in results), results[-1]


def filter_on_time_instead(sql: str) -> str:
    """The query with each ``dt`` replaced by the day of the row's event time: the same
    rows (dt is that day, UTC), but the engine can no longer skip files by their folder."""
    tree = parse_query(sql)
    for column in list(tree.find_all(exp.Column)):
        if column.name == "dt" and column.find_ancestor(exp.Where):
            time = exp.column("time", table=column.table or None)
            column.replace(exp.func("date_format", time, exp.Literal.string("%Y-%m-%d")))
    return tree.sql(dialect=READ)


def bench_all(engine: DuckDBEngine, queries: list[SavedQuery], today: date, repeat: int) -> pd.DataFrame:
    rows = []
    for query in queries:
        sql, params = bind(query, resolve_params(query, {}, today))
        elapsed, result = timed(engine, sql, params, repeat)
        rows.append(
            {
                "query": query.name,
                "ms": round(elapsed * 1000, 1),
                "rows": result.rows,
                "files": result.files_scanned,
                "MB read": round(result.bytes_scanned / 1e6, 2),
            }
        )
    return pd.DataFrame(rows)


def bench_pruning(engine: DuckDBEngine, query: SavedQuery, today: date, repeat: int) -> None:
    sql, params = bind(query, resolve_params(query, {}, today))
    pruned_s, pruned = timed(engine, sql, params, repeat)
    full_s, full = timed(engine, filter_on_time_instead(sql), params, repeat)
    same = pruned.frame.equals(full.frame)
    print(
        f"\npartition pruning ({query.name}, "
        f"period {params.get('period_start')}..{params.get('period_end')}):"
    )
    print(
        f"  dt filter:   {pruned_s * 1000:8.1f} ms  {pruned.files_scanned:6} files  "
        f"{pruned.bytes_scanned / 1e6:8.2f} MB"
    )
    print(
        f"  time filter: {full_s * 1000:8.1f} ms  {full.files_scanned:6} files  "
        f"{full.bytes_scanned / 1e6:8.2f} MB"
    )
    print(
        f"  without pruning / with pruning: time x{full_s / pruned_s:.1f}, "
        f"files x{full.files_scanned / max(pruned.files_scanned, 1):.1f}, "
        f"bytes x{full.bytes_scanned / max(pruned.bytes_scanned, 1):.1f}; same rows: {same}"
    )


def bench_union_by_name(lake: Path, extensions: Path, query: SavedQuery, today: date, repeat: int) -> None:
    sql, params = bind(query, resolve_params(query, {}, today))
    figures = {}
    for flag in (True, False):
        engine = DuckDBEngine(lake, extension_directory=extensions, union_by_name=flag)
        figures[flag] = timed(engine, sql, params, repeat)
        engine.close()
    (on_s, on), (off_s, off) = figures[True], figures[False]
    print(f"\nschema reconciliation ({query.name}):")
    print(f"  union_by_name=true:  {on_s * 1000:8.1f} ms  {on.bytes_scanned / 1e6:8.2f} MB")
    print(f"  union_by_name=false: {off_s * 1000:8.1f} ms  {off.bytes_scanned / 1e6:8.2f} MB")
    print(
        f"  true / false: time x{on_s / off_s:.2f}, bytes x{on.bytes_scanned / max(off.bytes_scanned, 1):.1f}"
    )


def print_view_modes(engine: DuckDBEngine) -> None:
    by_name = sorted(name for name, flag in engine.union_by_name.items() if flag)
    print(f"tables read by column name (union_by_name): {', '.join(by_name) or 'none'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lake", type=Path, default=None, help="lake folder (default: the VERTICALS_LAKE setting)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per query (default 3)")
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="the day relative dates count from (default: the lake's last partition)",
    )
    args = parser.parse_args(argv)
    lake = (args.lake or load_settings().lake).resolve()
    today = args.today or last_partition(lake)
    files = sum(1 for _ in lake.rglob("*.parquet"))
    size = sum(p.stat().st_size for p in lake.rglob("*.parquet"))
    print(
        f"lake {lake}: {files:,} files, {size / 1e6:,.1f} MB; defaults as of {today}; "
        f"median of {args.repeat} runs"
    )
    with tempfile.TemporaryDirectory() as extensions:
        engine = DuckDBEngine(lake, extension_directory=extensions)
        print_view_modes(engine)
        catalog = load_catalog()
        table = bench_all(engine, list(catalog.values()), today, args.repeat)
        print(table.to_string(index=False))
        print(f"total {table['ms'].sum():,.0f} ms for {len(table)} queries")
        bench_pruning(engine, catalog[PRUNING_QUERY], today, args.repeat)
        engine.close()
        bench_union_by_name(lake, Path(extensions), catalog[PRUNING_QUERY], today, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
