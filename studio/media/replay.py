"""A show's recordings after the show: seekable replay files and stream-copied clips.

The recorder writes fragmented MP4 (an empty ``moov``, one fragment per
second) so a killed studio still leaves a playable file. Such a file has no
sample index up front: players must read it to the end to learn its
duration, and seeking is slow or refused (iOS Safari). So when a show ends,
each recording is remuxed once, without re-encoding, into an ordinary MP4 with
its index (``moov``) at the front (``faststart``): any player seeks in it with
HTTP range requests. A 2-hour show takes seconds (see ``benchmarks/clips.py``).

Every file carries, as MP4 metadata, its show and the wall-clock time of its
first frame (written by :mod:`studio.media.recorder`), so the on-air log maps
onto the file's own timeline. All functions here are blocking file I/O: the
server runs them on a worker thread.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import av
import cv2
import numpy as np

from catalog.timestamps import parse_iso, to_iso
from studio.media.encoder import VIDEO_TIME_BASE
from studio.media.recorder import SHOW_TAG, STARTED_TAG

log = logging.getLogger(__name__)

RECORDING_NAME = re.compile(r"^show-(?P<show>\d+)-(?P<time>\d{8}T\d{6}Z)(?:-part(?P<part>\d+))?\.mp4$")
COMPLETE_TAG = "farmlive_complete"
REPLAY_MOVFLAGS = "+faststart+use_metadata_tags"


class BadRecording(ValueError):
    """A recording that holds no playable video (empty, or not an MP4 at all)."""


@dataclass(frozen=True)
class Part:
    """One replay file of a show: where it is and where it sits on the wall clock."""

    path: Path
    started_at: datetime
    duration_s: float
    complete: bool  # False: the studio stopped mid-write (kill -9, power cut); plays up to there

    @property
    def ended_at(self) -> datetime:
        return datetime.fromtimestamp(self.started_at.timestamp() + self.duration_s, UTC)


def recordings_of(folder: Path, show_id: int) -> list[Path]:
    """The show's recording files in the order they were written (name time, then part)."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = RECORDING_NAME.match(path.name)
        if match and int(match["show"]) == show_id and path.is_file():
            found.append((match["time"], int(match["part"] or 1), path))
    return [path for _, _, path in sorted(found)]


def closed_cleanly(path: Path) -> bool:
    """True when the fragmented MP4 ends with its ``mfra`` box, which the muxer writes on close.

    A file cut short by ``kill -9`` stops inside a fragment instead.
    """
    size = path.stat().st_size
    if size < 16:
        return False
    with path.open("rb") as file:
        file.seek(size - 16)
        tail = file.read(16)
    # The last box of a closed file is mfra's own 16-byte mfro, whose last field is mfra's size.
    if tail[4:8] != b"mfro":
        return False
    (mfra_size,) = struct.unpack(">I", tail[12:16])
    if mfra_size > size:
        return False
    with path.open("rb") as file:
        file.seek(size - mfra_size + 4)
        return file.read(4) == b"mfra"


