"""The automatic hold slate in analytics: held seconds in the summary, shaded spans in the report's timeline,
a holds table in the HTML and XLSX reports, held_s in the summary CSV.

The pipeline stores each hold and resume as a ``stream_events`` row (kind ``hold`` / ``resume``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import events
from analytics.frames import ShowData
from analytics.metrics import hold_spans, show_summary, timeline_figure_data
from analytics.report import write_report
from catalog.shows import Show, create_show, end_show
from tests.test_analytics_metrics import END, START, at

SHOW = Show(id=3, title="Hold me", started_at=START, ended_at=END)  # 600 s


def marks(*rows: tuple[float, str]) -> list[dict[str, object]]:
    return [{"id": i, "at": at(seconds), "kind": kind} for i, (seconds, kind) in enumerate(rows, start=1)]


def test_holds_run_to_the_next_resume_or_the_show_end_clipped_to_the_show() -> None:
    data = ShowData.build(
        SHOW,
        stream_events=marks(
            (-30, "hold"), (10, "resume"),  # began before the start: counted from the start
            (60, "hold"), (90, "stats"), (120, "resume"),
            (130, "hold"), (140, "hold"), (200, "resume"),  # a second hold changes nothing
            (300, "resume"),  # a resume without a hold changes nothing
            (540, "hold"),  # never resumed: held until the show's end
        ),
    )
    spans = hold_spans(data)
    assert spans["held_s"].tolist() == [10.0, 60.0, 70.0, 60.0]
    assert spans["start"].iloc[0] == pd.Timestamp(START) and spans["end"].iloc[-1] == pd.Timestamp(END)
    assert show_summary(data)["held_s"] == 200.0
    assert timeline_figure_data(data, freq="60s")["holds"]["held_s"].sum() == 200.0
    empty = ShowData.build(SHOW)
    assert show_summary(empty)["held_s"] == 0.0 and hold_spans(empty).empty


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.floats(min_value=-200, max_value=800, allow_nan=False),
            st.sampled_from(["hold", "resume", "stats", "disconnect"]),
        ),
        max_size=30,
    ),
    ended=st.booleans(),
)
def test_held_seconds_are_never_negative_nor_longer_than_the_show(rows: list[tuple[float, str]], ended: bool) -> None:
    show = Show(id=3, title="fuzz", started_at=START, ended_at=END if ended else None)
    data = ShowData.build(show, stream_events=marks(*rows), now=at(450))
    spans = hold_spans(data)
    held = show_summary(data)["held_s"]
    assert 0.0 <= held <= data.duration_s + 1e-6
    assert (spans["held_s"] > 0).all()
    assert (spans["start"] >= data.start).all() and (spans["end"] <= data.end).all()
    assert (spans["start"].iloc[1:].to_numpy() >= spans["end"].iloc[:-1].to_numpy()).all()  # never overlapping
    flips = sorted((pd.Timestamp(at(t)), i) for i, (t, kind) in enumerate(rows) if kind in ("hold", "resume"))
    if flips and rows[flips[-1][1]][1] == "hold" and flips[-1][0] < data.end:
        assert spans["end"].iloc[-1] == data.end  # an unmatched hold ends at the show's end (now while live)


def held_show(db: sqlite_utils.Database) -> int:
    show = create_show(db, "Rainy harvest 雨天", started_at=START)
    for seconds, kind in ((120, "hold"), (150, "stats"), (165, "resume"), (480, "hold")):
        events.record_stream_event(db, show.id, kind, detail="uplink unusable", at=at(seconds))
    end_show(db, show.id, ended_at=END)
    return show.id


def test_the_report_shades_the_holds_and_lists_them_in_every_format(db: sqlite_utils.Database, tmp_path: Path) -> None:
    show = held_show(db)
    html = write_report(db, show, tmp_path / "r.html", timezone_name="UTC").read_text()
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count('<rect class="hold"') == 2
    assert "<title>on hold · 保持画面: 45 s</title>" in svg and "<title>on hold · 保持画面: 120 s</title>" in svg
    assert "On hold (the automatic hold slate) / 保持画面（自动）" in html
    assert "On hold (s) / 保持画面时长（秒）: 165.0" in html
    assert "2026-11-20 10:02:00" in html and "2026-11-20 10:02:45" in html  # the first span's start and end

    write_report(db, show, tmp_path / "r.csv", timezone_name="UTC")
    summary = pd.read_csv(tmp_path / "r.summary.csv", encoding="utf-8-sig").set_index("Metric / 指标")
    assert summary.loc["held_s", "Value / 数值"] == "165.0"

    sheets = pd.read_excel(write_report(db, show, tmp_path / "r.xlsx", timezone_name="UTC"), sheet_name=None)
    holds = sheets["holds"]
    assert holds["On hold (s) / 保持画面时长（秒）"].tolist() == [45.0, 120.0]
    assert holds["From / 开始"].tolist() == [pd.Timestamp("2026-11-20 10:02:00"), pd.Timestamp("2026-11-20 10:08:00")]
