"""The control room: ``streamlit run studio/control_room/app.py`` (``farmlive up`` does it).

Three pages for the host: Go live, Catalog, Analytics. Each page script
stands on its own; this file only sets up the window and the navigation.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# `streamlit run` puts only this folder on sys.path; `studio` itself is imported as the
# installed package (scripts/setup.sh: pip install -e .).
from studio.control_room.i18n import translate
from studio.control_room.ui import lang, tab_icon

VIEWS = Path(__file__).with_name("views")


def main() -> None:
    # No sidebar: the pages are in the top bar (a menu on a phone) and the language switch sits
    # beside each page's title, so a tablet gets the whole width ("auto" if a page adds a sidebar).
    st.set_page_config(
        page_title=translate("app_title", lang()), page_icon=tab_icon(), layout="wide",
        initial_sidebar_state="auto",
    )
    pages = [
        st.Page(
            VIEWS / "go_live_page.py", title=translate("nav_go_live", lang()), icon=":material/videocam:",
            url_path="go-live", default=True,
        ),
        st.Page(
            VIEWS / "catalog_page.py", title=translate("nav_catalog", lang()), icon=":material/inventory_2:",
            url_path="catalog",
        ),
        st.Page(
            VIEWS / "analytics_page.py", title=translate("nav_analytics", lang()), icon=":material/monitoring:",
            url_path="analytics",
        ),
    ]
    st.navigation(pages, position="top").run()


main()
