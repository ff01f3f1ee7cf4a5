"""Event explorer: find events on the bus, and follow one order through every department."""

import plotly.express as px
import streamlit as st

from app import ui
from app.display import department_colours, plotly_frame, plotly_text
from app.services import explorer

COLUMNS = {
    "time": st.column_config.DatetimeColumn("Time", format="YYYY-MM-DD HH:mm:ss"),
    "department": "Department",
    "source": "Source",
    "detail_type": "Detail type",
    "id": "Event id",
    "order_id": "Order",
    "summary": st.column_config.TextColumn("Detail", width="large"),
    "step": "Step",
}

ui.require("explore")  # before any data is read
view = ui.view()
ui.page_header(
    "Event explorer",
    "Find events by source, detail type, time and id; follow an order across departments",
    view.range,
)

left, middle, right = st.columns([2, 2, 3])
sources = left.multiselect("Sources", explorer.source_choices(), key="ex_sources", placeholder="every source")
detail_types = middle.multiselect(
    "Detail types",
    explorer.detail_type_choices(tuple(sources)),
    key="ex_types",
    placeholder="every detail type",
)
text = right.text_input(
    "Event id, order id or text in the detail", key="ex_text", max_chars=explorer.TEXT_MAX
)
search = explorer.EventQuery(tuple(sources), tuple(detail_types), text)

events = ui.load(explorer.find_events, view.ctx, view.range, search, what="the events")
if events is not None and events.empty:
    ui.empty_state(
        "No events match in this range — clear the filters, widen the range, or seed the lake with "
        "`make run`."
    )
elif events is not None:
    st.caption(
        ("The one event" if len(events) == 1 else f"{len(events):,} newest events")
        + (" (the first 500; narrow the search to see others)" if len(events) >= explorer.MAX_ROWS else "")
    )
    # An event without an order shows an empty cell, not Streamlit's "None" (read as an order's name).
    shown_events = events.drop(columns=["detail"]).fillna({"order_id": ""})
    ui.table(shown_events, hide_index=True, height=320, column_config=COLUMNS)

    st.subheader("Follow an order")
    order_ids = list(dict.fromkeys(events["order_id"].dropna()))
    if not order_ids:
        st.info(
            "None of these events carries an order id — search for OrderPlaced events, "
            "or type an order id above."
        )
    else:
        order_id = st.selectbox("Order", order_ids, key="ex_order")
        journey = ui.load(explorer.order_journey, view.ctx, view.range, order_id, what="the order's journey")
        if journey is not None and journey.is_empty:
            st.info(f"No events carry order {ui.plain(order_id)} in this range — widen the range.")
        elif journey is not None:
            # Plotly reads HTML in its labels and hovers: event fields are shown as text.
            shown = plotly_frame(journey.events, "detail_type", "summary", "id", "department")
            present = [
                plotly_text(d) for d in explorer.department_order() if d in set(journey.events["department"])
            ]
            figure = px.scatter(
                shown,
                x="time",
                y="department",
                color="department",
                color_discrete_map=department_colours(),  # as on Event rates
                text="detail_type",
                hover_data={"summary": True, "id": True, "department": False},
                category_orders={"department": present},
                labels={"time": "", "department": ""},
                title=f"Order {plotly_text(order_id)}: {len(journey.events)} events",
            )
            figure.update_traces(marker={"size": 14}, textposition="top center")
            figure.add_scatter(
                x=shown["time"],
                y=shown["department"],
                mode="lines",
                line={"color": "#9ca3af", "width": 1},
                showlegend=False,
                hoverinfo="skip",
            )
            figure.update_layout(showlegend=False, hovermode="closest")
            ui.chart(figure, height=420)
            ui.table(journey.events, hide_index=True, column_config=COLUMNS)
