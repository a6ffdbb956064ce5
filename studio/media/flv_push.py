"""The RTMP writer process of one push: FLV through PyAV, fed the show's packets on stdin.

Why a process: PyAV holds the GIL while FFmpeg connects and writes to the
network (measured: ~190 ms for the RTMP handshake to a local nginx-rtmp,
and a full socket buffer would block it indefinitely). In the studio's own
process that would freeze the show's clock, every WebRTC viewer and the
recording; in a child process it only ever delays that one destination.

Protocol (parent :class:`~studio.media.push.RtmpPusher` ↔ this process):

- stdin, first line: JSON ``{"target": URL with the key, "aac": HEX|null, "timeout": s}``
  (the key travels on the pipe, never in argv where ``ps`` shows it);
- then frames: :data:`FRAME` header (kind ``V``/``A``, keyframe flag,
  pts in ms, payload length) and the payload; the first frame is a keyframe;
- stdout: one JSON line ``{"live": true}`` once the server accepted the stream,
  or ``{"error": TEXT, "errno": N, "phase": "connect"|"write"}`` before exiting
  (FFmpeg's text may quote the URL: the parent redacts it before anyone sees it).
EOF on stdin ends the stream cleanly.

It is started by path, not as ``studio.media.flv_push``, and imports nothing
but PyAV: a reconnect waits for this process to start (~0.5 s), not for the
studio's WebRTC stack to load.
"""

from __future__ import annotations

import contextlib
import fractions
import io
import json
import struct
import sys
from typing import IO, Any

import av
from av.container import OutputContainer

#: kind (V/A), keyframe (0/1), pts in milliseconds, payload length.
FRAME = struct.Struct("!cBqI")
FLV_TIME_BASE = fractions.Fraction(1, 1000)
AUDIO_SAMPLE_RATE = 48000


class PacketMuxer:
    """The show's packets into one container (FLV here, MPEG-TS for HLS), described by its first keyframe.

    SPS/PPS ride on every keyframe, so probing the first one gives the stream's
    parameters without opening a second encoder.
    """

    def __init__(self, container: OutputContainer, keyframe: bytes, aac_config: bytes | None) -> None:
        self.container = container
        with av.open(io.BytesIO(keyframe), format="h264") as probe:
            self._video = container.add_stream_from_template(probe.streams.video[0])
        self._audio = None
        if aac_config is not None:
            self._audio = container.add_stream("aac", rate=AUDIO_SAMPLE_RATE)
            self._audio.layout = "stereo"
            self._audio.codec_context.extradata = aac_config

    def write(self, kind: bytes, keyframe: bool, pts_ms: int, payload: bytes) -> None:
        stream = self._video if kind == b"V" else self._audio
        if stream is None:
            return
        packet = av.Packet(payload)
        packet.pts = packet.dts = pts_ms
        packet.time_base = FLV_TIME_BASE
        packet.is_keyframe = keyframe
        packet.stream = stream
        self.container.mux(packet)


def read_frames(source: IO[bytes]) -> Any:
    """``(kind, keyframe, pts_ms, payload)`` until EOF."""
    while header := source.read(FRAME.size):
        if len(header) < FRAME.size:
            return
        kind, keyframe, pts_ms, length = FRAME.unpack(header)
        payload = source.read(length)
        if len(payload) < length:
            return
        yield kind, bool(keyframe), pts_ms, payload


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    stdin = sys.stdin.buffer
    config = json.loads(stdin.readline())
    aac = bytes.fromhex(config["aac"]) if config.get("aac") else None
    container = av.open(config["target"], "w", format="flv", timeout=config.get("timeout", 5.0))
    muxer: PacketMuxer | None = None
    phase = "connect"
    try:
        for kind, keyframe, pts_ms, payload in read_frames(stdin):
            if muxer is None:
                muxer = PacketMuxer(container, payload, aac)
            muxer.write(kind, keyframe, pts_ms, payload)
            if phase == "connect":
                phase = "write"
                _say({"live": True})
    except OSError as error:
        _say({"error": str(error), "errno": error.errno or 0, "phase": phase})
        return 1
    finally:
        with contextlib.suppress(Exception):
            container.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
