"""Verticals: the router (``streamlit run dashboard/streamlit_app.py``). Pages are listed
here, the shared sidebar lives in app/ui.py.

The entry point sits in a folder of its own, not beside the top-level ``pages/``: Streamlit
treats a ``pages/`` folder next to the entry point as a legacy multipage app until some run
has called ``st.navigation``, so a server whose first request is a deep link would run the
page file without this router. Each page's ``url_path`` is spelled out: the URLs are the
ones links already carry.

Sign-in comes first (docs/security.md): a visitor who is not signed in sees the sign-in
prompt and nothing else. Pages a user's roles do not allow are hidden from the navigation,
and each of them refuses itself too (``ui.require``), so a deep link shows one sentence.
"""

import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # streamlit puts this file's folder on the path, not the repository's
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import ui  # noqa: E402
from app.analytics.forecast import load_models  # noqa: E402

PAGES = ROOT / "pages"


@st.cache_resource(show_spinner=False, max_entries=1)
def load_models_in_background() -> threading.Thread:
    """Once per server process: the forecast's statsmodels import (~1 s) off the first
    Demand forecast view's path."""
    thread = threading.Thread(target=load_models, name="load-forecast-models", daemon=True)
    thread.start()
    return thread


# A local image: Streamlit draws a ":material/…:" page icon from fonts.gstatic.com, a request
# to Google on every page load (and console errors on a machine without internet).
st.set_page_config(layout="wide", page_title="Verticals", page_icon=str(ROOT / "dashboard" / "favicon.png"))
load_models_in_background()
user = ui.sign_in()

navigation = st.navigation(
    {
        "Dashboards": [
            st.Page(
                PAGES / "overview.py",
                title="Overview",
                icon=":material/dashboard:",
                url_path="overview",
                default=True,
            ),
            st.Page(
                PAGES / "event_rates.py",
                title="Event rates",
                icon=":material/monitoring:",
                url_path="event_rates",
            ),
            st.Page(
                PAGES / "delivery_health.py",
                title="Delivery health",
                icon=":material/health_and_safety:",
                url_path="delivery_health",
            ),
            st.Page(
                PAGES / "campaigns.py", title="Campaigns", icon=":material/campaign:", url_path="campaigns"
            ),
            st.Page(
                PAGES / "demand_forecast.py",
                title="Demand forecast",
                icon=":material/factory:",
                url_path="demand_forecast",
            ),
        ],
        "Explore": [
            st.Page(
                PAGES / "saved_queries.py",
                title="Saved queries",
                icon=":material/database:",
                url_path="saved_queries",
                visibility=ui.visibility(user, "explore"),
            ),
            st.Page(
                PAGES / "event_explorer.py",
                title="Event explorer",
                icon=":material/travel_explore:",
                url_path="event_explorer",
                visibility=ui.visibility(user, "explore"),
            ),
        ],
    }
)
ui.sidebar()
ui.signed_in_as(user)
navigation.run()
