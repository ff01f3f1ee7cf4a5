"""Campaigns: marketing spend against orders, region by region."""

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import ui
from app.services import campaigns

view = ui.view()
ui.page_header("Campaigns", "Marketing spend against orders per region, and after how many days orders follow "
               "spend", view.range)

result = ui.load(campaigns.campaign_view, view.ctx, view.range, what="campaign spend and orders")
if result is not None and result.is_empty:
    ui.empty_state("No whole day of spend and orders in this range — widen it (campaigns are compared day by day) "
                   "or seed the lake with `make run`.")
elif result is not None:
    daily = result.daily
    lag = result.best_lag
    best = result.correlation.set_index("lag_days")["correlation"].get(lag) if lag is not None else None
    st.caption(f"Over the {result.days} whole days of the range (UTC).")
    ui.kpi_row([
        ui.Figure("Campaign spend", f"${daily['spend'].sum():,.0f}"),
        ui.Figure("Orders", f"{daily['orders'].sum():,}", caption=f"${daily['revenue'].sum():,.0f} revenue"),
        ui.Figure("Campaigns active", f"{len(result.campaigns):,}"),
        ui.Figure("Orders follow spend after", "—" if lag is None else f"{lag} day{'s' if lag != 1 else ''}",
                  caption=None if best is None else f"correlation {best:.2f}",
                  help="The lag at which a region's spend correlates best with its share of all orders."),
    ])

    regions = sorted(daily["region"].unique())
    chosen = st.multiselect("Regions", regions, default=regions, key="campaign_regions") or regions
    figure = make_subplots(rows=len(chosen), cols=1, shared_xaxes=True, vertical_spacing=0.04,
                           specs=[[{"secondary_y": True}]] * len(chosen), subplot_titles=chosen)
    for row, region in enumerate(chosen, start=1):
        own = daily[daily["region"] == region]
        figure.add_trace(go.Bar(x=own["day"], y=own["spend"], name="spend ($)", marker_color="#f59e0b",
                                opacity=0.55, showlegend=row == 1, legendgroup="spend"),
                         row=row, col=1, secondary_y=True)
        figure.add_trace(go.Scatter(x=own["day"], y=own["orders"], name="orders", line_color="#2563eb",
                                    showlegend=row == 1, legendgroup="orders"), row=row, col=1)
    figure.update_yaxes(title_text="orders", secondary_y=False, rangemode="tozero")
    figure.update_yaxes(title_text="spend", secondary_y=True, showgrid=False, tickmode="auto", nticks=4,
                        range=[0, max(daily["spend"].max(), 1) * 1.05], tickprefix="$", tickformat=",.0f")
    ui.chart(figure, height=150 * len(chosen) + 90)

    left, right = st.columns([3, 2])
    with left:
        bars = px.bar(result.correlation, x="lag_days", y="correlation", title="Spend vs later order share",
                      labels={"lag_days": "orders this many days after the spend", "correlation": "correlation"})
        if lag is not None:
            bars.add_vline(x=lag, line_dash="dot", line_color="#dc2626")
        ui.chart(bars, height=320)
    with right:
        st.markdown("**How to read this**")
        st.caption("A first look, not an effect estimate: for each lag, the correlation of a region's daily spend "
                   "with its share of all orders that many days later, averaged over the regions that spent. "
                   "The share removes what every region has in common (weekday, season, holidays).")

    st.subheader("Campaigns in this range")
    st.dataframe(result.campaigns, hide_index=True, column_config={
        "campaign_id": "Campaign", "name": "Name", "channel": "Channel", "region": "Region",
        "budget": st.column_config.NumberColumn("Budget", format="dollar"),
        "start_date": st.column_config.DateColumn("Start"), "end_date": st.column_config.DateColumn("End"),
        "spend": st.column_config.NumberColumn("Spend in range", format="dollar"),
        "impressions": st.column_config.NumberColumn("Impressions", format="localized"),
        "clicks": st.column_config.NumberColumn("Clicks", format="localized"),
        "ctr": st.column_config.NumberColumn("CTR", format="percent"),
        "budget_used": st.column_config.ProgressColumn("Budget used", format="percent", min_value=0, max_value=1),
    })
