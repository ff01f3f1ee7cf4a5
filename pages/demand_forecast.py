"""Demand forecast: units ordered per product line, the next days with their ranges, against
the capacity the production lines plan; and how well the forecast did in a backtest."""

import plotly.graph_objects as go
import streamlit as st

from app import ui
from app.display import plotly_text
from app.services import forecast

view = ui.view()
ui.page_header(
    "Demand forecast",
    "Units ordered per product line, a forecast with 80% and 95% ranges, and the "
    "capacity the production lines planned",
    view.range,
)

horizon = (
    st.segmented_control(
        "Forecast horizon",
        forecast.HORIZONS,
        default=forecast.HORIZON_DAYS,
        format_func=lambda days: f"{days} days",
        key="forecast_horizon",
    )
    or forecast.HORIZON_DAYS
)
window = ui.load(forecast.forecast_window, view.ctx, view.range, what="the lake's last day")
report = (
    None
    if window is None or not window.has_orders
    else ui.load_analysis(
        forecast.forecast_outlook,
        view.ctx,
        window.first,
        window.last,
        horizon,
        what="the demand forecast",
        spinner=f"Backtesting the forecast models on the year up to {window.last:%d %b %Y}…",
    )
)
if window is not None and not window.has_orders:
    ui.empty_state(  # the lake is read two years back from the range's end
        f"No orders in the two years up to {window.shown_last:%d %b %Y}: pick an earlier range, "
        "or seed an empty lake with `make run`."
    )
elif report is not None and forecast.is_empty(report):
    ui.empty_state(
        f"No orders between {window.first:%d %b %Y} and {window.last:%d %b %Y} to forecast from — pick a "
        "later range or seed the lake with `make run`."
    )
