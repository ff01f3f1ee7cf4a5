"""Saved queries: Athena SQL files with a typed, documented metadata header.

A saved query is ``queries/<name>.sql``: a YAML header written in ``--`` comment lines,
then one Athena SELECT with ``:name`` placeholders::

    -- title: Orders per day
    -- description: Orders placed per day and product line.
    -- audience: manager            # manager | analyst | ops
    -- params:
    --   period: {type: daterange, default: last 7 days, label: Period}
    --   channels: {type: multienum, choices: [web, app, marketplace], default: all}
    -- columns:
    --   day: day (UTC)
    --   orders: orders placed
    SELECT dt AS day, count(*) AS orders FROM orders
    WHERE dt BETWEEN :period_start AND :period_end AND contains(:channels, channel)
    GROUP BY dt ORDER BY dt

Parameter types (see :data:`PARAM_TYPES`): ``date``, ``daterange`` (binds
``:<name>_start`` and ``:<name>_end``), ``number``, ``enum``, ``multienum`` (bound as a
list: ``col IN (:p)`` becomes one placeholder per value, which partition projection can
prune — write it so for a partition column such as ``events.source``; ``contains(:p, col)``
binds an array and suits other columns), ``text`` (a LIKE pattern; free text, so marked
unsafe — still bound, never spliced).

:func:`resolve_params` turns raw values (CLI or form text, or already typed values) into
typed values, with errors that name the parameter and what it accepts; :func:`bind` turns
typed values into the engine parameters the SQL's placeholders name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from app.display import terminal_text
from app.engines.base import QueryError
from app.engines.sqlparams import parse_query, placeholders
from app.settings import REPO_ROOT

QUERIES_DIR = REPO_ROOT / "queries"
AUDIENCES = ("manager", "analyst", "ops")
ALL = "all"  # multienum: every choice
NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
DATE_FORMAT_HELP = "YYYY-MM-DD"


class CatalogError(ValueError):
    """A saved query file is malformed; the message names the file and the problem."""


class ParamError(ValueError):
    """A parameter value is not acceptable; the message names the parameter and what it accepts."""


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


# --- relative dates ------------------------------------------------------------------


def _last_month(today: date) -> DateRange:
    end = today.replace(day=1) - timedelta(days=1)
    return DateRange(end.replace(day=1), end)


RANGE_PHRASES: dict[str, Callable[[date], DateRange]] = {
    "today": lambda d: DateRange(d, d),
    "yesterday": lambda d: DateRange(d - timedelta(days=1), d - timedelta(days=1)),
    "week to date": lambda d: DateRange(d - timedelta(days=d.weekday()), d),
    "month to date": lambda d: DateRange(d.replace(day=1), d),
    "year to date": lambda d: DateRange(d.replace(month=1, day=1), d),
    "last month": _last_month,
}
LAST_N_DAYS = re.compile(r"last (\d{1,4}) days?")
N_DAYS_AGO = re.compile(r"(\d{1,4}) days? ago")


def relative_range(phrase: str, today: date) -> DateRange | None:
    """A named range ("last 7 days" = the 7 days ending today, today included), or None
    (also when it would begin before year 1)."""
    text = " ".join(phrase.lower().split())
    try:
        if text in RANGE_PHRASES:
            return RANGE_PHRASES[text](today)
        if match := LAST_N_DAYS.fullmatch(text):
            days = int(match.group(1))
            return DateRange(today - timedelta(days=days - 1), today) if days >= 1 else None
    except OverflowError:
        return None
    return None


def relative_date(phrase: str, today: date) -> date | None:
    """A named day ("today", "3 days ago"), or None (also before year 1)."""
    text = " ".join(phrase.lower().split())
    try:
        if text == "today":
            return today
        if text == "yesterday":
            return today - timedelta(days=1)
        if match := N_DAYS_AGO.fullmatch(text):
            return today - timedelta(days=int(match.group(1)))
    except OverflowError:
        return None
    return None


def _iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if len(text.strip()) == 10 else None
    except ValueError:
        return None


# --- parameters ----------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any
    label: str = ""
    help: str = ""
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    integer: bool = False
    max_length: int = 100
    pattern: str | None = None
    max_days: int | None = None

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The SQL placeholders this parameter binds."""
        return PARAM_TYPES[self.type].placeholders(self.name)

    @property
    def unsafe(self) -> bool:
        """Free text typed by a user (bound all the same; pages should say so)."""
        return self.type == "text"

    def accepts(self) -> str:
        return PARAM_TYPES[self.type].accepts(self)

    def parse(self, raw: Any, today: date) -> Any:
        """A raw value (text, or an already typed value) as this parameter's typed value."""
        try:
            return PARAM_TYPES[self.type].parse(self, raw, today)
        except ParamError as exc:
            raise ParamError(f"parameter {self.name}: {exc}; it accepts {self.accepts()}") from None

    def engine_values(self, value: Any) -> dict[str, Any]:
        return PARAM_TYPES[self.type].bind(self, value)


