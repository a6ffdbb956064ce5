"""Report files for the Analytics page's download buttons, made only when clicked."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import analytics
import catalog

REPORT_FORMATS: dict[str, str] = {
    ".html": "text/html",
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def report_bytes(db_file: str | Path, show_id: int, suffix: str, timezone_name: str) -> bytes:
    """The show's report in one format, written by :func:`analytics.write_report` to a scratch folder.

    Its own connection: Streamlit calls this on a worker thread while the page reruns.
    """
    if suffix not in REPORT_FORMATS:
        raise ValueError(f"report format must be one of {', '.join(REPORT_FORMATS)}, not {suffix!r}")
    db = catalog.connect_readonly(db_file)
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = analytics.write_report(
                db, show_id, Path(folder) / f"show-{show_id}{suffix}", timezone_name=timezone_name
            )
            return Path(path).read_bytes()
    finally:
        db.conn.close()


def report_maker(db_file: str | Path, show_id: int, suffix: str, timezone_name: str) -> Callable[[], bytes]:
    """A no-argument callable for ``st.download_button(data=...)`` (deferred generation)."""
    return lambda: report_bytes(db_file, show_id, suffix, timezone_name)
