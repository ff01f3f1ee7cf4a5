"""The one Streamlit helper module: settings, the cached context, the shared sidebar
(time range in the URL, backend badge), cached service calls, and the pieces every page
draws the same way (KPI rows, charts, empty and error states).

Pages import this and ``app.services``; services never import Streamlit.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, NoReturn, TypeVar

import pandas as pd
import streamlit as st

from app import audit, clock, exports
from app.auth import (
    ALB_HEADER,
    PERMISSION_WORDS,
    AlbVerifier,
    SignInError,
    User,
    is_loopback_host,
    serves_only_localhost,
    user_from_claims,
    who_may,
)
from app.display import plain
from app.engines.base import QueryError
from app.services import live, timerange
from app.services.context import Context, build_context
from app.services.errors import ServiceError
from app.services.timerange import TimeRange
from app.settings import Settings, SettingsError, load_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

EMPTY_RANGE = "No events in this range — seed the lake with `make run` or widen the range."
RANGE_KEYS = ("range", "from", "to")
VIEW_KEY = "verticals_view"
PRESET_KEY = "range_preset"
DAYS_KEY = "range_days"
LAST_RANGE_KEY = "verticals_last_range"
CHART_HEIGHT = 340
MISSING = "—"  # a missing figure, in a table as in a KPI (app/services/overview.py format_value)


@dataclass(frozen=True)
class View:
    """What the sidebar decided for this run: where the data is and which time range."""

    ctx: Context
    range: TimeRange


# --- settings and context ------------------------------------------------------------


def _secrets() -> dict[str, Any]:
    """The ``[verticals]`` section of .streamlit/secrets.toml, if there is one."""
    try:
        return dict(st.secrets.get("verticals", {}))
    except (FileNotFoundError, KeyError, ValueError):
        return {}
    except Exception as exc:
        log.warning("could not read secrets.toml: %s", exc)
        return {}


def settings_or_stop() -> Settings:
    try:
        return load_settings(secrets=_secrets())
    except SettingsError as exc:
        st.error(f"Settings: {plain(exc)} See docs/settings.md.")
        st.stop()


# A context per distinct settings (one DuckDB connection each): the few a server sees.
@st.cache_resource(show_spinner="Opening the lake…", max_entries=4)
def _context(key: str, _settings: Settings) -> Context:
    return build_context(_settings)


def settings_key(settings: Settings) -> str:
    return repr(sorted((k, str(v)) for k, v in settings.values.items()))


def context_or_stop(settings: Settings) -> Context:
    try:
        return _context(settings_key(settings), settings)
    except (ServiceError, SettingsError, QueryError, OSError) as exc:
        st.error(plain(one_sentence(exc)))
        st.stop()


# --- the time range and the sidebar ---------------------------------------------------


def _range_from_url(timezone: str) -> tuple[TimeRange, str | None]:
    query = {k: v for k, v in st.query_params.to_dict().items() if k in RANGE_KEYS}
    if not query and LAST_RANGE_KEY in st.session_state:  # a page switch dropped the URL's range
        query = st.session_state[LAST_RANGE_KEY]
    return timerange.from_query(query, clock.now(), timezone)


def _write_url(params: dict[str, str]) -> None:
    for key in RANGE_KEYS:
        if key in st.query_params and key not in params:
            del st.query_params[key]
    for key, value in params.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value
    st.session_state[LAST_RANGE_KEY] = dict(params)


def _on_preset_change(timezone: str) -> None:
    preset = st.session_state[PRESET_KEY]
    if preset == timerange.CUSTOM:
        first, last = st.session_state.get(DAYS_KEY) or (None, None)
        if first and last:
            _write_url({"from": first.isoformat(), "to": last.isoformat()})
        return
    _write_url({"range": preset})


def _on_days_change() -> None:
    days: Sequence[date] = st.session_state.get(DAYS_KEY) or ()
    if len(days) == 2:  # the picker reports one date while the second is being chosen
        _write_url({"from": days[0].isoformat(), "to": days[1].isoformat()})


def time_range_picker(timezone: str, max_days: int = timerange.DEFAULT_MAX_DAYS) -> TimeRange:
    """Preset or custom days; the choice lives in the URL, so a link reproduces the view.
    A range longer than ``max_days`` shows its last ``max_days`` days."""
    rng, problem = _range_from_url(timezone)
    if problem is None:
        rng, problem = timerange.clip(rng, max_days, timezone)
    rng = timerange.so_far(rng, clock.now())
    if problem:  # it may quote the URL: shown as text
        st.sidebar.warning(plain(problem))
    st.session_state[PRESET_KEY] = rng.preset
    st.session_state[DAYS_KEY] = timerange.local_days(rng, timezone)
    options = [*timerange.PRESETS, timerange.CUSTOM]
    labels = {**{k: label for k, (label, _) in timerange.PRESETS.items()}, timerange.CUSTOM: "Custom dates"}
    st.sidebar.selectbox(
        "Time range",
        options,
        format_func=labels.__getitem__,
        key=PRESET_KEY,
        on_change=_on_preset_change,
        args=(timezone,),
    )
    if rng.preset == timerange.CUSTOM:
        st.sidebar.date_input("Days (both included)", key=DAYS_KEY, on_change=_on_days_change)
    _write_url(timerange.to_query(rng, timezone))
    st.sidebar.caption(
        f"{_format_instant(rng.start, timezone)} → {_format_instant(rng.end, timezone)} ({timezone})"
    )
    return rng


def _format_instant(moment: datetime, timezone: str) -> str:
    return pd.Timestamp(moment).tz_convert(timezone).strftime("%d %b %Y %H:%M")


def backend_badge(ctx: Context) -> None:
    st.sidebar.badge(
        ctx.backend, icon=":material/storage:", color="blue" if ctx.backend == "local" else "orange"
    )
    st.sidebar.caption(f"{'Lake' if ctx.backend == 'local' else 'Stack'}: `{ctx.location}`")


def sidebar() -> View:
    """The shared sidebar; every page reads its result with :func:`view`."""
    settings = settings_or_stop()
    rng = time_range_picker(settings.timezone, settings.max_range_days)
    ctx = context_or_stop(settings)
    backend_badge(ctx)
    current = View(ctx, rng)
    st.session_state[VIEW_KEY] = current
    return current


def view() -> View:
    """This run's context and time range, from the sidebar the router
    (``dashboard/streamlit_app.py``) drew before it ran the page."""
    current = st.session_state.pop(VIEW_KEY, None)
    if current is None:
        raise RuntimeError("pages run through the router: streamlit run dashboard/streamlit_app.py")
    return current


# --- cached service calls --------------------------------------------------------------


@functools.lru_cache(maxsize=4)  # one per cache_ttl: a server has one
def _runner(ttl: int) -> Callable[..., Any]:
    # One cached function per ttl: st.cache_data takes its ttl when it decorates.
    @st.cache_data(ttl=ttl, show_spinner="Querying…", max_entries=256)
    def run(
        function_name: str, context_key: str, args: tuple, token: Any, _function: Callable, _ctx: Context
    ) -> Any:
        return _function(_ctx, *args)

    return run


def cached(function: Callable[..., T], ctx: Context, *args: Any, token: Any = None) -> T:
    """``function(ctx, *args)``, cached for ``cache_ttl`` seconds by its name, the data it
    reads and its arguments (widget values are passed in, never read inside).

    ``token`` is part of the key and nothing else: a new token reads afresh (a live page's
    refresh tick, a redrive that changed a queue)."""
    name = f"{function.__module__}.{function.__qualname__}"
    return _runner(ctx.settings.cache_ttl)(name, ctx.key, args, token, _function=function, _ctx=ctx)


def one_sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[0].upper() + text[1:] if text else text


def load(
    function: Callable[..., T], ctx: Context, *args: Any, what: str = "the data", token: Any = None
) -> T | None:
    """A cached service call; on failure one sentence on the page (no traceback) and None."""
    try:
        return cached(function, ctx, *args, token=token)
    except (ServiceError, QueryError) as exc:
        st.error(f"Could not load {what}: {plain(one_sentence(exc))}")
    except Exception as exc:
        log.exception("loading %s failed", what)
        st.error(f"Could not load {what}: {plain(one_sentence(exc))} (details in the server log).")
    return None


# --- drawing ---------------------------------------------------------------------------


def page_header(title: str, caption: str, rng: TimeRange | None = None) -> None:
    st.title(title)
    st.caption(caption + (f" · {rng.label}" if rng else ""))


def empty_state(message: str = EMPTY_RANGE) -> None:
    st.info(message, icon=":material/inbox:")


def table(data: pd.DataFrame, *, missing: str = MISSING, **options: Any) -> Any:
    """``st.dataframe`` with a missing value shown as ``missing`` (Streamlit's own default
    is the word "None": a rate of no invocations, a model not scored on some days)."""
    return st.dataframe(data, placeholder=missing, **options)


def chart(figure: Any, height: int = CHART_HEIGHT, key: str | None = None) -> None:
    # The legend stays where Plotly puts it (right of the plot): above or below, it
    # collides with titles and date tick labels as soon as a chart is resized.
    figure.update_layout(height=height, margin={"l": 8, "r": 8, "t": 48, "b": 8}, legend_title_text="")
    if figure.layout.hovermode is None:
        figure.update_layout(hovermode="x unified")
    st.plotly_chart(figure, width="stretch", key=key, config={"displaylogo": False})


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    delta: str | None = None
    inverse: bool = False  # a rise is bad (failure rates, stock-outs)
    help: str | None = None
    caption: str | None = None
    trend: Sequence[float] | None = None
    kicker: str | None = None  # a small line above the label (the department)


def kpi_row(figures: Sequence[Figure], per_row: int = 4) -> None:
    for start in range(0, len(figures), per_row):
        columns = st.columns(per_row)
        for column, figure in zip(columns, figures[start : start + per_row], strict=False):
            with column.container(border=True):
                if figure.kicker:
                    st.caption(f"**{figure.kicker.upper()}**")
                st.metric(
                    figure.label,
                    figure.value,
                    figure.delta,
                    delta_color="inverse" if figure.inverse else "normal",
                    help=figure.help,
                    chart_data=figure.trend,
                    chart_type="area",
                )
                if figure.caption:
                    st.caption(figure.caption)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A download: CSV whose text cells cannot run as spreadsheet formulas."""
    return exports.csv_bytes(frame)