@dataclass(frozen=True)
class ParamType:
    parse: Callable[[Param, Any, date], Any]
    bind: Callable[[Param, Any], dict[str, Any]]
    accepts: Callable[[Param], str]
    placeholders: Callable[[str], tuple[str, ...]] = lambda name: (name,)
    options: frozenset[str] = frozenset()


# A value a user gave, as a sentence quotes it: at most this many characters of it.
SAID_CHARS = 40


def _cut(text: str, quote: str = "") -> str:
    """``text`` in ``quote``s, its control characters spelled ``\\xNN`` (no other escapes:
    ``a\\b`` stays as typed, where repr() doubles the backslash), cut at SAID_CHARS
    characters with its length after it."""
    shown = terminal_text(text)
    if len(shown) <= SAID_CHARS:
        return f"{quote}{shown}{quote}"
    return f"{quote}{shown[: SAID_CHARS - 1]}…{quote} ({len(text)} characters)"


def _said(value: Any) -> str:
    """A value a user gave, quoted in a sentence (:func:`_cut`)."""
    return _cut(str(value), "'")


def _parse_date(param: Param, raw: Any, today: date) -> date:
    if isinstance(raw, date):
        return raw
    text = str(raw)
    value = _iso_date(text) or relative_date(text, today)
    if value is None:
        raise ParamError(f"{_said(text)} is not a date")
    return value


def _parse_daterange(param: Param, raw: Any, today: date) -> DateRange:
    value = _as_range(raw, today)
    if value.start > value.end:
        raise ParamError(f"{value} starts after it ends")
    if param.max_days and value.days > param.max_days:
        raise ParamError(f"{value} spans {value.days} days, more than {param.max_days}")
    return value


def _as_range(raw: Any, today: date) -> DateRange:
    if isinstance(raw, DateRange):
        return raw
    if isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) == 2:
        return DateRange(*(_range_end(v) for v in raw))
    text = str(raw)
    if ".." in text:
        try:
            return DateRange(*(_range_end(part) for part in text.split("..", 1)))
        except ParamError:  # name what was typed, not the half of it that failed
            example = "FIRST..LAST, e.g. 2026-11-01..2026-11-30"
            raise ParamError(f"{_said(text)} is not a date range ({example})") from None
    single = _iso_date(text)
    value = DateRange(single, single) if single else relative_range(text, today)
    if value is None:
        raise ParamError(f"{_said(text)} is not a date range")
    return value


def _range_end(raw: Any) -> date:
    if isinstance(raw, date):
        return raw
    value = _iso_date(str(raw))
    if value is None:
        raise ParamError(f"{_said(raw)} is not a date")
    return value


def _parse_number(param: Param, raw: Any, today: date) -> int | float:
    value = _as_number(raw, param.integer)
    typed = str(raw).strip()  # as given: 1e308 or 99999999999999999999999, not a float's digits
    if param.min is not None and value < param.min:
        raise ParamError(f"{_cut(typed)} is less than {_num(param.min)}")
    if param.max is not None and value > param.max:
        raise ParamError(f"{_cut(typed)} is more than {_num(param.max)}")
    return value


def _as_number(raw: Any, integer: bool) -> int | float:
    if isinstance(raw, bool):
        raise ParamError(f"{_said(raw)} is not a number")
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ParamError(f"{_said(raw)} is not a number") from None
    if not math.isfinite(value):
        raise ParamError(f"{_said(raw)} is not a finite number")
    if integer and not value.is_integer():
        raise ParamError(f"{_said(raw)} is not a whole number")
    return int(value) if integer else value


