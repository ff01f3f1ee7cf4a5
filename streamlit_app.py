"""Verticals: the router. Pages are listed here, the shared sidebar lives in app/ui.py."""

from pathlib import Path

import streamlit as st

from app import ui

PAGES = Path(__file__).parent / "pages"

st.set_page_config(layout="wide", page_title="Verticals", page_icon=":material/hub:")

navigation = st.navigation(
    {
        "Dashboards": [
            st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
            st.Page(PAGES / "event_rates.py", title="Event rates", icon=":material/monitoring:"),
            st.Page(
                PAGES / "delivery_health.py", title="Delivery health", icon=":material/health_and_safety:"
            ),
            st.Page(PAGES / "campaigns.py", title="Campaigns", icon=":material/campaign:"),
            st.Page(PAGES / "demand_forecast.py", title="Demand forecast", icon=":material/factory:"),
        ],
        "Explore": [
            st.Page(PAGES / "saved_queries.py", title="Saved queries", icon=":material/database:"),
            st.Page(PAGES / "event_explorer.py", title="Event explorer", icon=":material/travel_explore:"),
        ],
    }
)
ui.sidebar()
navigation.run()
