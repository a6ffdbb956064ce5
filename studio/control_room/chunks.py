"""Streamlit's element code, fetched all at once as a page starts instead of element by element.

Streamlit's browser side loads the code of each element type (a JavaScript
chunk such as ``Button.<hash>.js``) the first time an element of that type
arrives, and draws the element only once it is there. The Go live page's first
screen thus waited through four such waves, one after the other (buttons, then
the select box and layout switch, then the picture and the preview frame),
while the browser sat between them. The page's first element now imports
every chunk its first screen and its lower half use, in parallel: by the time
their elements arrive, their code is in the browser's module map (the same
URL Streamlit imports, so each module is fetched and run once).

The chunk names carry a hash that changes with every Streamlit release; they
are read from the installed package, and a type that is not found is simply
not preloaded (tests/test_control_room_browser.py checks that each one is).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import streamlit as st

#: The element types the Go live page draws (Streamlit's names for their chunks).
GO_LIVE_ELEMENTS = (
    "Html",
    "Radio",
    "Button",
    "BidiComponent",
    "Selectbox",
    "ButtonGroup",
    "ImageList",
    "IFrame",
    "Checkbox",
    "Metric",
    "NumberInput",
    "TextInput",
)

STATIC_JS = Path(st.__file__).parent / "static" / "static" / "js"


@functools.cache
def chunk_files(elements: tuple[str, ...] = GO_LIVE_ELEMENTS, folder: Path = STATIC_JS) -> tuple[str, ...]:
    """The installed Streamlit's chunk file for each element type that has exactly one."""
    found = []
    for element in elements:
        matches = [p.name for p in folder.glob(f"{element}.*.js") if re.fullmatch(rf"{element}\.[\w-]+\.js", p.name)]
        if len(matches) == 1:
            found.append(matches[0])
    return tuple(found)


def preload_script(files: tuple[str, ...]) -> str:
    """A script importing ``files`` from Streamlit's ``static/js`` folder, as Streamlit resolves them
    (relative to the page's base URL, so a ``server.baseUrlPath`` works too); a failure changes nothing."""
    paths = json.dumps([f"./static/js/{name}" for name in files])
    return (
        "<script>for (const path of " + paths + ") "
        "import(new URL(path, document.baseURI).href).catch(() => {});</script>"
    )


def preload_elements() -> None:
    """Start fetching the Go live page's element code (call it with the page's first element)."""
    files = chunk_files()
    if files:
        st.html(preload_script(files), unsafe_allow_javascript=True)