def _parse_enum(param: Param, raw: Any, today: date) -> str:
    return _choice(param, str(raw).strip())


def _choice(param: Param, text: str) -> str:
    if text in param.choices:
        return text
    folded = {c.lower(): c for c in param.choices}
    if text.lower() in folded:
        return folded[text.lower()]
    raise ParamError(f"{_said(text)} is not a choice")


def _parse_multienum(param: Param, raw: Any, today: date) -> tuple[str, ...]:
    items = [str(v) for v in raw] if _is_list(raw) else str(raw).split(",")
    items = [item.strip() for item in items if item.strip()]
    if [i.lower() for i in items] in (["all"], ["*"]):
        return param.choices
    if not items:
        raise ParamError("nothing was chosen")
    return tuple(dict.fromkeys(_choice(param, item) for item in items))


def _is_list(raw: Any) -> bool:
    return isinstance(raw, Sequence) and not isinstance(raw, str)


def _parse_text(param: Param, raw: Any, today: date) -> str:
    if not isinstance(raw, str):
        raise ParamError(f"{_said(raw)} is not text")
    if len(raw) > param.max_length:
        raise ParamError(f"it is {len(raw)} characters long")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise ParamError("it contains control characters")
    if param.pattern and not re.fullmatch(param.pattern, raw):
        raise ParamError(f"{_said(raw)} does not match {param.pattern}")
    return raw


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _number_accepts(param: Param) -> str:
    kind = "a whole number" if param.integer else "a number"
    bounds = [
        f">= {_num(param.min)}" if param.min is not None else "",
        f"<= {_num(param.max)}" if param.max is not None else "",
    ]
    return " ".join([kind, " and ".join(b for b in bounds if b)]).strip()


def _text_accepts(param: Param) -> str:
    rule = f" matching {param.pattern}" if param.pattern else ""
    return f"a LIKE pattern (% any text, _ one character) of at most {param.max_length} characters{rule}"


PARAM_TYPES: dict[str, ParamType] = {
    "date": ParamType(
        parse=_parse_date,
        bind=lambda p, v: {p.name: v.isoformat()},
        accepts=lambda p: f"a date {DATE_FORMAT_HELP}, today, yesterday or 'N days ago'",
    ),
    "daterange": ParamType(
        parse=_parse_daterange,
        bind=lambda p, v: {f"{p.name}_start": v.start.isoformat(), f"{p.name}_end": v.end.isoformat()},
        accepts=lambda p: (
            f"{DATE_FORMAT_HELP}..{DATE_FORMAT_HELP}, one date, 'last N days' or one of "
            + ", ".join(RANGE_PHRASES)
            + (f" (at most {p.max_days} days)" if p.max_days else "")
        ),
        placeholders=lambda name: (f"{name}_start", f"{name}_end"),
        options=frozenset({"max_days"}),
    ),
    "number": ParamType(
        parse=_parse_number,
        bind=lambda p, v: {p.name: v},
        accepts=_number_accepts,
        options=frozenset({"min", "max", "integer"}),
    ),
    "enum": ParamType(
        parse=_parse_enum,
        bind=lambda p, v: {p.name: v},
        accepts=lambda p: "one of " + ", ".join(p.choices),
        options=frozenset({"choices"}),
    ),
    "multienum": ParamType(
        parse=_parse_multienum,
        bind=lambda p, v: {p.name: list(v)},
        accepts=lambda p: "all, or a comma-separated list of " + ", ".join(p.choices),
        options=frozenset({"choices"}),
    ),
    "text": ParamType(
        parse=_parse_text,
        bind=lambda p, v: {p.name: v},
        accepts=_text_accepts,
        options=frozenset({"max_length", "pattern"}),
    ),
}


# --- saved queries -------------------------------------------------------------------


@dataclass(frozen=True)
class OutputColumn:
    name: str
    description: str


@dataclass(frozen=True)
class SavedQuery:
    name: str
    title: str
    description: str
    audience: str
    params: tuple[Param, ...]
    columns: tuple[OutputColumn, ...]
    sql: str
    tags: tuple[str, ...] = ()
    path: Path | None = field(default=None, compare=False)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def placeholders(self) -> list[str]:
        """Every placeholder the declared parameters bind, in declaration order."""
        return [name for p in self.params for name in p.placeholders]

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise ParamError(f"query {self.name} has no parameter {name!r}")