# --- saved-query parameters --------------------------------------------------------------

CUSTOM_DATES = "custom dates"


def param_input(param: Any, default: Any, key: str, range_options: Sequence[str] = ()) -> Any:
    """The widget for one saved-query parameter; returns the raw value for resolve_params."""
    label = param.label + (" (free text)" if param.unsafe else "")
    if param.type == "date":
        return st.date_input(label, value=default, key=key, help=param.help or None)
    if param.type == "daterange":
        return _daterange_input(param, default, key, label, range_options)
    if param.type == "number":  # Streamlit wants value, bounds and step all int or all float
        kind = int if param.integer else float
        bounds = [None if b is None else kind(b) for b in (param.min, param.max)]
        return st.number_input(
            label,
            value=kind(default),
            min_value=bounds[0],
            max_value=bounds[1],
            step=kind(1) if param.integer else None,
            key=key,
            help=param.help or None,
        )
    if param.type == "enum":
        return st.selectbox(
            label, param.choices, index=param.choices.index(default), key=key, help=param.help or None
        )
    if param.type == "multienum":
        return st.multiselect(label, param.choices, default=list(default), key=key, help=param.help or None)
    return st.text_input(
        label,
        value=default,
        max_chars=param.max_length,
        key=key,
        help=(param.help + " " if param.help else "") + param.accepts(),
    )


