"""Find the files in a lake that readers can't use, and move them aside.

A lake table is ``<lake>/<table>/dt=YYYY-MM-DD/[source=…/]*.parquet`` (app/lake/writer.py).
:func:`check_lake` reports every file under a table's folder that breaks that: a stray file
(``notes.txt``, ``.DS_Store``), a file outside a partition folder, a file that is not
Parquet (truncated, or text named ``x.parquet``), a Parquet file of another schema, a link.
Writers' own hidden work files (``.part-….parquet.tmp`` while a write is under way,
``.compacted-….compact`` and its manifest) are not problems.

:func:`quarantine` moves such files to ``<lake>/_quarantine/<their path in the lake>``,
which no table's glob reaches: it never deletes, and running it again moves nothing more.

:func:`validate_lake` says in one sentence when a folder is not a lake (``--lake /etc``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from app.lake.paths import QUARANTINE, LakePathError, check_dt, exact_column, inside
from app.lake.tables import TABLES, Table

_WORK_FILE_SUFFIXES = (".tmp", ".compact", ".compact.json")


@dataclass(frozen=True)
class Problem:
    """One file readers can't use: ``path`` relative to the lake, and why."""

    path: str
    table: str
    reason: str

    def sentence(self) -> str:
        return f"{self.path} ({self.table}): {self.reason}."


class NotALake(ValueError):
    """The folder given as the lake is not one; the message says so in one sentence."""


def validate_lake(root: Path, *, may_be_missing: bool = False) -> Path:
    """``root`` resolved when it is a lake (an empty folder is a new lake), else
    :class:`NotALake`. ``may_be_missing``: a folder not there yet is fine (the bus creates
    it)."""
    path = Path(root).expanduser()
    if not path.exists():
        if may_be_missing:
            return path.resolve()
        raise NotALake(f"There is no lake at {path}: the folder does not exist (seed one, or pass --lake).")
    if not path.is_dir():
        raise NotALake(f"{path} is not a lake: it is a file, not a folder.")
    entries = {p.name for p in path.iterdir()}
    if entries and not entries & (set(TABLES) | {QUARANTINE}):
        raise NotALake(
            f"{path} is not a lake: it has none of the lake's table folders ({', '.join(TABLES)})."
        )
    return path.resolve()


def is_lake(root: Path) -> bool:
    try:
        validate_lake(root)
    except NotALake:
        return False
    return True


def check_lake(root: Path, tables: Iterable[str] | None = None) -> list[Problem]:
    """Every problem file under the lake's table folders (or only ``tables``'), by path."""
    root = Path(root)
    problems: list[Problem] = []
    for name in tables if tables is not None else TABLES:
        folder = root / name
        if folder.is_dir():
            problems += _check_table(root, TABLES[name], folder)
    return sorted(problems, key=lambda p: p.path)


def _check_table(root: Path, table: Table, folder: Path) -> list[Problem]:
    problems = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        for name in dirnames:
            if (here / name).is_symlink():  # os.walk doesn't follow it: report it as a file
                filenames.append(name)
        for name in sorted(filenames):
            path = here / name
            reason = file_problem(table, path, path.relative_to(folder).parts)
            if reason:
                problems.append(Problem(path.relative_to(root).as_posix(), table.name, reason))
    return problems


def file_problem(table: Table, path: Path, parts: tuple[str, ...] | None = None) -> str | None:
    """Why ``path`` (a file under ``table``'s folder; ``parts``: its path below it) is not a
    file of the table, or None when it is."""
    name = path.name
    if name.startswith(".") and name.endswith(_WORK_FILE_SUFFIXES) and not path.is_symlink():
        return None  # a writer's or compaction's work file
    if path.is_symlink():
        return "a link, which the lake's readers do not follow"
    if not name.endswith(".parquet"):
        return "not a Parquet file of the lake (a stray file)"
    if parts is not None:
        placement = _placement_problem(table, parts)
        if placement:
            return placement
    return parquet_problem(table, path)