def load_catalog(directory: Path = QUERIES_DIR) -> dict[str, SavedQuery]:
    """Every ``*.sql`` file in ``directory``, by name (the file name without ``.sql``).

    Parsing the files takes ~150 ms, so the result is kept until a file changes (pages
    call this on every rerun).
    """
    return dict(_load_files(_versions(Path(directory))))


def _versions(directory: Path) -> tuple[tuple[Path, int, int], ...]:
    """Each ``*.sql`` file of ``directory`` (sorted) with its mtime and size: a stat each."""
    versions = []
    for path in sorted(directory.glob("*.sql")):
        status = path.stat()
        versions.append((path, status.st_mtime_ns, status.st_size))
    return tuple(versions)


@lru_cache(maxsize=8)
def _load_files(files: tuple[tuple[Path, int, int], ...]) -> tuple[tuple[str, SavedQuery], ...]:
    return tuple((q.name, q) for q in (load_query(path) for path, _, _ in files))


def load_catalog_entries(directory: Path | None = None) -> tuple[dict[str, SavedQuery], dict[str, str]]:
    """Like :func:`load_catalog`, for the dashboard: the queries that load, and for each
    file that does not, why (one sentence) by its name, so one broken file does not hide
    the others. ``directory`` defaults to QUERIES_DIR as it is when called."""
    entries = _load_entries(_versions(Path(directory or QUERIES_DIR)))
    loaded = {name: entry for name, entry in entries if isinstance(entry, SavedQuery)}
    broken = {name: entry for name, entry in entries if isinstance(entry, str)}
    return loaded, broken


@lru_cache(maxsize=8)
def _load_entries(files: tuple[tuple[Path, int, int], ...]) -> tuple[tuple[str, SavedQuery | str], ...]:
    entries: list[tuple[str, SavedQuery | str]] = []
    for path, _, _ in files:
        try:
            entries.append((path.stem, load_query(path)))
        except Exception as exc:  # a file may break in any way; the others still load
            reason = " ".join(str(exc).split()) or type(exc).__name__
            entries.append((path.stem, reason if reason.startswith(path.name) else f"{path.name}: {reason}"))
    return tuple(entries)


def load_query(path: Path) -> SavedQuery:
    try:
        return parse_saved_query(path.read_text(encoding="utf-8"), path.stem, path)
    except CatalogError as exc:
        raise CatalogError(f"{path.name}: {exc}") from None


HEADER_KEYS = {"title", "description", "audience", "params", "columns", "tags"}
PARAM_KEYS = {"type", "default", "label", "help"}


def split_header(text: str) -> tuple[str, str]:
    """The leading ``--`` comment lines as YAML text, and the SQL body after them."""
    lines = text.splitlines()
    count = next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))
    header = "\n".join(_uncomment(line) for line in lines[:count])
    return header, "\n".join(lines[count:]).strip()


def _uncomment(line: str) -> str:
    return line[3:] if line.startswith("-- ") else line[2:]


def parse_saved_query(text: str, name: str, path: Path | None = None) -> SavedQuery:
    if not NAME_RE.fullmatch(name):
        raise CatalogError(f"query name {name!r} must be lower case letters, digits and _")
    header_text, body = split_header(text)
    header = _load_header(header_text)
    query = SavedQuery(
        name=name,
        title=_required_text(header, "title"),
        description=_required_text(header, "description"),
        audience=_audience(header.get("audience")),
        params=tuple(_param(n, spec) for n, spec in _mapping(header, "params").items()),
        columns=tuple(OutputColumn(str(n), str(d or "")) for n, d in _mapping(header, "columns").items()),
        sql=body,
        tags=tuple(str(t) for t in header.get("tags") or ()),
        path=path,
    )
    _check_body(query)
    return query