def _daterange_input(param: Any, default: Any, key: str, label: str, range_options: Sequence[str]) -> Any:
    """A relative range (the default first) or custom days; a default of fixed dates
    starts on custom days."""
    options = [*range_options, CUSTOM_DATES]
    phrase = " ".join(str(param.default).lower().split())
    choice = st.selectbox(
        label,
        options,
        index=options.index(phrase) if phrase in options else len(options) - 1,
        key=f"{key}:preset",
        help=param.help or None,
    )
    if choice != CUSTOM_DATES:
        return choice
    picked = tuple(
        st.date_input(f"{param.label}: days", value=(default.start, default.end), key=f"{key}:days")
    )
    if len(picked) == 2:
        return picked
    # The picker holds one day while the second is being chosen, none once cleared.
    if len(picked) == 1:
        st.caption(f"One day picked: {picked[0]:%d %b %Y} alone.")
        return (picked[0], picked[0])
    st.caption("No days picked: the query's default range is used.")
    return (default.start, default.end)


# --- live pages ----------------------------------------------------------------------------

LIVE_EVERY_S = live.LOCAL_EVERY_S  # seconds between refreshes of a live page (local backend)
LIVE_UP_TO = live.LOCAL_UP_TO  # ranges this short start live (local backend)


@dataclass(frozen=True)
class Live:
    """The "Live" switch's state and the page's refresh period (app/services/live.py)."""

    on: bool
    every_s: int

    def __bool__(self) -> bool:
        return self.on


