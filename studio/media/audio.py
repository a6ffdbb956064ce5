"""The show's sound: the phone's microphone encoded once to Opus, silence while it is away.

aiortc packs a pre-encoded Opus ``av.Packet`` as it is (``OpusEncoder.pack``),
so like video the audio is encoded once and the same packets go to every
viewer and the recorder. Silence keeps the audio track ticking when no phone
is publishing, so players never stall waiting for sound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamTrack
from av.audio.frame import AudioFrame

from studio.media.encoder import AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE, AacEncoder, OpusEncoder, silence
from studio.media.ingest import read_track

log = logging.getLogger(__name__)

FRAME_SECONDS = AUDIO_FRAME_SAMPLES / AUDIO_SAMPLE_RATE
#: After this long without microphone audio, fill with silence.
MIC_TIMEOUT = 0.2

PacketSink = Callable[[list[av.Packet]], None]


class ShowAudio:
    """Runs the silence clock; relays a publisher's microphone while one is attached."""

    def __init__(self, sink: PacketSink) -> None:
        self._sink = sink
        self._encoder = OpusEncoder()
        self._aac: AacEncoder | None = None
        self._aac_sink: PacketSink | None = None
        self._silence = silence()
        self._mic: MediaStreamTrack | None = None
        self._mic_task: asyncio.Task[None] | None = None
        self._clock_task: asyncio.Task[None] | None = None
        self._last_mic = 0.0
        self._started = 0.0

    @property
    def live_mic(self) -> bool:
        return self._mic is not None and time.monotonic() - self._last_mic <= MIC_TIMEOUT

    @property
    def packets(self) -> int:
        return self._encoder.packets_encoded

    @property
    def aac(self) -> AacEncoder | None:
        """The shared AAC encoder while one is wanted (its ``extradata`` describes the stream)."""
        return self._aac

    def want_aac(self, sink: PacketSink | None) -> None:
        """Encode AAC for ``sink`` too; None stops the AAC encode (nobody needs it)."""
        self._aac_sink = sink
        if sink is None:
            self._aac = None
        elif self._aac is None:
            self._aac = AacEncoder()

    def start(self) -> None:
        self._started = time.monotonic()
        self._clock_task = asyncio.ensure_future(self._run_silence())

    def stop(self) -> None:
        self.detach()
        if self._clock_task is not None:
            self._clock_task.cancel()
            self._clock_task = None

    def attach(self, track: MediaStreamTrack) -> None:
        self.detach()
        self._mic = track
        self._mic_task = asyncio.ensure_future(self._run_mic(track))

    def detach(self, track: MediaStreamTrack | None = None) -> None:
        """Stop relaying ``track`` (any track if None); ignored if another one replaced it."""
        if track is not None and track is not self._mic:
            return
        if self._mic_task is not None:
            self._mic_task.cancel()
        self._mic = None
        self._mic_task = None

    def _encode(self, frame: AudioFrame) -> None:
        # Our timeline follows the wall clock: after a gap (phone dropped,
        # microphone stalled) it jumps forward instead of lagging behind, so
        # players do not accumulate delay.
        elapsed = round((time.monotonic() - self._started) * AUDIO_SAMPLE_RATE)
        self._encoder.advance_to(elapsed - AUDIO_FRAME_SAMPLES)
        packets = self._encoder.encode(frame)
        if packets:
            self._sink(packets)
        aac, aac_sink = self._aac, self._aac_sink
        if aac is not None and aac_sink is not None:
            aac.advance_to(elapsed - AUDIO_FRAME_SAMPLES)
            if aac_packets := aac.encode(frame):
                aac_sink(aac_packets)

    async def _run_mic(self, track: MediaStreamTrack) -> None:
        if await read_track(track, self._on_mic_frame, "audio"):
            self.detach(track)

    def _on_mic_frame(self, frame: object) -> None:
        if isinstance(frame, AudioFrame):
            self._last_mic = time.monotonic()
            self._encode(frame)

    async def _run_silence(self) -> None:
        next_tick = time.monotonic()
        while True:
            next_tick += FRAME_SECONDS
            delay = next_tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.2:
                next_tick = time.monotonic()  # the loop was stalled: do not burst to catch up
            if not self.live_mic:
                self._encode(self._silence)