elif report is not None:
    st.caption(
        f"Forecast from {window.day_after:%d %b %Y}, learnt from the {forecast.history_days(report)} "
        f"whole UTC days of orders up to {window.last:%d %b %Y}, the end of the range (a year at most, "
        "whatever the range's start). Capacity ahead: each line's last plan less its usual downtime."
    )
    ui.table(
        forecast.summary(report),
        hide_index=True,
        column_config={
            "product_line": "Product line",
            "model": "Chosen model",
            "mase": st.column_config.NumberColumn(
                "MASE (days 1–7)",
                format="%.2f",
                help="Mean absolute error over that of repeating last week: below 1 "
                "is better than repeating last week",
            ),
            "coverage_80": st.column_config.NumberColumn("80% range held", format="%.0f%%"),
            "short_days": st.column_config.NumberColumn(
                f"Short days (of {horizon})", help="Days the forecast exceeds capacity"
            ),
            "at_risk_days": st.column_config.NumberColumn(
                f"At-risk days (of {horizon})", help="Days the top of the 80% range exceeds capacity"
            ),
        },
    )

    lines, opened = forecast.product_lines(report), forecast.default_line(report)
    left, right = st.columns([3, 1])
    line = (
        left.segmented_control(
            "Product line", lines, default=opened, format_func=ui.plain, key="forecast_line"
        )  # options are Markdown; names come from the lake
        or opened
    )
    weekly = right.toggle("Weekly totals", key="forecast_weekly")
    outlook = report.lines[line]
    shown = forecast.line_view(outlook, horizon, weekly)
    if shown is None:
        st.info(
            f"Weekly ranges come from the backtest, which {ui.plain(line)} has not had yet: showing days."
        )
        shown = forecast.line_view(outlook, horizon)
    ahead, past = shown.forecast, shown.history
    figure = go.Figure(
        [
            go.Scatter(
                x=ahead["date"],
                y=ahead["high_95"],
                mode="lines",
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
                name="95% range",
            ),
            go.Scatter(
                x=ahead["date"],
                y=ahead["low_95"],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(37,99,235,0.12)",
                name="95% range",
            ),
            go.Scatter(
                x=ahead["date"],
                y=ahead["high_80"],
                mode="lines",
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
                name="80% range",
            ),
            go.Scatter(
                x=ahead["date"],
                y=ahead["low_80"],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(37,99,235,0.25)",
                name="80% range",
            ),
            go.Scatter(
                x=past["date"], y=past["units"], mode="lines", name="units ordered", line_color="#2563eb"
            ),
            go.Scatter(
                x=list(past["date"].tail(1)) + list(ahead["date"]),  # joined to the last day seen
                y=list(past["units"].tail(1)) + list(ahead["forecast"]),
                mode="lines",
                name="forecast",
                line={"color": "#2563eb", "dash": "dash"},
            ),
            go.Scatter(
                x=list(past["date"]) + list(ahead["date"]),
                y=list(past["capacity"]) + list(ahead["capacity"]),
                mode="lines",
                name="planned capacity",
                line={"color": "#dc2626", "shape": "hv"},
            ),
        ]
    )
    flagged = shown.shortfalls
    for status, color, symbol in (("short", "#dc2626", "x"), ("at risk", "#f59e0b", "circle-open")):
        rows = flagged[flagged["status"] == status]
        figure.add_trace(
            go.Scatter(
                x=rows["date"],
                y=rows["forecast"],
                mode="markers",
                name=status,
                marker={"color": color, "size": 9, "symbol": symbol},
            )
        )
    figure.add_vline(x=ahead["date"].iloc[0], line_dash="dot", line_color="#64748b")
    figure.update_layout(
        title=f"{plotly_text(line)}: units per {shown.unit}",
        yaxis_rangemode="tozero",
        legend_traceorder="normal",
    )  # Plotly reverses it when traces are filled
    ui.chart(figure, height=420, key="forecast_chart")

    for sentence in forecast.sentences(line, outlook, horizon):
        if sentence:
            st.markdown(f"- {ui.plain(sentence)}")  # names come from the lake

    st.subheader(f"Shortfall {shown.unit}s")
    if flagged.empty:
        st.success(
            f"Planned capacity covers {ui.plain(line)}'s forecast, even at the top of its 80% range, "
            "on every "
            f"{shown.unit} of the next {horizon} days."
        )
    else:
        ui.table(
            flagged,
            hide_index=True,
            column_config={
                "date": st.column_config.DateColumn("Day" if shown.unit == "day" else "Week from"),
                "status": "Status",
                "forecast": st.column_config.NumberColumn("Forecast", format="%.0f"),
                "high_80": st.column_config.NumberColumn("Top of 80% range", format="%.0f"),
                "capacity": st.column_config.NumberColumn("Capacity", format="%.0f"),
                "short_by": st.column_config.NumberColumn("Short by", format="%.0f"),
                "short_by_at_80": st.column_config.NumberColumn("Short by (top of 80%)", format="%.0f"),
            },
        )
        st.caption(
            "Short: the forecast exceeds capacity. At risk: only the top of the 80% range does (1 day in 10 "
            "demand is expected above it)."
        )

    st.subheader("Backtest")
    table = forecast.backtest_table(outlook, horizon)
    if table.empty:
        st.info(
            f"No backtest for {ui.plain(line)} yet: it needs {forecast.missing_days(outlook)} more days "
            "of history."
        )
    else:
        ui.table(
            table,
            hide_index=True,
            column_config={
                "model": "Model",
                "chosen": st.column_config.CheckboxColumn("Chosen"),
                "mase": st.column_config.NumberColumn("MASE", format="%.2f"),
                "wape": st.column_config.NumberColumn("WAPE", format="%.1f%%"),
                "smape": st.column_config.NumberColumn("sMAPE", format="%.1f%%"),
                "coverage_80": st.column_config.NumberColumn("80% range held", format="%.0f%%"),
                "coverage_95": st.column_config.NumberColumn("95% range held", format="%.0f%%"),
                "mase_all": st.column_config.NumberColumn(f"MASE (days 1–{horizon})", format="%.2f"),
            },
        )
        st.caption(
            f"Each model forecast the {horizon} days after each of the last "
            f"{outlook.forecast.design.test_origins} days whose outcome is known, using only the data "
            "before; figures are for days 1–7 ahead unless "
            "the column says otherwise. MASE: error relative to repeating last week (below 1 is better). "
            "WAPE: the miss as a share of demand. The model was chosen on earlier days than these."
        )
