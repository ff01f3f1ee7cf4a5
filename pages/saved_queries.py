"""Saved queries: the library of typed, parameterized Athena SQL; run one and download it."""

import streamlit as st

from app import ui
from app.engines.base import QueryError, format_usd
from app.services import saved_queries

ui.require("explore")  # before any data is read
view = ui.view()
ui.page_header(
    "Saved queries",
    "Athena SQL from queries/, with typed parameters bound by the engine (never "
    "spliced into the text). Each query has its own period: the sidebar's range does not apply here.",
)

left, right = st.columns([3, 1])
search = left.text_input(
    "Search titles and descriptions", key="sq_search", placeholder="e.g. payment, late, campaign"
)
audience = right.selectbox(
    "For", ["", "manager", "analyst", "ops"], format_func=lambda a: a or "everyone", key="sq_audience"
)
found = saved_queries.library(search, audience)
unreadable = saved_queries.broken(search) if not audience else {}
if not found and not unreadable:
    st.info(
        "No saved query matches — clear the search, or add a .sql file to queries/.",
        icon=":material/search_off:",
    )
    st.stop()

by_name = {q.name: q for q in found}
titles = {**{n: q.title for n, q in by_name.items()}, **{n: f"{n} (cannot be read)" for n in unreadable}}
linked = st.query_params.get("query")
names = list(titles)
name = st.selectbox(
    f"Query ({len(titles)} found)",
    names,
    index=names.index(linked) if linked in titles else 0,
    format_func=titles.__getitem__,
    key="sq_name",
)
st.query_params["query"] = name
if name in unreadable:  # one broken file: its own entry says why, the others still run
    st.error(f"This saved query cannot be read: {ui.plain(unreadable[name])}", icon=":material/error:")
    st.stop()
query = by_name[name]
st.markdown(query.description)
st.caption(f"Audience: {query.audience}" + (f" · tags: {', '.join(query.tags)}" if query.tags else ""))

today = saved_queries.today_utc()
defaults = saved_queries.initial_values(query, today)
raw = {}
if query.params:
    columns = st.columns(min(len(query.params), 3))
    for index, param in enumerate(query.params):
        with columns[index % len(columns)]:
            raw[param.name] = ui.param_input(
                param,
                defaults[param.name],
                f"sq:{name}:{param.name}",
                saved_queries.range_options(param, today),
            )

if st.button("Run", type="primary", icon=":material/play_arrow:", key="sq_run"):
    try:
        st.session_state["sq_last"] = saved_queries.run_saved_query(view.ctx, name, raw, today)
    except saved_queries.ParamError as exc:
        st.session_state.pop("sq_last", None)
        st.error(f"Check the parameters: {ui.plain(ui.one_sentence(exc))}.", icon=":material/edit_note:")
    except QueryError as exc:
        st.session_state.pop("sq_last", None)
        st.error(f"The query failed: {ui.plain(ui.one_sentence(exc))}")
        billed = saved_queries.failed_cost(exc)
        if billed is not None:  # Athena bills a stopped or cancelled query for what it scanned
            ui.kpi_row([ui.Figure("Data scanned", billed[0], caption=f"{billed[1]} for this query")])

run = st.session_state.get("sq_last")
if run is not None and run.name == name:
    result = run.result
    ui.kpi_row(
        [
            ui.Figure("Rows", f"{result.rows:,}"),
            ui.Figure("Elapsed", f"{result.elapsed_s:.2f} s"),
            ui.Figure("Files scanned", "—" if result.files_scanned is None else f"{result.files_scanned:,}"),
            ui.Figure(
                "Data scanned",
                saved_queries.format_bytes(result.bytes_scanned),
                caption=format_usd(result.cost_usd) if result.cost_usd else None,
            ),
        ]
    )
    if result.frame.empty:
        st.info("The query ran and returned no rows — widen the period or change the parameters.")
    else:
        ui.table(result.frame, hide_index=True, missing="NULL")  # what the SQL returned
        st.download_button(
            "Download CSV",
            ui.csv_bytes(result.frame),
            file_name=f"{name}.csv",
            mime="text/csv",
            icon=":material/download:",
            key="sq_download",
        )
    with st.expander(f"SQL the {result.engine or 'engine'} ran"):
        st.code(result.sql or query.sql, language="sql")
        st.json({k: str(v) for k, v in run.values.items()}, expanded=False)

with st.expander("SQL (Athena)", expanded=run is None or run.name != name):
    st.code(query.sql, language="sql")
    st.caption("Output columns: " + ", ".join(f"`{c.name}` {c.description}" for c in query.columns))
