"""Event rates: what each department sends over the bus, when."""

import plotly.express as px
import streamlit as st

from app import ui
from app.services import event_rates

view = ui.view()
ui.page_header("Event rates", "Events accepted by the bus, per department and detail type", view.range)

rates = ui.load(event_rates.event_rates, view.ctx, view.range, what="the event rates")
if rates is not None and rates.is_empty:
    ui.empty_state()
elif rates is not None:
    total = rates.total
    days = max(view.range.duration.total_seconds() / 86_400, 1 / 24)
    busiest = rates.heatmap.stack().idxmax()
    ui.kpi_row([
        ui.Figure("Events", f"{total:,}"),
        ui.Figure("Per hour, on average", f"{total / (days * 24):,.0f}"),
        ui.Figure("Busiest hour of the week", f"{busiest[0]} {busiest[1]:02d}:00",
                  help=f"Mean events per hour by weekday and hour ({view.ctx.settings.timezone})"),
        ui.Figure("Detail types seen", f"{rates.top['detail_type'].nunique()}"),
    ])

    split = st.segmented_control("Split by", ["Department", "Detail type"], default="Department",
                                 key="rates_split") or "Department"
    frame = rates.rates
    if split == "Detail type":
        departments = sorted(frame["department"].unique())
        chosen = st.multiselect("Departments", departments, default=departments, key="rates_departments")
        frame = frame[frame["department"].isin(chosen)]
        color = "detail_type"
    else:
        color = "department"
    series = frame.groupby(["bucket", color], as_index=False)["events"].sum()
    figure = px.area(series, x="bucket", y="events", color=color,
                     title=f"Events per {rates.bucket}", labels={"bucket": "", "events": "events"})
    ui.chart(figure, height=420)
    st.caption(f"Whole {rates.bucket}s only: a {rates.bucket} the range cuts (such as the one under way) is "
               "counted in the figures above but not drawn.")

    left, right = st.columns([1, 1])
    with left:
        heat = px.imshow(rates.heatmap, aspect="auto", color_continuous_scale="Blues",
                         labels={"x": "hour of day", "y": "", "color": "events/hour"},
                         title=f"Mean events per hour ({view.ctx.settings.timezone})")
        heat.update_xaxes(dtick=2)
        ui.chart(heat, height=360)
    with right:
        st.markdown("**Top detail types**")
        st.dataframe(rates.top, hide_index=True, height=330, column_order=[
            "detail_type", "events", "share", "per_day", "department"], column_config={
            "detail_type": "Detail type", "department": "Department",
            "events": st.column_config.NumberColumn("Events", format="localized"),
            "share": st.column_config.ProgressColumn("Share", format="percent", min_value=0, max_value=1),
            "per_day": st.column_config.NumberColumn("Per day", format="%.0f"),
        })