def _load_header(text: str) -> dict[str, Any]:
    try:
        header = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise CatalogError(f"the header is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(header, dict):
        raise CatalogError("the file must start with a YAML header in -- comment lines")
    unknown = sorted(set(header) - HEADER_KEYS)
    if unknown:
        raise CatalogError(
            f"unknown header key(s) {', '.join(unknown)}; known: {', '.join(sorted(HEADER_KEYS))}"
        )
    return header


def _required_text(header: Mapping[str, Any], key: str) -> str:
    value = header.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"the header needs a {key}")
    return " ".join(value.split())


def _audience(value: Any) -> str:
    if value not in AUDIENCES:
        raise CatalogError(f"audience {value!r} must be one of {', '.join(AUDIENCES)}")
    return value


def _mapping(header: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = header.get(key) or {}
    if not isinstance(value, dict):
        raise CatalogError(f"{key} must be a mapping of name: ...")
    if key == "columns" and not value:
        raise CatalogError("the header must declare the output columns")
    return value


def _param(name: Any, spec: Any) -> Param:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise CatalogError(f"parameter name {name!r} must be lower case letters, digits and _")
    if not isinstance(spec, dict) or spec.get("type") not in PARAM_TYPES:
        raise CatalogError(f"parameter {name} needs a type, one of {', '.join(PARAM_TYPES)}")
    kind = PARAM_TYPES[spec["type"]]
    unknown = sorted(set(spec) - PARAM_KEYS - kind.options)
    if unknown:
        raise CatalogError(
            f"parameter {name}: unknown option(s) {', '.join(unknown)} for type {spec['type']}"
        )
    if "default" not in spec:
        raise CatalogError(f"parameter {name} needs a default (saved queries run with their defaults)")
    param = _build_param(name, spec)
    _check_default(param)
    return param


def _build_param(name: str, spec: dict[str, Any]) -> Param:
    choices = tuple(str(c) for c in spec.get("choices") or ())
    if spec["type"] in ("enum", "multienum") and not choices:
        raise CatalogError(f"parameter {name} needs choices")
    return Param(
        name=name,
        type=spec["type"],
        default=spec["default"],
        label=str(spec.get("label") or name.replace("_", " ").capitalize()),
        help=str(spec.get("help") or ""),
        choices=choices,
        min=spec.get("min"),
        max=spec.get("max"),
        integer=bool(spec.get("integer", False)),
        max_length=int(spec.get("max_length", 100)),
        pattern=spec.get("pattern"),
        max_days=spec.get("max_days"),
    )


def _check_default(param: Param) -> None:
    try:
        param.parse(param.default, date(2000, 1, 31))
    except ParamError as exc:
        raise CatalogError(f"default: {exc}") from None


def _check_body(query: SavedQuery) -> None:
    if not query.sql:
        raise CatalogError("the SQL body is empty")
    try:
        found = placeholders(parse_query(query.sql))
    except QueryError as exc:
        raise CatalogError(str(exc)) from None
    declared = query.placeholders
    if sorted(found) != sorted(declared):
        raise CatalogError(f"the SQL uses {_names(found)} but the parameters bind {_names(declared)}")


def _names(names: Sequence[str]) -> str:
    return ", ".join(":" + n for n in names) or "no placeholders"


# --- values --------------------------------------------------------------------------


def resolve_params(query: SavedQuery, raw: Mapping[str, Any], today: date) -> dict[str, Any]:
    """Every declared parameter's typed value: from ``raw`` when given, else the default."""
    declared = {p.name for p in query.params}
    unknown = sorted(set(raw) - declared)
    if unknown:
        takes = ", ".join(p.name for p in query.params) or "no parameters"
        raise ParamError(f"query {query.name} has no parameter {', '.join(unknown)}; it takes {takes}")
    return {p.name: p.parse(raw.get(p.name, p.default), today) for p in query.params}


def bind(query: SavedQuery, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The query's SQL and the engine parameters for typed ``values`` (from resolve_params)."""
    missing = [p.name for p in query.params if p.name not in values]
    if missing:
        raise ParamError(f"query {query.name}: no value for parameter {', '.join(missing)}")
    engine_params: dict[str, Any] = {}
    for param in query.params:
        engine_params.update(param.engine_values(values[param.name]))
    return query.sql, engine_params


def describe_default(param: Param) -> str:
    """The default as a user would type it (for listings and forms)."""
    if isinstance(param.default, list):
        return ",".join(str(v) for v in param.default)
    return str(param.default)
