"""Demand forecast: units ordered per product line, the next weeks, against planned capacity."""

import plotly.graph_objects as go
import streamlit as st

from app import ui
from app.services import forecast

view = ui.view()
ui.page_header("Demand forecast", "Units ordered per product line, a forecast of the next weeks, and the capacity "
               "the production lines planned", view.range)

horizon = st.slider("Forecast horizon (days)", 7, 56, forecast.HORIZON_DAYS, step=7, key="forecast_horizon")
outlook = ui.load(forecast.demand_outlook, view.ctx, view.range, horizon, what="the demand history")
if outlook is not None and outlook.is_empty:
    ui.empty_state("No orders in this range to forecast from — seed the lake with `make run` or widen the range "
                   "(the forecast needs at least a week of history).")
elif outlook is not None:
    short = outlook.shortfalls
    ui.kpi_row([
        ui.Figure("Product lines", f"{len(outlook.product_lines)}"),
        ui.Figure("Shortfall days ahead", f"{short['day'].nunique()}", inverse=True,
                  caption=f"over the next {outlook.horizon_days} days"),
        ui.Figure("Lines short at least once", f"{short['product_line'].nunique()}", inverse=True),
        ui.Figure("Largest daily gap", f"{short['gap'].max():,.0f} units" if len(short) else "none"),
    ])
    first, last = outlook.history["day"].min(), outlook.history["day"].max()
    st.caption(f"History: {first:%d %b} – {last:%d %b %Y}, whole UTC days (at least 8 weeks: the forecast needs "
               f"them). Forecast: {outlook.method}. Capacity after the last planned day: the usual capacity of the "
               "same weekday.")

    line = st.segmented_control("Product line", outlook.product_lines, default=outlook.product_lines[0],
                                key="forecast_line") or outlook.product_lines[0]
    history = outlook.history[outlook.history["product_line"] == line]
    ahead = outlook.forecast[outlook.forecast["product_line"] == line]
    figure = go.Figure([
        go.Scatter(x=history["day"], y=history["demand"], name="units ordered", line_color="#2563eb"),
        go.Scatter(x=history["day"], y=history["output"], name="units made", line_color="#10b981", opacity=0.7),
        go.Scatter(x=list(history["day"].tail(1)) + list(ahead["day"]),  # joined to the last day seen
                   y=list(history["demand"].tail(1)) + list(ahead["forecast"]), name="forecast",
                   line={"color": "#2563eb", "dash": "dash"}),
        go.Scatter(x=list(history["day"]) + list(ahead["day"]),
                   y=list(history["capacity"]) + list(ahead["capacity"]), name="planned capacity",
                   line={"color": "#dc2626", "shape": "hv"}),
    ])
    gaps = short[short["product_line"] == line]
    figure.add_trace(go.Scatter(x=gaps["day"], y=gaps["forecast"], mode="markers", name="shortfall",
                                marker={"color": "#dc2626", "size": 9, "symbol": "x"}))
    figure.update_layout(title=f"{line}: units per day", yaxis_rangemode="tozero")
    ui.chart(figure, height=420)

    st.subheader("Shortfall days")
    if short.empty:
        st.success(f"Planned capacity covers the forecast on every day of the next {outlook.horizon_days}.")
    else:
        st.dataframe(short, hide_index=True, column_config={
            "product_line": "Product line", "day": st.column_config.DateColumn("Day"),
            "forecast": st.column_config.NumberColumn("Forecast", format="%.0f"),
            "capacity": st.column_config.NumberColumn("Capacity", format="%.0f"),
            "gap": st.column_config.NumberColumn("Short by", format="%.0f"),
        })
