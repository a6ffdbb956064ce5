"""Viewer-to-order analytics: event recording, attribution, metrics, reports.

Recording (:mod:`analytics.events`) is imported by the studio server on its
hot path; everything else needs pandas, so it is loaded on first use
(PEP 562) and the server never pays for pandas it does not use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from analytics import events

if TYPE_CHECKING:
    from analytics.attribution import DEFAULT_WINDOW, SALE_STATUSES, attribute_orders
    from analytics.frames import ShowData, load_link_events, load_show
    from analytics.live import live_stats
    from analytics.metrics import (
        concurrency,
        funnel,
        on_air_intervals,
        peak_concurrent,
        platform_sales,
        product_table,
        retention_curve,
        show_summary,
        timeline_figure_data,
        watch_times,
    )
    from analytics.orders_import import OrderImportResult, import_orders_csv
    from analytics.replay import BEAT_S, channel_split, chapters, clip_plan, replayed_chapters
    from analytics.report import write_report
    from analytics.simulate import simulate_show

_LAZY = {
    "DEFAULT_WINDOW": "analytics.attribution",
    "SALE_STATUSES": "analytics.attribution",
    "attribute_orders": "analytics.attribution",
    "ShowData": "analytics.frames",
    "load_show": "analytics.frames",
    "load_link_events": "analytics.frames",
    "live_stats": "analytics.live",
    "concurrency": "analytics.metrics",
    "funnel": "analytics.metrics",
    "on_air_intervals": "analytics.metrics",
    "peak_concurrent": "analytics.metrics",
    "platform_sales": "analytics.metrics",
    "product_table": "analytics.metrics",
    "retention_curve": "analytics.metrics",
    "show_summary": "analytics.metrics",
    "timeline_figure_data": "analytics.metrics",
    "watch_times": "analytics.metrics",
    "OrderImportResult": "analytics.orders_import",
    "import_orders_csv": "analytics.orders_import",
    "BEAT_S": "analytics.replay",
    "channel_split": "analytics.replay",
    "chapters": "analytics.replay",
    "clip_plan": "analytics.replay",
    "replayed_chapters": "analytics.replay",
    "write_report": "analytics.report",
    "simulate_show": "analytics.simulate",
}

# Spelled out (not built from _LAZY) so linters and type checkers see the public names.
__all__ = [
    "BEAT_S",
    "DEFAULT_WINDOW",
    "SALE_STATUSES",
    "OrderImportResult",
    "ShowData",
    "attribute_orders",
    "channel_split",
    "chapters",
    "clip_plan",
    "concurrency",
    "events",
    "funnel",
    "import_orders_csv",
    "live_stats",
    "load_link_events",
    "load_show",
    "on_air_intervals",
    "peak_concurrent",
    "platform_sales",
    "product_table",
    "replayed_chapters",
    "retention_curve",
    "show_summary",
    "simulate_show",
    "timeline_figure_data",
    "watch_times",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'analytics' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
