"""Encode the composed show ONCE: H.264 for video, Opus (and AAC for RTMP/HLS) for audio.

Every viewer and the recorder share the packets produced here, so the settings
are chosen for the weakest player: constrained baseline (every browser and
phone decodes it in hardware), no B-frames, zero encoder delay, a keyframe
every second and SPS/PPS repeated on every keyframe so a viewer can start on
any keyframe without out-of-band parameter sets.
"""

from __future__ import annotations

import fractions
import statistics
import time
from collections import deque
from dataclasses import dataclass

import av
import numpy as np
from av.audio.codeccontext import AudioCodecContext
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.video.codeccontext import VideoCodecContext
from av.video.frame import PictureType

#: RTP clock rate for video: packet pts are in this time base end to end.
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_SAMPLE_RATE = 48000
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_SAMPLE_RATE)
#: 20 ms Opus frames, what WebRTC endpoints expect.
AUDIO_FRAME_SAMPLES = 960
NATIVE_AUDIO = ("s16", "stereo", AUDIO_SAMPLE_RATE)


@dataclass(frozen=True)
class H264Settings:
    """Rate control for one output size; the defaults suit 720p30 on a phone audience."""

    fps: int = 30
    bitrate: int = 2_000_000
    max_bitrate: int = 2_500_000
    preset: str = "veryfast"
    threads: int = 2

    def options(self) -> dict[str, str]:
        # scenecut=0: keyframes come only from the GOP clock or a forced
        # request, so their rate is predictable (a burst of I-frames on every
        # cut would overflow slow viewers' queues).
        # VBV buffer of half a second caps the size of any burst on the wire.
        x264_params = ":".join(
            [
                "scenecut=0",
                "bframes=0",
                "repeat-headers=1",
                f"vbv-maxrate={self.max_bitrate // 1000}",
                f"vbv-bufsize={self.max_bitrate // 2000}",
            ]
        )
        return {
            "preset": self.preset,
            "tune": "zerolatency",
            "profile": "baseline",
            "level": "3.1",
            "g": str(self.fps),
            "keyint_min": str(self.fps),
            "threads": str(self.threads),
            "x264-params": x264_params,
        }


class H264Encoder:
    """libx264 through PyAV, fed I420 planes; reopens itself when the size changes.

    Not thread-safe: the pipeline calls it from its single media thread.
    """

    def __init__(self, settings: H264Settings | None = None) -> None:
        self.settings = settings or H264Settings()
        self._codec: VideoCodecContext | None = None
        self._size: tuple[int, int] | None = None
        self.frames_encoded = 0
        self.keyframes = 0
        self.bytes_out = 0
        self._encode_seconds: deque[float] = deque(maxlen=120)

    def _open(self, width: int, height: int) -> VideoCodecContext:
        codec = av.CodecContext.create("libx264", "w")
        assert isinstance(codec, VideoCodecContext)  # libx264 is a video encoder
        codec.width = width
        codec.height = height
        codec.pix_fmt = "yuv420p"
        codec.time_base = VIDEO_TIME_BASE
        codec.framerate = fractions.Fraction(self.settings.fps, 1)
        codec.bit_rate = self.settings.bitrate
        codec.options = self.settings.options()
        self._size = (width, height)
        return codec

    def encode(self, i420: np.ndarray, pts: int, *, keyframe: bool = False) -> list[av.Packet]:
        """Encode one ``(H*3//2, W)`` I420 picture with ``pts`` in :data:`VIDEO_TIME_BASE`."""
        height, width = i420.shape[0] * 2 // 3, i420.shape[1]
        if self._codec is None or self._size != (width, height):
            # A new size (the phone turned) starts a new stream: its first
            # frame is a keyframe carrying the new SPS.
            self._codec = self._open(width, height)
            keyframe = True
        frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        started = time.perf_counter()
        packets = self._codec.encode(frame)
        self._encode_seconds.append(time.perf_counter() - started)
        self.frames_encoded += 1
        for packet in packets:
            packet.time_base = VIDEO_TIME_BASE
            self.bytes_out += packet.size
            if packet.is_keyframe:
                self.keyframes += 1
        return packets

    @property
    def size(self) -> tuple[int, int] | None:
        return self._size

    def median_encode_ms(self) -> float:
        if not self._encode_seconds:
            return 0.0
        return statistics.median(self._encode_seconds) * 1000