def started_at_of(container: av.container.InputContainer, path: Path) -> datetime:
    """The wall-clock time of the first frame: from the metadata, else (older files) the name."""
    tag = container.metadata.get(STARTED_TAG)
    if tag:
        return parse_iso(tag)
    match = RECORDING_NAME.match(path.name)
    if match is None:
        raise BadRecording(f"{path.name} names no start time")
    return datetime.strptime(match["time"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def remux(source: Path, dest: Path) -> Part:
    """Stream-copy a recording into a faststart MP4 at ``dest`` (atomic: a temp file, then rename).

    A source cut short keeps everything up to its last whole packet (the
    packet being written when the writer died is dropped); ``complete`` says
    which. Raises :class:`BadRecording` when there is no video at all.
    """
    complete = closed_cleanly(source)
    temp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(source)) as inp:
            if not inp.streams.video:
                raise BadRecording(f"{source.name} has no video")
            started = started_at_of(inp, source)
            with av.open(str(temp), "w", format="mp4", options={"movflags": REPLAY_MOVFLAGS}) as out:
                out.metadata[SHOW_TAG] = inp.metadata.get(SHOW_TAG, "")
                out.metadata[STARTED_TAG] = to_iso(started)
                out.metadata[COMPLETE_TAG] = "1" if complete else "0"
                streams = {
                    s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")
                }
                written = _copy_packets(inp, out, streams, drop_last=not complete)
        if not written:
            raise BadRecording(f"{source.name} holds no complete video packet")
        os.replace(temp, dest)
    except (av.error.FFmpegError, OSError) as error:
        raise BadRecording(f"{source.name} cannot be read: {error}") from error
    finally:
        temp.unlink(missing_ok=True)
    return read_part(dest)


def _copy_packets(
    inp: av.container.InputContainer,
    out: av.container.OutputContainer,
    streams: dict[int, av.stream.Stream],
    *,
    drop_last: bool,
) -> int:
    """Copy every packet; with ``drop_last`` hold one back so a torn final packet is never written."""
    pending: av.Packet | None = None
    written = 0
    try:
        for packet in inp.demux(*[inp.streams[i] for i in streams]):
            if packet.dts is None or packet.size == 0:
                continue
            if pending is not None:
                written += _mux(out, pending, streams)
            pending = packet
    except av.error.InvalidDataError:
        drop_last = True  # the demuxer hit the torn end: what came before is whole
    if pending is not None and not drop_last:
        written += _mux(out, pending, streams)
    return written


def _mux(out: av.container.OutputContainer, packet: av.Packet, streams: dict[int, av.stream.Stream]) -> int:
    is_video = packet.stream.type == "video"
    packet.stream = streams[packet.stream.index]
    out.mux(packet)
    return int(is_video)


def read_part(path: Path) -> Part:
    """The facts of a replay file, from its metadata and index (no decoding).

    Cached per file version: a 2-hour file's index is megabytes, and a
    playing video asks for its part again with every range request.
    """
    stat = path.stat()
    return _read_part(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _read_part(path: Path, mtime_ns: int, size: int) -> Part:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise BadRecording(f"{path.name} has no video")
            started = started_at_of(container, path)
            duration = (container.duration or 0) / av.time_base
            complete = container.metadata.get(COMPLETE_TAG, "1") == "1"
    except av.error.FFmpegError as error:
        raise BadRecording(f"{path.name} cannot be read: {error}") from error
    return Part(path, started, float(duration), complete)


# -- clips ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cut:
    """Where a clip really starts and ends in its part (seconds), after snapping to frames."""

    start_s: float
    end_s: float
    frames: int


def cut(source: Path, dest: Path, start_s: float, end_s: float, metadata: dict[str, str] | None = None) -> Cut:
    """Stream-copy ``[start_s, end_s)`` of ``source`` into ``dest`` (faststart MP4), no re-encode.

    The clip starts on the first keyframe at or after ``start_s`` (the
    recording has one a second, so at most 1 s late, and never on the
    product before) and ends on the last frame before ``end_s`` (the show is
    encoded without B-frames, so any frame can end a clip). Audio is cut to
    the same span. Raises :class:`BadRecording` if the span holds no keyframe.
    """
    with av.open(str(source)) as inp:
        video = inp.streams.video[0]
        wanted = [video, *inp.streams.audio[:1]]
        time_base = float(video.time_base or VIDEO_TIME_BASE)
        inp.seek(max(0, int(start_s / time_base)), stream=video, backward=True)
        with av.open(str(dest), "w", format="mp4", options={"movflags": REPLAY_MOVFLAGS}) as out:
            for key, value in (metadata or {}).items():
                out.metadata[key] = value
            streams = {s.index: out.add_stream_from_template(s) for s in wanted}
            origin: dict[int, int] = {}
            clip_start = last = stop = None
            frames = 0
            for packet in inp.demux(*wanted):
                if packet.pts is None or packet.size == 0:
                    continue
                t = float(packet.pts * packet.time_base)
                if packet.stream.type == "video":
                    if clip_start is None:
                        if not packet.is_keyframe or t < start_s - 1e-3:
                            continue
                        clip_start = t
                    if t >= end_s - 1e-3:
                        stop = t  # the first frame left out: the clip lasts until it
                        break
                    last, frames = t, frames + 1
                elif clip_start is None or t < clip_start or t >= end_s:
                    continue
                index = packet.stream.index
                origin.setdefault(index, round(clip_start / float(packet.time_base)))
                packet.pts -= origin[index]
                packet.dts = (packet.dts or 0) - origin[index]
                if packet.pts < 0:
                    continue
                packet.stream = streams[index]
                out.mux(packet)
    if clip_start is None or last is None:
        dest.unlink(missing_ok=True)
        raise BadRecording(f"no keyframe in {start_s:.1f}–{end_s:.1f} s of {source.name}")
    frame_s = 1 / float(video.average_rate) if video.average_rate else 1 / 30
    return Cut(clip_start, stop if stop is not None else last + frame_s, frames)


def find_qr_frame(path: Path, code: str, *, skip_s: float = 1.0, tries: int = 40) -> tuple[np.ndarray, str] | None:
    """A frame of ``path`` (BGR) whose QR code is the buy link ``/b/<code>``, and the link read.

    Starts ``skip_s`` in (after the switch has settled, so the card is fully
    drawn) and tries up to ``tries`` frames spread over the file; None if
    none reads that link.
    """
    detector = cv2.QRCodeDetector()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = (container.duration or 0) / av.time_base
        skip_s = min(skip_s, duration / 2)  # a short clip (its keyframe came late): from its middle
        step = max((duration - skip_s) / tries, 1 / 30)
        next_t = skip_s
        for frame in container.decode(stream):
            if frame.pts is None or frame.time < next_t:  # a frame without a timestamp has no place
                continue
            next_t = frame.time + step
            image = frame.to_ndarray(format="bgr24")
            text, _, _ = detector.detectAndDecode(image)
            if text.endswith(f"/b/{code}"):
                return image, text
    return None


# -- a show's replay files --------------------------------------------------------


def replay_of(source: Path, replays_dir: Path) -> Path:
    """The replay file made from ``source``: same name, in ``replays_dir``."""
    return replays_dir / source.name


def needs_replay(source: Path, replays_dir: Path) -> bool:
    """No replay file yet, or one older than the recording it came from."""
    replay = replay_of(source, replays_dir)
    return not replay.exists() or replay.stat().st_mtime < source.stat().st_mtime


def finished_writing(source: Path, *, quiet_s: float = 5.0, now: float | None = None) -> bool:
    """The recorder is done with ``source``: closed properly, or silent for ``quiet_s`` (killed)."""
    age = (now if now is not None else time.time()) - source.stat().st_mtime
    return closed_cleanly(source) or age >= quiet_s


@dataclass(frozen=True)
class Finalised:
    """What became of a show's recordings: playable parts, and files that held nothing."""

    parts: list[Part]
    unreadable: list[tuple[Path, str]]
    waiting: list[Path]  # still being written: try again later


def replay_parts(replays_dir: Path, show_id: int) -> list[Part]:
    """The show's replay files already made, in show order (no remuxing, no waiting)."""
    parts = []
    for path in recordings_of(replays_dir, show_id):
        try:
            parts.append(read_part(path))
        except BadRecording:
            continue
    return sorted(parts, key=lambda part: part.started_at)


def finalise_show(recordings_dir: Path, replays_dir: Path, show_id: int, *, busy: Path | None = None) -> Finalised:
    """Make the missing replay files of a show's ended recordings; list its parts in order.

    ``busy``: the file the recorder is writing right now (never touched).
    A recording that holds no video (the studio died before the first
    fragment) is reported in ``unreadable`` and left alone.
    """
    parts: list[Part] = []
    unreadable: list[tuple[Path, str]] = []
    waiting: list[Path] = []
    for source in recordings_of(recordings_dir, show_id):
        replay = replay_of(source, replays_dir)
        try:
            if needs_replay(source, replays_dir):
                if source == busy or not finished_writing(source):
                    waiting.append(source)
                    continue
                log.info("making the replay of %s", source.name)
                parts.append(remux(source, replay))
            else:
                parts.append(read_part(replay))
        except BadRecording as error:
            unreadable.append((source, str(error)))
    parts.sort(key=lambda part: part.started_at)
    return Finalised(parts, unreadable, waiting)
