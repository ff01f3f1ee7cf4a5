"""Overview: the health of every department, this period against the one before."""

from datetime import timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import ui
from app.services import overview

HOURLY_UP_TO = timedelta(days=2)
HOVER_FORMAT = {"percent": ".1%", "count": ",.0f", "money": "$,.0f", "hours": ",.1f"}


def period_charts(kpis: list[overview.Kpi], series: pd.DataFrame, offset: str, axis_title: str) -> None:
    """Each KPI's ``series`` (by day or hour: ``offset``), this period against the previous
    one, side by side."""
    figure = make_subplots(
        rows=2,
        cols=4,
        subplot_titles=[k.spec.label for k in kpis],
        vertical_spacing=0.16,
        horizontal_spacing=0.06,
    )
    for index, kpi in enumerate(kpis):
        row, col = index // 4 + 1, index % 4 + 1
        for period, style in (
            ("previous", {"color": "#9ca3af", "dash": "dot"}),
            ("this", {"color": "#2563eb"}),
        ):
            points = series[(series["label"] == kpi.spec.label) & (series["period"] == period)]
            figure.add_trace(
                go.Scatter(
                    x=points[offset],
                    y=points["value"],
                    name=f"{period} period",
                    line=style,
                    showlegend=index == 0,
                    legendgroup=period,
                    # The value as the card writes it (a rate to a tenth of a point, not "5%").
                    hovertemplate=f"%{{y:{HOVER_FORMAT[kpi.spec.unit]}}}<extra>{period} period</extra>",
                ),
                row=row,
                col=col,
            )
        largest = series.loc[series["label"] == kpi.spec.label, "value"].max()
        whole = kpi.spec.unit == "count" and not largest > 5  # no half a stock-out ("500m")
        figure.update_yaxes(
            rangemode="tozero",
            tickformat=".0%" if kpi.spec.unit == "percent" else "~s",
            dtick=1 if whole else None,
            row=row,
            col=col,
        )
    figure.update_xaxes(title_text=axis_title, row=2)
    ui.chart(figure, height=520)


view = ui.view()
ui.page_header(
    "Overview",
    "One figure per department; the change is against the previous period of equal length",
    view.range,
)

# Two days or fewer (the last 24 hours, one day, yesterday and today) are drawn by the
# hour: by the day they would be a point or two. One statement gives the cards and hours.
by_hour = view.range.end - view.range.start <= HOURLY_UP_TO
if by_hour:
    loaded = ui.load(overview.overview_by_hour, view.ctx, view.range, what="the department KPIs")
    result, hourly = loaded if loaded is not None else (None, None)
else:
    hourly = None
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
                trend=np.where(np.isnan(kpi.trend_values), 0.0, kpi.trend_values).tolist(),
            )
            for kpi in result.kpis
        ]
    )

    if not by_hour:
        st.subheader("Day by day, against the previous period")
        period_charts(result.kpis, result.daily, "offset_days", "day of the period")
    else:  # each KPI so far in the period, hour by hour
        st.subheader("Hour by hour, so far in the period, against the previous one")
        if hourly is not None and hourly["value"].notna().any():
            period_charts(result.kpis, hourly, "offset_hours", "hours into the period")
            st.caption(
                "Each figure from the period's start to the end of each hour. Output comes in "
                "batches every eight hours, so its share of the capacity planned so far jumps, "
                "then settles."
            )
        else:
            st.info(
                "This range holds no whole hour to draw: choose a longer range.", icon=":material/schedule:"
            )
