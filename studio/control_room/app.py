"""The control room: ``streamlit run studio/control_room/app.py`` (``farmlive up`` does it).

Three pages for the host: Go live, Catalog, Analytics. Each page script
stands on its own; this file only sets up the window and the navigation.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this folder, not the project, on sys.path.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from studio.control_room.i18n import translate  # noqa: E402
from studio.control_room.ui import lang  # noqa: E402

VIEWS = Path(__file__).with_name("views")


def main() -> None:
    st.set_page_config(page_title=translate("app_title", lang()), page_icon=":material/storefront:", layout="wide")
    pages = [
        st.Page(VIEWS / "go_live_page.py", title=translate("nav_go_live", lang()), icon=":material/videocam:", url_path="go-live", default=True),
        st.Page(VIEWS / "catalog_page.py", title=translate("nav_catalog", lang()), icon=":material/inventory_2:", url_path="catalog"),
        st.Page(VIEWS / "analytics_page.py", title=translate("nav_analytics", lang()), icon=":material/monitoring:", url_path="analytics"),
    ]
    st.navigation(pages).run()


main()