class SampleClock:
    """A 48 kHz stereo audio encoder's common part: its codec and a sample clock that never jumps back."""

    def __init__(self, codec_name: str, bitrate: int, sample_format: str) -> None:
        codec = av.CodecContext.create(codec_name, "w")
        assert isinstance(codec, AudioCodecContext)  # an audio encoder by name
        self._codec = codec
        self._codec.bit_rate = bitrate
        self._codec.format = sample_format
        self._codec.layout = "stereo"
        self._codec.sample_rate = AUDIO_SAMPLE_RATE
        self._codec.time_base = AUDIO_TIME_BASE
        self._samples = 0
        self.packets_encoded = 0

    def advance_to(self, samples: int, tolerance: int = 5 * AUDIO_FRAME_SAMPLES) -> None:
        """Jump the sample clock forward to ``samples`` if it lags by more than ``tolerance``.

        Small lags are jitter and left alone (a jump is an audible gap); a big
        one means audio stopped for a while.
        """
        if samples - self._samples > tolerance:
            self._samples = samples

    def _encode_chunks(self, codec: AudioCodecContext, chunks: list[AudioFrame]) -> list[av.Packet]:
        packets: list[av.Packet] = []
        for chunk in chunks:
            # Our own sample clock: phone timestamps jump on reconnect, ours never do.
            chunk.pts = self._samples
            chunk.time_base = AUDIO_TIME_BASE
            self._samples += chunk.samples
            packets.extend(codec.encode(chunk))
        for packet in packets:
            packet.time_base = AUDIO_TIME_BASE
        self.packets_encoded += len(packets)
        return packets


class OpusEncoder(SampleClock):
    """The phone's microphone, resampled to 48 kHz stereo and encoded once as 20 ms Opus.

    ``pts`` of the packets count samples from the first audio frame, so the
    RTP timestamps aiortc derives from them advance at exactly 48 kHz.
    """

    def __init__(self, bitrate: int = 64_000) -> None:
        super().__init__("libopus", bitrate, "s16")
        self._codec.options = {"application": "voip", "frame_duration": "20"}
        self._resampler: AudioResampler | None = None
        self._input: tuple[str, str, int] | None = None

    def encode(self, frame: AudioFrame) -> list[av.Packet]:
        return self._encode_chunks(self._codec, self._chunks(frame))

    def _chunks(self, frame: AudioFrame) -> list[AudioFrame]:
        """``frame`` as 20 ms frames of 48 kHz stereo s16."""
        signature = (frame.format.name, frame.layout.name, frame.sample_rate)
        if signature == NATIVE_AUDIO and frame.samples == AUDIO_FRAME_SAMPLES:
            # The silence, and what aiortc's Opus decoder gives: nothing to do
            # (what a previous resampler still held, under 20 ms, is dropped).
            self._resampler = None
            return [frame]
        if self._resampler is None or signature != self._input:
            # A resampler is bound to its first input's format: OBS's mono
            # and a 44.1 kHz microphone each need their own.
            self._resampler = AudioResampler(
                format="s16", layout="stereo", rate=AUDIO_SAMPLE_RATE, frame_size=AUDIO_FRAME_SAMPLES
            )
            self._input = signature
        return self._resampler.resample(frame)


class AacEncoder(SampleClock):
    """The show's sound as AAC-LC, what RTMP platforms and HLS players take.

    Made from the same PCM frames as the Opus, once for every destination
    that wants it (FLV and MPEG-TS carry AAC, not Opus). FFmpeg's native
    ``aac`` encoder takes planar float in 1024-sample frames; the resampler
    regroups our 20 ms frames into those.
    """

    def __init__(self, bitrate: int = 128_000) -> None:
        super().__init__("aac", bitrate, "fltp")
        self._codec.open()
        self._resampler = AudioResampler(
            format="fltp", layout="stereo", rate=AUDIO_SAMPLE_RATE, frame_size=self._codec.frame_size
        )

    @property
    def extradata(self) -> bytes | None:
        """The AudioSpecificConfig a muxer needs in its stream header."""
        return self._codec.extradata

    def encode(self, frame: AudioFrame) -> list[av.Packet]:
        return self._encode_chunks(self._codec, self._resampler.resample(frame))


def silence(samples: int = AUDIO_FRAME_SAMPLES) -> AudioFrame:
    """20 ms of stereo silence: what viewers hear while no phone is publishing."""
    frame = AudioFrame.from_ndarray(
        np.zeros((1, samples * 2), dtype=np.int16), format="s16", layout="stereo"
    )
    frame.sample_rate = AUDIO_SAMPLE_RATE
    return frame
