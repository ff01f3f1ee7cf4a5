"""Event rates: what each department sends over the bus, when."""

from datetime import datetime

import plotly.express as px
import streamlit as st

from app import clock, ui
from app.departments import DEPARTMENTS
from app.display import department_colours, plotly_frame
from app.services import event_rates
from app.services.common import still_arriving

view = ui.view()
ui.page_header("Event rates", "Events accepted by the bus, per department and detail type", view.range)
live = ui.live_toggle(view, key="rates_live")
NAMES = [d.name for d in DEPARTMENTS]
COLOURS = department_colours()


def kpis(rates: event_rates.EventRates, days: float) -> None:
    total = rates.total
    if rates.weekly_pattern:
        weekday, hour = rates.heatmap.stack().idxmax()
        busiest = ui.Figure(
            "Busiest hour of the week",
            f"{weekday} {hour:02d}:00",
            help=f"Mean events per hour by weekday and hour ({view.ctx.settings.timezone})",
        )
    else:
        per_bucket = rates.rates.groupby("bucket")["events"].sum()
        busiest = ui.Figure(
            f"Busiest {rates.bucket}",
            "—" if per_bucket.empty else f"{per_bucket.idxmax():%a %H:%M}",
            caption=None if per_bucket.empty else f"{per_bucket.max():,} events",
        )
    ui.kpi_row(
        [
            ui.Figure("Events", f"{total:,}"),
            ui.Figure("Per hour, on average", f"{total / (days * 24):,.0f}"),
            busiest,
            ui.Figure("Detail types seen", f"{rates.top['detail_type'].nunique()}"),
        ]
    )


def recent_chart(now: datetime) -> None:
    recent = ui.load(event_rates.recent_rates, view.ctx, now, what="the last hour", token=ui.live_token(live))
    if recent is None or recent.empty:
        st.caption("No events in the last hour.")
        return
    figure = px.bar(
        plotly_frame(recent, "department"),  # a source the bus does not know names its own
        x="minute",
        y="events",
        color="department",
        title="Last hour, per minute",
        labels={"minute": "", "events": "events"},
        category_orders={"department": NAMES},
        color_discrete_map=COLOURS,
    )
    figure.update_layout(bargap=0.1)
    ui.chart(figure, height=260, key="rates_recent")


def rates_chart(rates: event_rates.EventRates) -> None:
    split = (
        st.segmented_control(
            "Split by", ["Department", "Detail type"], default="Department", key="rates_split"
        )
        or "Department"
    )
    frame = rates.rates
    if split == "Detail type":
        departments = sorted(frame["department"].unique())
        chosen = st.multiselect("Departments", departments, default=departments, key="rates_departments")
        frame = frame[frame["department"].isin(chosen)]
        color = "detail_type"
    else:
        color = "department"
    series = frame.groupby(["bucket", color], as_index=False)["events"].sum()
    figure = px.area(
        plotly_frame(series, color),
        x="bucket",
        y="events",
        color=color,
        title=f"Events per {rates.bucket}",
        labels={"bucket": "", "events": "events"},
        category_orders={"department": NAMES},
        color_discrete_map=COLOURS,
    )
    ui.chart(figure, height=420, key="rates_area")
    st.caption(
        f"Whole {rates.bucket}s only: {'an' if rates.bucket == 'hour' else 'a'} {rates.bucket} the range "
        "cuts (such as the one under way) is counted in the figures above but not drawn."
    )


def heatmap_and_top(rates: event_rates.EventRates) -> None:
    left, right = st.columns([1, 1])
    with left:
        if rates.weekly_pattern:
            heat = px.imshow(
                rates.heatmap,
                aspect="auto",
                color_continuous_scale="Blues",
                labels={"x": "hour of day", "y": "", "color": "events/hour"},
                title=f"Mean events per hour ({view.ctx.settings.timezone})",
            )
            heat.update_xaxes(dtick=2)
        else:
            heat = px.imshow(
                plotly_frame(rates.by_type, index=True),
                aspect="auto",
                color_continuous_scale="Blues",
                labels={"x": "", "y": "", "color": "events"},
                title=f"Events per {rates.bucket}",
            )
        ui.chart(heat, height=360, key="rates_heatmap")
    with right:
        st.markdown("**Top detail types**")
        ui.table(
            rates.top.assign(share=rates.top["share"] * 100),  # in points: one decimal for every row
            hide_index=True,
            height=330,
            column_order=["detail_type", "events", "share", "per_day", "department"],
            column_config={
                "detail_type": "Detail type",
                "department": "Department",
                "events": st.column_config.NumberColumn("Events", format="localized"),
                "share": st.column_config.ProgressColumn(
                    "Share", format="%.1f%%", min_value=0, max_value=100
                ),
                "per_day": st.column_config.NumberColumn("Per day", format="%.0f"),
            },
        )


@ui.live_fragment(live)
def rates_section() -> None:
    rng = ui.live_range(view.range) if live else view.range
    rates = ui.load(event_rates.event_rates, view.ctx, rng, what="the event rates", token=ui.live_token(live))
    if rates is None:
        return
    if rates.is_empty:
        ui.empty_state()
        return
    ui.refreshed_caption(live, view.ctx.settings.timezone)
    trimmed = still_arriving(view.ctx, rng)
    if trimmed:  # on AWS: the chart ends where Firehose has delivered
        st.caption(trimmed)
    kpis(rates, max(rng.duration.total_seconds() / 86_400, 1 / 24))
    if live:
        recent_chart(clock.now().replace(second=0, microsecond=0))
    rates_chart(rates)
    heatmap_and_top(rates)


rates_section()
