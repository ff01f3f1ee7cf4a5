"""Campaigns: what each campaign added over what would have happened anyway, and how sure we are."""

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import ui
from app.display import plotly_text
from app.services import campaigns

view = ui.view()
ui.page_header(
    "Campaigns",
    "Orders and revenue each campaign added over a counterfactual built from the regions it "
    "did not touch, with 95% intervals",
    view.range,
)

window = ui.load(campaigns.analysis_window, view.ctx, view.range, what="the lake's last day")
analysis = (
    None
    if window is None or not window.has_orders
    else ui.load_analysis(
        campaigns.campaign_analysis,
        view.ctx,
        window.first,
        window.last,
        what="the campaign effects",
        spinner=f"Estimating campaign effects over the year up to {window.last:%d %b %Y}…",
    )
)
if window is not None and not window.has_orders:
    ui.empty_state(  # the lake is read two years back from the range's end
        f"No orders in the two years up to {window.shown_last:%d %b %Y}: pick an earlier range, "
        "or seed an empty lake with `make run`."
    )
elif analysis is not None and analysis.is_empty:
    ui.empty_state(
        f"No orders between {window.first:%d %b %Y} and {window.last:%d %b %Y} — pick a later range or "
        "seed the lake with `make run`."
    )
elif analysis is not None:
    st.caption(
        f"Campaigns that started {window.shown_first:%d %b %Y} – {window.shown_last:%d %b %Y}, estimated on "
        f"the {analysis.days_with_orders} whole UTC days of orders from "
        f"{analysis.first_day_with_orders:%d %b %Y} to {window.last:%d %b %Y} (a campaign needs the weeks "
        "before it as a baseline, whatever the range)."
    )
    if campaigns.started_in(analysis.effects, window).empty:
        ui.empty_state(
            f"No campaign started in this range ({len(analysis.effects)} in the {window.days} days "
            "analysed) — widen the range."
        )
    else:
        sort_by = (
            st.segmented_control(
                "Rank by",
                list(campaigns.SORTS),
                format_func=campaigns.SORTS.__getitem__,
                default="incremental_revenue",
                key="campaign_sort",
            )
            or "incremental_revenue"
        )
        table = campaigns.ranked(analysis, window, sort_by)
        total = campaigns.totals(table)
        ui.kpi_row(
            [
                ui.Figure(
                    "Campaigns",
                    f"{total.campaigns}",
                    caption=f"{total.estimated} estimated · {total.with_effect} with an effect",
                ),
                ui.Figure(
                    "Incremental orders",
                    f"{total.incremental_orders:+,.0f}",
                    caption="over the counterfactual",
                ),
                ui.Figure(
                    "Incremental revenue",
                    campaigns.signed_dollars(total.incremental_revenue),
                    caption=f"on ${total.spend:,.0f} of spend",
                ),
                ui.Figure(
                    "Revenue per $1 spent",
                    "—" if total.estimated == 0 else f"${total.roi:,.2f}",
                    help="Incremental revenue / spend, over the estimated campaigns (not net of the spend).",
                ),
            ]
        )

        ui.table(
            table,
            hide_index=True,
            column_order=campaigns.TABLE_COLUMNS,
            column_config={
                "campaign_id": "Campaign",
                "name": "Name",
                "start_date": st.column_config.DateColumn("Start"),
                "end_date": st.column_config.DateColumn("End"),
                "lift": st.column_config.NumberColumn(
                    "Lift", format="%+.1f%%", help="Extra orders over the counterfactual, in percent"
                ),
                "interval": st.column_config.TextColumn("95% interval"),
                "lag_days": st.column_config.NumberColumn(
                    "Lag (days)", help="Days from launch until orders respond"
                ),
                "incremental_orders": st.column_config.NumberColumn("Extra orders", format="%+,.0f"),
                "incremental_revenue": st.column_config.NumberColumn("Extra revenue", format="$%,.0f"),
                "spend": st.column_config.NumberColumn("Spend", format="$%,.0f"),
                "roi": st.column_config.NumberColumn("ROI", format="%.2f", help="Extra revenue per $1 spent"),
                "notes": st.column_config.ListColumn("Notes"),
            },
        )
        legend = campaigns.flag_legend(table)
        if legend:
            st.caption(legend)

        choices = campaigns.chart_choices(table, analysis)
        if choices:
            chosen = st.selectbox(
                "Campaign", list(choices), format_func=choices.__getitem__, key="campaign_chosen"
            )
            frame = analysis.counterfactuals[chosen]
            row = campaigns.effect_row(analysis, chosen)
            figure = go.Figure(
                [
                    go.Scatter(
                        x=frame["date"],
                        y=frame["high"],
                        mode="lines",
                        name="95% band",
                        line={"width": 0},
                        showlegend=False,
                        hoverinfo="skip",
                        legendgroup="band",
                    ),
                    go.Scatter(
                        x=frame["date"],
                        y=frame["low"],
                        mode="lines",
                        name="95% band",
                        line={"width": 0},
                        fill="tonexty",
                        fillcolor="rgba(100,116,139,0.22)",
                        legendgroup="band",
                        hoverinfo="skip",
                    ),
                    go.Scatter(
                        x=frame["date"],
                        y=frame["counterfactual"],
                        mode="lines",
                        name="without the campaign",
                        line={"color": "#64748b", "dash": "dash"},
                    ),
                    go.Scatter(
                        x=frame["date"],
                        y=frame["actual"],
                        mode="lines",
                        name="actual orders",
                        line_color="#2563eb",
                    ),
                ]
            )
            span = campaigns.effect_span(frame)
            if span is not None:
                figure.add_vrect(
                    x0=span[0],
                    x1=span[1],
                    fillcolor="#10b981",
                    opacity=0.12,
                    line_width=0,
                    annotation_text="effect window",
                    annotation_position="top left",
                )
            figure.add_vline(x=row["start_date"], line_dash="dot", line_color="#f59e0b")
            figure.update_layout(
                title=f"{plotly_text(chosen)} · {plotly_text(row['region'])}: orders per day",
                yaxis_rangemode="tozero",
            )
            ui.chart(figure, height=380, key="counterfactual")
            st.markdown(ui.plain(campaigns.sentence(analysis, chosen)))  # names come from the lake
            st.caption(
                "Dotted line: launch. Shaded: the days the campaign acts on (spend days shifted by the lag). "
                "The band is where the region's orders would have been without the campaign, 19 times in 20."
            )

    st.subheader("Spend and orders per region")
    daily = campaigns.in_range(analysis, window)
    regions = sorted(daily["region"].unique())
    chosen_regions = st.multiselect("Regions", regions, default=regions, key="campaign_regions") or regions
    figure = make_subplots(
        rows=len(chosen_regions),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        specs=[[{"secondary_y": True}]] * len(chosen_regions),
        subplot_titles=[plotly_text(r) for r in chosen_regions],
    )
    for number, region in enumerate(chosen_regions, start=1):
        own = daily[daily["region"] == region]
        figure.add_trace(
            go.Bar(
                x=own["date"],
                y=own["spend"],
                name="spend ($)",
                marker_color="#f59e0b",
                opacity=0.55,
                showlegend=number == 1,
                legendgroup="spend",
            ),
            row=number,
            col=1,
            secondary_y=True,
        )
        figure.add_trace(
            go.Scatter(
                x=own["date"],
                y=own["orders"],
                mode="lines",
                name="orders",
                line_color="#2563eb",
                showlegend=number == 1,
                legendgroup="orders",
            ),
            row=number,
            col=1,
        )
    figure.update_yaxes(title_text="orders", secondary_y=False, rangemode="tozero")
    figure.update_yaxes(
        title_text="spend",
        secondary_y=True,
        showgrid=False,
        tickmode="auto",
        nticks=4,
        range=[0, max(daily["spend"].max(), 1) * 1.05],
        tickprefix="$",
        tickformat=",.0f",
    )
    ui.chart(figure, height=150 * len(chosen_regions) + 90, key="spend_and_orders")

    correlation = campaigns.response_lag(daily)
    lag = campaigns.best_lag(correlation)
    left, right = st.columns([3, 2])
    with left:
        bars = px.bar(
            correlation,
            x="lag_days",
            y="correlation",
            title="Spend vs later order share",
            labels={"lag_days": "orders this many days after the spend", "correlation": "correlation"},
        )
        if lag is not None:
            bars.add_vline(x=lag, line_dash="dot", line_color="#dc2626")
        ui.chart(bars, height=320, key="response_lag")
    with right:
        st.markdown("**How to read this**")
        st.caption(
            "A first look over the range's days, not an effect estimate: for each lag, the correlation of a "
            "region's daily spend with its share of all orders that many days later, averaged over the "
            "regions that spent. The share removes what every region has in common (weekday, season, "
            f"holidays).{'' if lag is None else f' It peaks {lag} day(s) after the spend.'}"
        )
