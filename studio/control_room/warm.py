"""``streamlit run`` with the Go live page's heavy modules loaded before the first browser opens it.

Streamlit imports a page's modules when the first browser session runs it, so
the host's first load paid for pandas, numpy, OpenCV, Pillow, the overlay
renderer and its fonts (about a second on a quiet laptop, several on a busy
one). ``farmlive up`` starts the control room through this module instead: a
background thread imports them and draws one preview while Streamlit's server
starts, and the first session finds them ready. Nothing here touches Streamlit's
runtime (no page script runs here).

    python -m studio.control_room.warm run studio/control_room/app.py [streamlit options]
"""

from __future__ import annotations

import importlib
import logging
import threading

#: What the Go live page imports that Streamlit itself does not (the Catalog and Analytics pages add
#: little beyond pandas, which is here too).
WARM_MODULES = (
    "numpy",
    "pandas",
    "PIL.Image",
    "segno",
    "sqlite_utils",
    "catalog",
    "overlays",
    "studio.config",
    "studio.control_room.client",
    "studio.control_room.i18n",
    "studio.control_room.preview",
    # What the first session's run imported on top (sys.modules before and after it, 2026-11-30): Streamlit's
    # icon and emoji tables, Pillow's encoders for st.image, the page's panels. Not the modules that register
    # a component or a cache at import (echo, later, alerts): those must meet Streamlit's runtime.
    "streamlit.emojis",
    "streamlit.material_icon_names",
    "PIL.JpegImagePlugin",
    "PIL.PngImagePlugin",
    "studio.control_room.ui",
    "studio.control_room.views.destinations_panel",
    "studio.control_room.views.recap",
    "studio.control_room.views.room_panel",
)

log = logging.getLogger(__name__)


def warm() -> None:
    """Import :data:`WARM_MODULES` and draw one staged preview (fonts, the sample frames): a failure
    here only means the first session does it itself."""
    try:
        for name in WARM_MODULES:
            importlib.import_module(name)
        catalog = importlib.import_module("catalog")
        preview_image = importlib.import_module("studio.control_room.preview").preview_image

        sample = catalog.Product(sku="WARM", name="Warm-up", name_zh="预热", price=1.0, stock=1)
        for layout in ("landscape", "portrait"):
            preview_image(sample, layout=layout, link_url="http://127.0.0.1/b/preview")
    except Exception:  # warming is an optimisation, never a reason not to start
        log.exception("warming the control room's modules failed (the first page load will do it)")


def main() -> None:
    threading.Thread(target=warm, name="farmlive-warm", daemon=True).start()
    importlib.import_module("streamlit.web.cli").main()  # reads sys.argv: run APP [options]


if __name__ == "__main__":
    main()
