"""Overview: the health of every department, this period against the one before."""

import plotly.express as px
import streamlit as st

from app import ui
from app.services import overview

view = ui.view()
ui.page_header("Overview", "One figure per department; the change is against the previous period of equal length",
               view.range)

result = ui.load(overview.department_overview, view.ctx, view.range, what="the department KPIs")
if result is not None and result.is_empty:
    ui.empty_state()
elif result is not None:
    ui.kpi_row([
        ui.Figure(
            label=f"{kpi.spec.department} · {kpi.spec.label}",
            value=overview.format_value(kpi.value, kpi.spec.unit),
            delta=overview.format_change(kpi),
            inverse=not kpi.spec.higher_is_better,
            help=f"Previous period: {overview.format_value(kpi.previous, kpi.spec.unit)}",
            caption=overview.format_detail(kpi),
            trend=kpi.trend.fillna(0).tolist(),
        )
        for kpi in result.kpis
    ])
    st.subheader("Daily, this period against the previous one")
    figure = px.line(result.daily, x="offset_days", y="value", color="period", facet_col="label",
                     facet_col_wrap=4, facet_row_spacing=0.12, facet_col_spacing=0.05,
                     line_dash="period", line_dash_map={"this": "solid", "previous": "dot"},
                     color_discrete_map={"this": "#2563eb", "previous": "#9ca3af"},
                     labels={"offset_days": "day of the period", "value": "", "period": "period"})
    figure.update_yaxes(matches=None, showticklabels=True, rangemode="tozero")
    figure.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    ui.chart(figure, height=520)
