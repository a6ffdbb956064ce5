"""Record the composed show to MP4 from the packets viewers get: no second encode.

Fragmented MP4 (an empty ``moov`` up front, one ``moof`` fragment per
keyframe) because a studio can die mid-show — power cut, ``kill -9`` — and
the file must still play up to the last second written.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import av
from av.container import OutputContainer

from catalog.timestamps import now_iso, to_iso
from studio.media.encoder import AUDIO_SAMPLE_RATE, AUDIO_TIME_BASE, VIDEO_TIME_BASE

log = logging.getLogger(__name__)

# use_metadata_tags: the file names its show and the wall-clock time of its
# first frame, so a replay maps the on-air log onto it to the frame.
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+use_metadata_tags"
SHOW_TAG = "farmlive_show_id"
STARTED_TAG = "farmlive_started_at"


def recording_path(directory: Path, show_id: int, started: datetime | None = None) -> Path:
    """``show-<id>-<UTC time>.mp4``, made unique if a file of that name exists."""
    started = started or datetime.now(UTC)
    stem = f"show-{show_id}-{started.strftime('%Y%m%dT%H%M%SZ')}"
    path = directory / f"{stem}.mp4"
    part = 2
    while path.exists():
        path = directory / f"{stem}-part{part}.mp4"
        part += 1
    return path


def _copy(packet: av.Packet, stream: av.stream.Stream, pts: int) -> av.Packet:
    """A private copy for the muxer: muxing rewrites pts/stream in place, and the
    original is still queued for viewers."""
    copy = av.Packet(bytes(packet))
    copy.pts = copy.dts = pts
    copy.time_base = packet.time_base
    copy.is_keyframe = packet.is_keyframe
    copy.stream = stream
    return copy


class Recording:
    """One MP4 file being written. Opened on a keyframe; every call from one thread."""

    def __init__(
        self,
        path: Path,
        keyframe: av.Packet,
        *,
        show_id: int = 0,
        started_at: str | None = None,
        with_audio: bool = True,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # When the first frame was composed (the caller knows; opening x264 and
        # the muxer takes ~0.1 s more), else now.
        self.started_at = started_at or now_iso()
        # Probing the first keyframe as raw H.264 gives the stream's exact
        # parameters (size, SPS/PPS for the avcC box) without opening a second
        # x264 encoder just to describe the stream.
        self._container: OutputContainer = av.open(
            # flush_packets: each fragment reaches the disk when written, not
            # when 32 KB of buffer fill up (over a second of a quiet slate).
            str(path), "w", format="mp4", options={"movflags": MOVFLAGS, "flush_packets": "1"}
        )
        # In the moov written up front, so even a file cut short by kill -9 carries them.
        self._container.metadata[SHOW_TAG] = str(show_id)
        self._container.metadata[STARTED_TAG] = self.started_at
        with av.open(io.BytesIO(bytes(keyframe)), format="h264") as probe:
            template = probe.streams.video[0]
            self.size = (template.codec_context.width, template.codec_context.height)
            self._video = self._container.add_stream_from_template(template)
        self._video.time_base = VIDEO_TIME_BASE
        self._audio = None
        if with_audio:
            self._audio = self._container.add_stream("libopus", rate=AUDIO_SAMPLE_RATE)
            self._audio.layout = "stereo"
            self._audio.time_base = AUDIO_TIME_BASE
        self._video_origin = keyframe.pts or 0
        self._audio_origin: int | None = None
        self._last_video_pts = -1
        self._last_audio_pts = -1
        self.video_packets = 0
        self.audio_packets = 0
        self.write_video(keyframe)

    def write_video(self, packet: av.Packet) -> None:
        if packet.pts is None:  # the show encoder always stamps; a muxer cannot place one without
            return
        pts = packet.pts - self._video_origin
        if pts <= self._last_video_pts:  # never a non-increasing timestamp in the file
            return
        self._last_video_pts = pts
        self._container.mux(_copy(packet, self._video, pts))
        self.video_packets += 1

    def write_audio(self, packet: av.Packet) -> None:
        if self._audio is None or packet.pts is None:
            return
        if self._audio_origin is None:
            # Line the first audio packet up with the video written so far.
            elapsed = self._last_video_pts * AUDIO_SAMPLE_RATE // VIDEO_TIME_BASE.denominator
            self._audio_origin = packet.pts - max(0, elapsed)
        pts = packet.pts - self._audio_origin
        if pts <= self._last_audio_pts:
            return
        self._last_audio_pts = pts
        self._container.mux(_copy(packet, self._audio, pts))
        self.audio_packets += 1

    def close(self) -> None:
        self._container.close()


class Recorder:
    """The show's recording: one file per show, rolled over when the picture size changes.

    ``begin(show_id)`` arms it; the file opens on the next keyframe (the
    pipeline forces one) and ``end()`` closes it.
    """

    def __init__(
        self, directory: Path, *, with_audio: bool = True, wall_clock: Callable[[int], float] | None = None
    ) -> None:
        self.directory = directory
        # Video pts -> epoch seconds: the recording's first frame is stamped with the moment it shows.
        self.wall_clock = wall_clock
        self.with_audio = with_audio
        self.show_id: int | None = None
        self.current: Recording | None = None
        self.files: list[Path] = []
        self.errors = 0
        # A show whose recording failed (disk full, folder not writable) is not
        # retried on every frame: one error in the log, the show goes on.
        self._failed_show: int | None = None

    @property
    def armed(self) -> bool:
        return self.show_id is not None

    @property
    def waiting_for_keyframe(self) -> bool:
        return self.show_id is not None and self.current is None

    def begin(self, show_id: int) -> None:
        if show_id in (self.show_id, self._failed_show):
            return
        self.end()
        self.show_id = show_id

    def end(self) -> Path | None:
        """Stop recording; returns the last file written, if any."""
        path = None
        if self.current is not None:
            path = self.current.path
            try:
                self.current.close()
            except Exception:
                log.exception("closing recording %s failed", path)
            log.info("recording closed: %s", path)
        self.current = None
        self.show_id = None
        return path

    def write_video(self, packets: list[av.Packet], size: tuple[int, int]) -> None:
        """``size`` is the encoded picture size: a new one (the phone turned) starts a new file."""
        if self.show_id is None:
            return
        for packet in packets:
            if packet.is_keyframe and self.current is not None and self.current.size != size:
                self.current.close()
                self.current = None
            if self.current is None:
                if packet.is_keyframe:
                    self._open(packet)
                continue
            self._guard(self.current.write_video, packet)

    def write_audio(self, packets: list[av.Packet]) -> None:
        if self.current is None:
            return
        for packet in packets:
            self._guard(self.current.write_audio, packet)

    def _open(self, keyframe: av.Packet) -> None:
        assert self.show_id is not None
        path = recording_path(self.directory, self.show_id)
        try:
            started_at = None
            if self.wall_clock is not None:
                started_at = to_iso(datetime.fromtimestamp(self.wall_clock(keyframe.pts or 0), UTC))
            self.current = Recording(
                path, keyframe, show_id=self.show_id, started_at=started_at, with_audio=self.with_audio
            )
        except Exception:
            # A full disk must not take the show off air: keep streaming, log it.
            self.errors += 1
            log.exception("cannot record to %s; the show goes on unrecorded", path)
            self._failed_show, self.show_id = self.show_id, None
            return
        self.files.append(path)
        log.info("recording show %s to %s", self.show_id, path)

    def _guard(self, write: Callable[[av.Packet], None], packet: av.Packet) -> None:
        try:
            write(packet)
        except Exception:
            self.errors += 1
            log.exception("recording write failed; the show goes on unrecorded")
            failed = self.show_id
            self.end()
            self._failed_show = failed


