"""Benchmark: the analytics report of a show with 100,000 sessions and 1,000,000 events.

Builds the show with the simulator in a temporary SQLite file, then times the
whole report computation (load_show + show_summary + product_table + funnel
+ retention_curve + concurrency), median of several runs, against a naive
baseline measured in the same run: read every row, then plain Python loops
(per-event counting, per-session watch time, an event-by-event sweep, and a
per-session overlap test for each on-air interval). Both must agree.

    .venv/bin/python benchmarks/analytics.py [--viewers 90000] [--activity 45] [--runs 5]

Target (DESIGN.md): <= 2 s for the report.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import catalog
from analytics import (
    concurrency,
    funnel,
    load_show,
    product_table,
    retention_curve,
    show_summary,
    simulate_show,
)
from catalog.timestamps import parse_iso

TARGET_S = 2.0


def fast_report(db: Any, show_id: int) -> dict[str, Any]:
    data = load_show(db, show_id)
    summary = show_summary(data)
    products = product_table(data)
    funnel(data)
    retention_curve(data, step_s=60)
    concurrency(data, "10s")
    return {
        "unique_viewers": summary["unique_viewers"],
        "peak_concurrent": summary["peak_concurrent"],
        "scans": dict(zip(products["sku"], products["scans"], strict=True)),
        "viewers_present": dict(zip(products["sku"], products["viewers_present"], strict=True)),
    }


def naive_report(db: Any, show_id: int) -> dict[str, Any]:
    """The obvious per-row Python version of the same figures."""
    start, end = (
        parse_iso(t).timestamp()
        for t in db.execute("SELECT started_at, ended_at FROM shows WHERE id = ?", [show_id]).fetchone()
    )
    sessions = [
        (viewer, max(parse_iso(joined).timestamp(), start), min(parse_iso(left).timestamp() if left else end, end))
        for viewer, joined, left in db.execute(
            "SELECT viewer_id, joined_at, left_at FROM viewer_sessions WHERE show_id = ?", [show_id]
        )
    ]
    watched: dict[str, float] = defaultdict(float)
    for viewer, joined, left in sessions:
        watched[viewer] += max(left - joined, 0.0)
    changes = sorted(
        [(joined, 1) for _, joined, left in sessions if left > joined]
        + [(left, -1) for _, joined, left in sessions if left > joined]
    )
    level = peak = 0
    for _, delta in sorted(changes, key=lambda c: (c[0], c[1])):
        level += delta
        peak = max(peak, level)
    scans: Counter[str] = Counter()
    scanners: set[str] = set()
    for sku, kind, viewer in db.execute(
        "SELECT sku, kind, viewer_id FROM link_events WHERE show_id = ?", [show_id]
    ):
        if kind == "scan":
            scans[sku] += 1
        if viewer:
            scanners.add(viewer)
    overlays = [
        (parse_iso(at).timestamp(), sku)
        for at, sku in db.execute(
            "SELECT at, sku FROM overlay_events WHERE show_id = ? ORDER BY at, id", [show_id]
        )
    ]
    present: dict[str, set[str]] = defaultdict(set)
    for (begin, sku), (finish, _) in zip(overlays, [*overlays[1:], (end, None)], strict=True):
        if sku is None:
            continue
        for viewer, joined, left in sessions:
            if joined < finish and left > begin and left > joined:
                present[sku].add(viewer)
    return {
        "unique_viewers": len(watched),
        "peak_concurrent": peak,
        "scans": {sku: scans.get(sku, 0) for sku in present},
        "viewers_present": {sku: len(v) for sku, v in present.items()},
    }


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Median wall time, median CPU time of this process, last result.

    CPU time is the steadier figure on a machine shared with other work.
    """
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=90_000, help="distinct viewers (about 1.12 sessions each)")
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--activity", type=float, default=45.0, help="scans/clicks scale (45 -> ~1M events)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        db = catalog.open_db(folder)
        began = time.perf_counter()
        show_id = simulate_show(
            db, viewers=args.viewers, minutes=args.minutes, seed=7, activity=args.activity
        )
        built = time.perf_counter() - began
        counts = {
            table: db.execute(f"SELECT COUNT(*) FROM {table} WHERE show_id = ?", [show_id]).fetchone()[0]
            for table in ("viewer_sessions", "link_events", "overlay_events")
        }
        counts["orders"] = db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        events = counts["link_events"] + counts["orders"] + counts["overlay_events"]
        print(
            f"show: {counts['viewer_sessions']:,} sessions, {events:,} events "
            f"({counts['link_events']:,} scans/clicks, {counts['orders']:,} orders, "
            f"{counts['overlay_events']} overlay changes); simulated in {built:.1f} s"
        )
        fast_s, fast_cpu, fast = timed(lambda: fast_report(db, show_id), args.runs)
        naive_s, naive_cpu, naive = timed(lambda: naive_report(db, show_id), args.baseline_runs)
        agree = (
            (fast["unique_viewers"], fast["peak_concurrent"]) == (naive["unique_viewers"], naive["peak_concurrent"])
            and {k: v for k, v in fast["viewers_present"].items() if v} == naive["viewers_present"]
            and all(fast["scans"].get(sku, 0) == n for sku, n in naive["scans"].items())
        )
        print(f"report (load_show + summary + products + funnel + retention + concurrency): "
              f"median {fast_s:.3f} s wall, {fast_cpu:.3f} s CPU over {args.runs} runs (target <= {TARGET_S:.0f} s)")
        print(f"naive per-row Python baseline: median {naive_s:.3f} s wall, {naive_cpu:.3f} s CPU "
              f"over {args.baseline_runs} runs")
        print(f"speed-up: {naive_s / fast_s:.1f}x wall, {naive_cpu / fast_cpu:.1f}x CPU; results agree: {agree}")
        db.conn.close()
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
