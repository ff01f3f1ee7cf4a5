"""Overview: the health of every department, this period against the one before."""

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import ui
from app.services import overview


def daily_charts(result: overview.Overview) -> None:
    """Each KPI's whole days, this period against the previous one, side by side."""
    figure = make_subplots(
        rows=2,
        cols=4,
        subplot_titles=[k.spec.label for k in result.kpis],
        vertical_spacing=0.16,
        horizontal_spacing=0.06,
    )
    for index, kpi in enumerate(result.kpis):
        row, col = index // 4 + 1, index % 4 + 1
        for period, style in (
            ("previous", {"color": "#9ca3af", "dash": "dot"}),
            ("this", {"color": "#2563eb"}),
        ):
            days = result.daily[
                (result.daily["label"] == kpi.spec.label) & (result.daily["period"] == period)
            ]
            figure.add_trace(
                go.Scatter(
                    x=days["offset_days"],
                    y=days["value"],
                    name=f"{period} period",
                    line=style,
                    showlegend=index == 0,
                    legendgroup=period,
                ),
                row=row,
                col=col,
            )
        figure.update_yaxes(
            rangemode="tozero", tickformat=".0%" if kpi.spec.unit == "percent" else "~s", row=row, col=col
        )
    figure.update_xaxes(title_text="day of the period", row=2)
    ui.chart(figure, height=520)


view = ui.view()
ui.page_header(
    "Overview",
    "One figure per department; the change is against the previous period of equal length",
    view.range,
)

result = ui.load(overview.department_overview, view.ctx, view.range, what="the department KPIs")
if result is not None and result.is_empty:
    ui.empty_state()
elif result is not None:
    ui.kpi_row(
        [
            ui.Figure(
                label=kpi.spec.label,
                kicker=kpi.spec.department,
                value=overview.format_value(kpi.value, kpi.spec.unit),
                delta=overview.format_change(kpi),
                inverse=not kpi.spec.higher_is_better,
                # Two lines in every card, so the cards line up.
                caption=f"{overview.format_detail(kpi) or '&nbsp;'}  \n"
                f"before: {overview.format_value(kpi.previous, kpi.spec.unit)}",
                trend=kpi.trend.fillna(0).tolist(),
            )
            for kpi in result.kpis
        ]
    )

    st.subheader("Day by day, against the previous period")
    if result.daily["value"].isna().all():  # a series shows whole days only
        st.info(
            "This range holds no whole day to draw day by day: choose a range of a few days or "
            "more (such as Last 7 days) to see each department's days against the period before.",
            icon=":material/calendar_month:",
        )
    else:
        daily_charts(result)