def live_toggle(current: View, key: str) -> Live:
    """The "Live" switch, by the backend's policy: on by default for short ranges (a day
    locally, an hour on AWS); on AWS, off and disabled with one sentence for longer ones.
    Its state is kept per kind of range, so widening the range starts it off and
    narrowing it starts it on."""
    policy = live.live_policy(current.ctx.backend, current.range.duration)
    if not policy.offered:
        st.toggle("Live", value=False, disabled=True, key=f"{key}:off", help=policy.note)
        st.caption(policy.note)
        return Live(False, policy.every_s)
    on = st.toggle(
        "Live",
        value=policy.default,
        key=f"{key}:{'short' if policy.default else 'long'}",
        help=f"Refresh the figures every {policy.every_s} s while this page is open.",
    )
    return Live(on, policy.every_s)


def live_fragment(current: Live) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """``st.fragment`` that reruns itself every ``every_s`` seconds when live."""
    return st.fragment(run_every=current.every_s if current else None)


def live_range(rng: TimeRange, now: datetime | None = None) -> TimeRange:
    """The range a refresh shows: a relative range moved up to now (a fragment rerun does
    not rerun the sidebar that computed it); picked days stay as they are."""
    if rng.preset not in timerange.PRESETS:
        return rng
    return timerange.preset_range(rng.preset, now or clock.now())


