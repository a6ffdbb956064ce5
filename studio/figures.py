"""The show's live figures: one immutable snapshot, written only by the pipeline.

The pipeline measures the video path and hears the uplink from WHIP (through
:meth:`~studio.media.pipeline.ShowPipeline.report_uplink`); it builds a new
:class:`LiveFigures` whenever something changes and at least once a second.
HLS viewers are counted by the reach module's heartbeats, which hand their
number in through :meth:`~studio.media.pipeline.ShowPipeline.report_hls_viewers`.
Everyone else (control API, watch page, tests) only reads ``studio.figures``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from studio.alerts import Alert


@dataclass(frozen=True)
class LiveFigures:
    viewers_now: int = 0  # watching now: WebRTC viewers connected plus HLS viewers heard from lately
    webrtc_viewers_now: int = 0  # connected WebRTC viewers, not the studio's own monitors
    hls_viewers_now: int = 0  # HLS players whose page said "still watching" within the last ~15 s
    pending_viewers: int = 0  # WHEP offers answered whose ICE + DTLS have not connected (yet)
    publishing: bool = False
    publisher: str = ""  # the publishing client's User-Agent
    uplink_kbps: float = 0.0  # what the phone sends, measured on the WHIP receiver
    ingest_fps: float = 0.0
    ingest_size: str | None = None
    output_fps: float = 0.0
    output_size: str = ""
    encode_ms: float = 0.0
    output_kbps: float = 0.0
    frames_out: int = 0
    frames_encoded: int = 0
    slate_frames: int = 0
    repeated_frames: int = 0  # the clock filled in for a hesitating phone
    dropped_frames: int = 0
    video_packets: int = 0
    audio_packets: int = 0
    viewers: int = 0  # every feed, monitors included
    keyframes: int = 0
    keyframes_forced: int = 0
    idle: bool = True
    viewer_drops: int = 0
    viewer_resyncs: int = 0
    # Counters of the live show: reset when a show starts.
    reconnects: int = 0
    drops: int = 0  # times the phone dropped during the show
    peak_viewers: int = 0
    recording: str | None = None
    alert: Alert = field(default_factory=Alert)  # ok / amber / red, see studio.alerts
    holding: bool = False  # the studio holds the slate by itself: the uplink is unusable
    auto_hold: bool = True  # the host's setting: may the studio hold the slate by itself?

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