def _placement_problem(table: Table, parts: tuple[str, ...]) -> str | None:
    folders = parts[:-1]
    expected = "/".join(f"{p}=…" for p in table.partitions)
    if len(folders) != len(table.partitions):
        return f"outside a partition folder (expected {table.name}/{expected}/)"
    for key, folder in zip(table.partitions, folders, strict=True):
        if not folder.startswith(f"{key}="):
            return f"outside a partition folder (expected {table.name}/{expected}/)"
        if key == "dt":
            try:
                check_dt(folder[3:])
            except LakePathError:
                return f"in a folder whose date {folder!r} is not YYYY-MM-DD"
    return None


def parquet_problem(table: Table, path: Path) -> str | None:
    """Why the Parquet file can't be read as one of ``table``'s, or None."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        return f"not a readable Parquet file ({_first_line(exc)})"
    columns = {f.name: f.type for f in schema}
    if not set(columns) & set(table.column_names):
        # Files written before a column existed lack it, and read it as NULL; a file with
        # none of the table's columns is not one of its files.
        return f"a Parquet file of another schema (none of the {table.name} table's columns)"
    for column in table.columns:
        found = columns.get(column.name)
        if found is not None and not _compatible(found, column.arrow_type):
            return f"a Parquet file of another schema ({column.name} is {found}, not {column.arrow_type})"
    clashes = [p for p in table.partitions if p in columns]
    if clashes:
        return f"a Parquet file with a column named like the partition key {clashes[0]}"
    extra = columns.get(exact_column("source"))
    if extra is not None and not pa.types.is_string(extra):
        return f"a Parquet file of another schema ({exact_column('source')} is {extra})"
    return None


def _compatible(found: pa.DataType, declared: pa.DataType) -> bool:
    if found == declared:
        return True
    if pa.types.is_timestamp(found) and pa.types.is_timestamp(declared):
        return True  # unit or zone: DuckDB casts
    return bool(pa.types.is_large_string(found) and pa.types.is_string(declared))


def _first_line(exc: BaseException) -> str:
    """The error's first sentence: the reason stays one sentence long."""
    lines = str(exc).strip().splitlines()
    return lines[0].split(". ")[0].rstrip(".") if lines else type(exc).__name__


def quarantine(root: Path, problems: Iterable[Problem]) -> list[Path]:
    """Move each problem file to ``<lake>/_quarantine/<its path>``; the paths moved to.

    Never deletes: a name already taken in the quarantine gets a ``.1``, ``.2``… suffix.
    A file already gone (moved by an earlier run) is skipped, so running it twice is safe.
    """
    root = Path(root).resolve()
    moved = []
    for problem in problems:
        relative = Path(problem.path)
        if relative.is_absolute() or ".." in relative.parts or relative.parts[:1] == (QUARANTINE,):
            continue
        source = root / relative
        if not source.is_symlink() and not source.is_file():
            continue
        inside(root, source.parent)
        target = root / QUARANTINE / relative
        inside(root, target.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        n = 0
        while os.path.lexists(target):
            n += 1
            target = root / QUARANTINE / relative.with_name(f"{relative.name}.{n}")
        os.rename(source, target)
        moved.append(target)
    return moved


def run_check(root: Path) -> tuple[str, int]:
    """``lake check``: (the report to print, the exit status: 0 clean, 1 problems).

    :class:`NotALake` propagates (the CLI prints its one sentence, exit status 2)."""
    lake = validate_lake(root)
    problems = check_lake(lake)
    if not problems:
        return f"The lake at {lake} has no problem files.", 0
    lines = [p.sentence() for p in problems]
    lines.append(
        f"{len(problems)} problem file(s) in {lake}; "
        f"`python -m app lake quarantine --lake {lake}` moves them to {QUARANTINE}/."
    )
    return "\n".join(lines), 1


def run_quarantine(root: Path) -> tuple[str, int]:
    """``lake quarantine``: move every problem file aside; (the report, exit status 0)."""
    lake = validate_lake(root)
    moved = quarantine(lake, check_lake(lake))
    if not moved:
        return f"The lake at {lake} has no problem files; nothing moved.", 0
    lines = [f"moved {p.relative_to(lake).as_posix()}" for p in moved]
    lines.append(f"{len(moved)} file(s) moved to {lake / QUARANTINE} (nothing deleted).")
    return "\n".join(lines), 0