def live_token(current: Live) -> int | None:
    """A cache token that changes every ``every_s`` seconds when live (None otherwise)."""
    return int(time.time() // current.every_s) if current else None


def refreshed_caption(current: Live, timezone: str) -> None:
    now = pd.Timestamp(clock.now()).tz_convert(timezone).strftime("%H:%M:%S")
    st.caption(f"Live: read at {now}, again every {current.every_s} s." if current else f"Read at {now}.")


def act(function: Callable[..., T], ctx: Context, *args: Any, what: str) -> T | None:
    """An uncached service call that changes something (a redrive); on failure one
    sentence on the page and None."""
    try:
        return function(ctx, *args)
    except (ServiceError, QueryError, ValueError) as exc:
        st.error(f"Could not {what}: {plain(one_sentence(exc))}")
    except Exception as exc:
        log.exception("%s failed", what)
        st.error(f"Could not {what}: {plain(one_sentence(exc))} (details in the server log).")
    return None


# --- analyses that take seconds ----------------------------------------------------------

# Analyses read whole past days, which do not change within the hour; recomputing them
# every cache_ttl would cost seconds of CPU for the same answer.
ANALYSIS_TTL = 3600


@functools.lru_cache(maxsize=4)
def _analysis_runner(ttl: int) -> Callable[..., Any]:
    @st.cache_data(ttl=ttl, show_spinner=False, max_entries=32)  # the caller shows its own spinner
    def run(function_name: str, context_key: str, args: tuple, _function: Callable, _ctx: Context) -> Any:
        return _function(_ctx, *args)

    return run


def load_analysis(function: Callable[..., T], ctx: Context, *args: Any, what: str, spinner: str) -> T | None:
    """Like :func:`load`, for an analysis that takes seconds: cached for at least
    ``ANALYSIS_TTL`` seconds, computed under a spinner that says what is being done and
    for how long. Pass the arguments that key the result (days, not a moving range)."""
    name = f"{function.__module__}.{function.__qualname__}"
    runner = _analysis_runner(max(ctx.settings.cache_ttl, ANALYSIS_TTL))
    with st.spinner(spinner, show_time=True):
        try:
            return runner(name, ctx.key, args, _function=function, _ctx=ctx)
        except Exception as exc:
            _show_failure(exc, what)
    return None


def _show_failure(exc: Exception, what: str) -> None:
    if isinstance(exc, (ServiceError, QueryError)):
        st.error(f"Could not load {what}: {plain(one_sentence(exc))}")
        return
    log.exception("loading %s failed", what)
    st.error(f"Could not load {what}: {plain(one_sentence(exc))} (details in the server log).")


# --- sign-in, roles and the audit trail ----------------------------------------------------

SIGNED_IN_KEY = "verticals_signed_in"  # the identity whose sign-in this session recorded
LOCAL_HOST_ONLY = (
    "This dashboard has no sign-in configured and answers only to this machine's own names: "
    "open it as localhost or 127.0.0.1, or configure a sign-in (VERTICALS_SIGN_IN, see docs/security.md)."
)
LOCAL_ONLY = (
    "This dashboard has no sign-in configured, so it serves this machine only: start it with "
    "--server.address 127.0.0.1, or configure a sign-in (VERTICALS_SIGN_IN, see docs/security.md)."
)


def _refuse(sentence: str) -> NoReturn:
    st.error(sentence, icon=":material/lock:")
    st.stop()


@st.cache_resource(show_spinner=False, max_entries=4)
def _alb_verifier(alb_arn: str) -> AlbVerifier:
    """One verifier per ALB for the server's life: it keeps the public keys by key id."""
    return AlbVerifier(alb_arn)


def _has_auth_section() -> bool:
    try:
        return bool(st.secrets.get("auth"))
    except Exception:
        return False


def _sign_in_prompt() -> NoReturn:
    st.title("Verticals")
    st.info("Sign in to see the dashboards.", icon=":material/lock:")
    st.button("Sign in", type="primary", icon=":material/login:", on_click=st.login, key="sign_in")
    st.stop()


def _request_host() -> str | None:
    """This session's Host header (None where there is none: AppTest)."""
    return st.context.headers.get("Host")


def _identify(settings: Settings) -> User:
    """This request's user; stops the run with a prompt or one sentence when there is none."""
    if settings.sign_in == "local":
        if not serves_only_localhost(st.get_option("server.address")):
            _refuse(LOCAL_ONLY)
        host = _request_host()
        if host is not None and not is_loopback_host(host):
            _refuse(LOCAL_HOST_ONLY)
        return User("local", settings.local_roles, "local")
    if settings.sign_in == "oidc":
        if not st.user.get("is_logged_in"):
            if not _has_auth_section():
                _refuse("VERTICALS_SIGN_IN=oidc needs an [auth] section in .streamlit/secrets.toml.")
            _sign_in_prompt()
        return user_from_claims(st.user.to_dict(), settings.role_claim, settings.roles, "oidc")
    if not settings.alb_arn:
        _refuse("VERTICALS_SIGN_IN=alb needs VERTICALS_ALB_ARN, the load balancer that signs the header.")
    try:
        claims = _alb_verifier(settings.alb_arn).claims(st.context.headers.get(ALB_HEADER))
    except SignInError as exc:
        _refuse(plain(exc))
    return user_from_claims(claims, settings.role_claim, settings.roles, "alb")


def current_user() -> User:
    """Who this run serves, checked afresh on every call (an action checks again)."""
    return _identify(settings_or_stop())


def _audit(where: Context | Settings, user: User, action: str, what: str, **fields: Any) -> None:
    """Record one entry in the context's sink (a sign-in, before the page has its context:
    the settings' context); a failure warns, and what was done stands."""
    entry = audit.make_entry(
        user=user.name, roles=user.role_names, via=user.via, action=action, what=what, **fields
    )
    try:
        ctx = where if isinstance(where, Context) else _context(settings_key(where), where)
        ctx.audit.write(entry)
    except (audit.AuditError, ServiceError, SettingsError, QueryError, OSError) as exc:
        log.exception("could not write the audit trail: %s", audit.to_json(entry))
        st.warning(f"The audit trail could not be written: {plain(one_sentence(exc))}")


def sign_in() -> User:
    """The router's first step: the user, or a sign-in prompt or refusal and nothing else.
    A sign-in (oidc, alb) is recorded in the audit trail once per session."""
    settings = settings_or_stop()
    user = _identify(settings)
    if user.via != "local" and st.session_state.get(SIGNED_IN_KEY) != user.name:
        _audit(settings, user, "sign-in", user.via)
        st.session_state[SIGNED_IN_KEY] = user.name
    if not user.roles:
        _refuse(
            f"You are signed in as {plain(user.name)}, with no role in this dashboard: ask for manager, "
            "analyst or ops."
        )
    return user


def signed_in_as(user: User) -> None:
    """Who is signed in, at the foot of the sidebar, with a sign-out button (oidc)."""
    st.sidebar.caption(f"Signed in as {plain(user.name)} · {user.role_names}")
    if user.via == "oidc":
        st.sidebar.button("Sign out", icon=":material/logout:", on_click=st.logout, key="sign_out")


def visibility(user: User, permission: str) -> Literal["visible", "hidden"]:
    """A page the user may not open is left out of the navigation (and refuses itself)."""
    return "visible" if user.may(permission) else "hidden"


def may(permission: str) -> bool:
    return current_user().may(permission)


def require(permission: str) -> User:
    """A page's first line: one sentence and stop, before any data is read, for a user
    whose roles do not allow ``permission``."""
    user = current_user()
    if not user.may(permission):
        _refuse(
            f"Only {who_may(permission)} may {PERMISSION_WORDS[permission]}; you are signed in as "
            f"{plain(user.name)} ({user.role_names})."
        )
    return user


def act_as(
    permission: str,
    action: str,
    function: Callable[..., T],
    ctx: Context,
    *args: Any,
    what: str,
    target: str,
    count: int | None = None,
) -> T | None:
    """:func:`act` for an action only some roles may take: the role is checked when the
    action runs (not only when its button was drawn), and the attempt, refused or not,
    goes into the audit trail with ``target`` (a queue, an archive) and ``count``."""
    user = current_user()
    if not user.may(permission):
        _audit(ctx, user, action, target, count=count, outcome="refused")
        st.error(
            f"Only {who_may(permission)} may {PERMISSION_WORDS[permission]}; you are signed in as "
            f"{plain(user.name)} ({user.role_names}).",
            icon=":material/lock:",
        )
        return None
    result = act(function, ctx, *args, what=what)
    detail = str(getattr(result, "sentence", "")) if result is not None else ""
    _audit(
        ctx,
        user,
        action,
        target,
        count=count,
        outcome="done" if result is not None else "failed",
        detail=detail,
    )
    return result


def audit_trail(ctx: Context, limit: int = 500) -> pd.DataFrame | None:
    """The newest audit entries, newest first, as a table (None, after one sentence, when
    the trail cannot be read)."""
    columns = ["at", "user", "roles", "via", "action", "what", "count", "outcome", "detail"]
    try:
        entries = ctx.audit.read(limit)
    except audit.AuditError as exc:
        log.exception("could not read the audit trail")
        st.error(f"The audit trail ({plain(ctx.audit.where)}) could not be read: {plain(one_sentence(exc))}")
        return None
    frame = pd.DataFrame([vars(e) for e in entries], columns=columns)
    frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
    frame["count"] = pd.to_numeric(frame["count"], errors="coerce").astype("Int64")
    return frame
