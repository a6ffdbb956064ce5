"""HLS from the studio: the show's own packets cut into ~2 s MPEG-TS segments, no second encode.

An :class:`HlsWriter` is a packet tap (:mod:`studio.media.taps`) for one show:
FFmpeg's ``hls`` muxer (through PyAV) writes ``DATA_DIR/hls/<show id>/``:
``index.m3u8`` and ``seg-00001.ts``… The show's GOP is 1 s and segments are
cut on keyframes, so with ``hls_time=2`` every segment is 2 s long and starts
on a keyframe (``independent_segments``). The playlist keeps the last 10
segments; older ones are deleted. The writer runs on a thread of its own with
its own bounded queue: a slow disk costs HLS viewers frames, never the show.
LL-HLS parts are not written (FFmpeg's hls muxer does not make them).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import av

from studio.media.flv_push import PacketMuxer
from studio.media.taps import Rebase, Tapped, TapQueue

log = logging.getLogger(__name__)

SEGMENT_SECONDS = 2
PLAYLIST = "index.m3u8"
PLAYLIST_SEGMENTS = 10


def hls_dir(data_dir: Path, show_id: int) -> Path:
    return data_dir / "hls" / str(show_id)


class HlsWriter:
    """Writes one show's HLS; a :class:`~studio.media.taps.PacketSink`."""

    wants_audio = True

    def __init__(self, directory: Path, aac_config: Callable[[], bytes | None]) -> None:
        self.directory = directory
        self._aac_config = aac_config
        self.queue = TapQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"farmlive-hls-{directory.name}", daemon=True)
        self.errors = 0

    def offer_video(self, packets: list[av.Packet], size: tuple[int, int]) -> None:
        self.queue.put_video(packets, size)

    def offer_audio(self, packets: list[av.Packet]) -> None:
        self.queue.put_audio(packets)

    def start(self) -> None:
        # A restarted studio resumes a live show: its playlist starts over.
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.queue.close()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        first = self.queue.next_keyframe(self._stop)
        if first is None:
            return
        container = av.open(
            str(self.directory / PLAYLIST),
            "w",
            format="hls",
            options={
                "hls_time": str(SEGMENT_SECONDS),
                "hls_list_size": str(PLAYLIST_SEGMENTS),
                "hls_flags": "delete_segments+independent_segments+temp_file",
                "hls_segment_filename": str(self.directory / "seg-%05d.ts"),
                "start_number": "1",
            },
        )
        times = Rebase(first)
        try:
            muxer = PacketMuxer(container, bytes(first.packet), self._aac_config())
            self._write(muxer, times, first)
            while not self._stop.is_set():
                item = self.queue.get(0.5)
                if item is None:
                    continue
                if item.kind == "video" and item.packet.is_keyframe and item.size != times.size:
                    log.info("HLS: the picture size changed; the playlist goes on with the new size")
                    times.size = item.size
                self._write(muxer, times, item)
        except Exception:
            self.errors += 1
            log.exception("HLS writing to %s failed; the show goes on without HLS", self.directory)
        finally:
            try:
                container.close()
            except Exception:
                log.exception("closing HLS in %s", self.directory)

    @staticmethod
    def _write(muxer: PacketMuxer, times: Rebase, item: Tapped) -> None:
        ms = times.ms(item)
        if ms is not None:
            muxer.write(b"V" if item.kind == "video" else b"A", item.packet.is_keyframe, ms, bytes(item.packet))

