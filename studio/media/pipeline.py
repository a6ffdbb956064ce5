"""The show pipeline: phone frames -> overlay -> encode ONCE -> every viewer and the recorder.

One output clock ticks at ``fps`` whether or not a phone is publishing; each
tick takes the newest camera frame (or the hold slate when the phone is
away; the "starting soon" slate before the host starts the show and the end
slate after it ends, never the raw camera), scales it into I420, blends the product card and QR in place, and
encodes it on a single media thread. The resulting ``av.Packet`` objects are
offered, unchanged, to every viewer's bounded queue and muxed into the
recording. Viewers therefore cost packetization only, and never go dark.
The same packets also go to every packet tap (:meth:`ShowPipeline.add_sink`:
RTMP pushes, HLS), with AAC sound encoded once for all of them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack
from av.video.frame import VideoFrame

from analytics import events
from overlays import Compositor, OverlaySpec, SlateKind, render_slate
from overlays.slate import STARTING_NOTE, ended_note
from studio.alerts import UplinkSample, assess, hold_slate
from studio.figures import LiveFigures
from studio.media.audio import ShowAudio
from studio.media.encoder import VIDEO_TIME_BASE, AacEncoder, H264Encoder, H264Settings
from studio.media.fanout import Fanout, ViewerFeed
from studio.media.frames import bgr_to_i420, fit_into_i420, output_size
from studio.media.ingest import LatestFrame
from studio.media.own_picture import OwnPicture
from studio.media.recorder import Recorder
from studio.media.taps import PacketSink
from studio.state import OnAir, ShowPhase, Studio

log = logging.getLogger(__name__)

#: No camera frame for this long means the phone is gone: show the hold slate.
STALE_AFTER = 1.5
#: At most one forced keyframe per this many seconds, however many viewers join or ask.
KEYFRAME_INTERVAL = 0.5
#: How often the live figures are refreshed, and how often a stats event is stored.
HEALTH_EVERY = 1.0
STATS_EVENT_EVERY = 10.0
#: Once-a-second uplink samples kept for the alerts (more than any alert's window).
UPLINK_HISTORY = 30


SlateKey = tuple[SlateKind, str | None, str, int, int]  # kind, note, layout, width, height
#: Slates kept rendered: the three kinds at a size or two (a phone turned), a replay note added.
SLATES_KEPT = 8


class SlateCache:
    """The slates' backgrounds in I420, each rendered once per kind, note, layout and size.

    On the hold slate the product card, QR and promo are blended on top by the
    same compositor as live frames, so a countdown keeps ticking and a product
    switch shows on the slate as fast as on camera. A render takes tens of ms,
    so slates are rendered on a thread of its own, and a frame whose slate is
    not ready yet shows the slate shown last at that size (for a frame or
    three) instead of waiting: Start and End show never stall the media
    thread; only the first slate at a new size is waited for.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[SlateKey, np.ndarray] = {}
        self._pending: dict[SlateKey, concurrent.futures.Future[np.ndarray]] = {}
        self._shown: dict[tuple[str, int, int], np.ndarray] = {}  # the last slate shown, by layout and size
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="farmlive-slate")

    def prepare(self, keys: list[SlateKey]) -> None:
        """Start rendering these slates off the media thread (nothing to do for those made or under way)."""
        with self._lock:
            for key in keys:
                if key not in self._ready and key not in self._pending:
                    self._pending[key] = self._executor.submit(self._render, key)

    def frame(
        self, layout: str, width: int, height: int, kind: SlateKind = "hold", note: str | None = None
    ) -> np.ndarray:
        key: SlateKey = (kind, note, layout, width, height)
        self.prepare([key])
        with self._lock:
            i420, pending = self._ready.get(key), self._pending.get(key)
            shown = self._shown.get((layout, width, height))
        if i420 is None:
            if shown is not None:
                return shown.copy()  # until the new slate is ready
            assert pending is not None
            i420 = pending.result()  # the first slate at this size: nothing else to show
        with self._lock:
            self._shown[(layout, width, height)] = i420
        return i420.copy()

    def _render(self, key: SlateKey) -> np.ndarray:
        kind, note, layout, width, height = key
        background = OverlaySpec(product=None, link_url=None, layout=layout)
        i420 = bgr_to_i420(render_slate(background, width, height, kind=kind, note=note))
        with self._lock:
            if len(self._ready) >= SLATES_KEPT:
                self._ready.clear()
                self._shown.clear()
            self._ready[key] = i420
            self._pending.pop(key, None)
        return i420

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def slate_for(phase: ShowPhase) -> tuple[SlateKind, str | None]:
    """Which slate the phase shows when there is no camera to show (hold) or none may be shown."""
    if phase.kind == "pending":
        return "starting", STARTING_NOTE
    if phase.kind == "ended":
        return "ended", ended_note(phase.replay_url)
    return "hold", None


class ShowPipeline:
    """Ingest, compose, encode once, fan out, record. See the module docstring."""

    def __init__(
        self,
        studio: Studio,
        *,
        width: int = 1280,
        height: int = 720,
        fps: int = 30,
        settings: H264Settings | None = None,
        record: bool = True,
    ) -> None:
        self.studio = studio
        self.width, self.height, self.fps = width, height, fps
        self.size = output_size(width, height, width, height)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="farmlive-media"
        )
        self._encoder = H264Encoder(settings or H264Settings(fps=fps))
        self._compositor = Compositor()
        self._slate = SlateCache()
        self._layout = "auto"
        # The camera goes out only while the show is live; otherwise this slate (set on each change).
        self._camera_on_air = studio.phase.live
        self._slate_kind: tuple[SlateKind, str | None] = slate_for(studio.phase)
        self._fanout = Fanout()
        self._audio = ShowAudio(self._send_audio)
        self._sinks: list[PacketSink] = []
        # Own-QR destinations' pictures: the media thread hands them each frame before the overlay.
        self._pictures: tuple[OwnPicture, ...] = ()
        self._recorder = Recorder(studio.config.recordings_dir, wall_clock=self._wall_time_of) if record else None
        # Audio waiting for the media thread to mux it: 2 s at most (a stalled
        # disk loses recorded sound, never memory).
        self._audio_to_record: deque[av.Packet] = deque(maxlen=100)
        self._ingest: LatestFrame | None = None
        self._clock_task: asyncio.Task[None] | None = None
        self._running = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._started_at = 0.0
        self._wall_at_start = time.time()
        self._keyframe_wanted_at: float | None = None
        self._last_forced = -1e9
        self._publishers = 0
        self._last_health = 0.0
        self._bytes_at_health = 0
        self._output_kbps = 0.0
        self._last_stats_event = 0.0
        self._out_times: deque[float] = deque(maxlen=4 * fps)
        # Counters reported by stats().
        self.frames_out = 0
        self.slate_frames = 0
        self.dropped_frames = 0
        self.idle_ticks = 0
        self.repeated_frames = 0
        self._last_shown: VideoFrame | None = None
        self.keyframes_forced = 0
        self.reconnects = 0
        self.drops = 0
        self.peak_viewers = 0
        self._counted_show: int | None = None  # the show the counters above belong to
        self._publisher_agent = ""
        self._uplink_kbps: float | None = None  # None until WHIP has measured the new publisher
        self._uplink: deque[UplinkSample] = deque(maxlen=UPLINK_HISTORY)  # since the phone (re)connected
        self._dropped_at: float | None = None
        self._holding = False
        self._hls_viewers = 0
        # The one writer of the show's live figures; the studio reads them from here.
        self.figures = LiveFigures()
        studio.read_figures_from(lambda: self.figures)

    # -- lifecycle ------------------------------------------------------
    async def start(self) -> None:
        if self._clock_task is not None:
            return
        self._started_at = self._last_health = time.monotonic()
        self._wall_at_start = time.time()
        self._count_for_show()
        self._unsubscribe = self.studio.add_listener(self._on_air_changed)
        self._on_air_changed(self.studio.on_air)
        self._audio.start()
        self._running = True
        self._clock_task = asyncio.ensure_future(self._run_clock())
        self._update_figures()

    def _wall_time_of(self, pts: int) -> float:
        """The wall-clock moment (epoch s) a video pts stands for: replays map the on-air log with it."""
        return self._wall_at_start + pts / VIDEO_TIME_BASE.denominator

    async def stop(self) -> None:
        if self._clock_task is None:
            return
        self._running = False
        self._clock_task.cancel()
        await asyncio.gather(self._clock_task, return_exceptions=True)
        self._clock_task = None
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._audio.stop()
        if self._ingest is not None:
            self._ingest.stop()
            self._ingest = None
        self._fanout.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._recorder is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._recorder.end)
        self._executor.shutdown(wait=True)
        self._slate.close()
        self._update_figures()

    # -- publisher ------------------------------------------------------
    def attach_publisher(
        self, video: MediaStreamTrack, audio: MediaStreamTrack | None = None, *, user_agent: str = ""
    ) -> None:
        """The phone's tracks go on air; a previous publisher (the same phone reconnecting) is replaced."""
        self._count_for_show()
        if self._ingest is not None:
            self._ingest.stop()
        if self._publishers:
            self.reconnects += 1
        self._publishers += 1
        self._publisher_agent, self._uplink_kbps = user_agent, None
        self._uplink.clear()
        self._set_holding(False, "a new publisher")  # a phone that comes back starts on camera
        self._ingest = LatestFrame(video, self.detach_publisher)
        self._ingest.start()
        if audio is not None:
            self._audio.attach(audio)
        else:
            self._audio.detach()
        self.request_keyframe()
        self._record_stream_event("connect", detail=f"publisher #{self._publishers}")
        self._update_figures()

    def detach_publisher(self, video: MediaStreamTrack) -> None:
        """That publisher is gone: hold slate until one attaches again."""
        if self._ingest is None or self._ingest.track is not video:
            return  # already replaced by a newer publisher
        self._count_for_show()
        self._ingest.stop()
        self._ingest = None
        self._audio.detach()
        self._uplink_kbps = None
        self._uplink.clear()
        self._dropped_at = time.monotonic()
        self.drops += 1
        self._set_holding(False, "the phone is gone")
        self._record_stream_event("disconnect")
        self._update_figures()

    def report_uplink(self, video: MediaStreamTrack | None, kbps: float) -> None:
        """WHIP measured what the publisher of ``video`` sends (ignored once it is replaced)."""
        if self._ingest is None or self._ingest.track is not video:
            return
        self._uplink_kbps = kbps
        self.figures = replace(self.figures, uplink_kbps=kbps)

    def report_hls_viewers(self, count: int) -> None:
        """The HLS players heard from lately (counted by their heartbeats) join the viewers now."""
        if count != self._hls_viewers:
            self._hls_viewers = count
            self._update_figures()

    # -- alerts and the automatic hold slate ------------------------------
    def _count_for_show(self) -> None:
        """The counters belong to one show: a new show starts them from zero."""
        show = self.studio.show
        if show is None or show.id == self._counted_show:
            return
        self._counted_show = show.id
        self.reconnects = self.drops = 0
        self.peak_viewers = 0
        self._publishers = 1 if self._ingest is not None else 0
        self._dropped_at = None  # a drop before the show is not this show's

    def _sample_uplink(self, now: float) -> None:
        """One sample a second; hold the slate while it is unusable (when the host allows it)."""
        ingest = self._ingest
        if ingest is None:
            return
        self._uplink.append(UplinkSample(now, True, self._uplink_kbps, ingest.fps(now)))
        holding = self.studio.auto_hold and hold_slate(self._uplink, now, True, self._holding)
        self._set_holding(holding, "uplink unusable" if holding else "uplink recovered")

    def _set_holding(self, holding: bool, why: str) -> None:
        if holding == self._holding:
            return
        self._holding = holding
        log.info("automatic hold slate %s: %s", "on" if holding else "off", why)
        last = self._uplink[-1] if self._uplink else None
        self._record_stream_event(
            "hold" if holding else "resume",
            fps=last.fps if last else None,
            bitrate_kbps=last.kbps if last else None,
            detail=why,
        )

    @property
    def publishing(self) -> bool:
        return self._ingest is not None

    # -- viewers --------------------------------------------------------
    def add_viewer(self, *, audience: bool = True, connected: bool = True) -> ViewerFeed:
        """A new viewer's tracks; it starts on a keyframe forced for it (rate-limited).

        ``audience=False`` for a studio monitor: it is served like any viewer
        but left out of the viewers counted in :attr:`figures`.
        ``connected=False`` for a WHEP offer whose peer has not connected yet:
        it counts in ``pending_viewers`` until :meth:`viewer_connected`.
        """
        feed = ViewerFeed(self.request_keyframe, audience=audience)
        feed.connected = connected
        self._fanout.add(feed)
        self.request_keyframe()
        self._update_figures()
        return feed

    def viewer_connected(self, feed: ViewerFeed) -> None:
        """The viewer's ICE + DTLS are up: from now on it is watching (``viewers_now``)."""
        feed.connected = True
        self.request_keyframe()
        self._update_figures()

    def remove_viewer(self, feed: ViewerFeed) -> None:
        self._fanout.remove(feed)
        self._update_figures()

    # -- packet taps (RTMP, HLS) ----------------------------------------
    def add_sink(self, sink: PacketSink) -> None:
        """Hand ``sink`` every encoded packet from now on; it starts on a keyframe forced for it."""
        self._sinks.append(sink)
        self._update_aac()
        self.request_keyframe()

    def remove_sink(self, sink: PacketSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)
        self._update_aac()

    def add_picture(self, picture: OwnPicture) -> None:
        """An own-QR destination's picture gets every frame (before the show's overlay) and the shared AAC."""
        self._pictures = (*self._pictures, picture)
        self.add_sink(picture)

    def remove_picture(self, picture: OwnPicture) -> None:
        self._pictures = tuple(p for p in self._pictures if p is not picture)
        self.remove_sink(picture)

    @property
    def settings(self) -> H264Settings:
        """The show's x264 settings (an own-QR picture encodes with the same, on one thread)."""
        return self._encoder.settings

    @property
    def aac(self) -> AacEncoder | None:
        """The AAC encoder shared by the sinks, while one of them wants sound."""
        return self._audio.aac

    def _update_aac(self) -> None:
        """AAC is encoded only while at least one sink wants sound (it costs a little CPU)."""
        self._audio.want_aac(self._send_aac if any(sink.wants_audio for sink in self._sinks) else None)

    def _send_aac(self, packets: list[av.Packet]) -> None:
        for sink in self._sinks:
            if sink.wants_audio:
                sink.offer_audio(packets)

    def request_keyframe(self) -> None:
        """Ask for a keyframe; several requests within :data:`KEYFRAME_INTERVAL` give one."""
        if self._keyframe_wanted_at is None:
            self._keyframe_wanted_at = time.monotonic()

    def _take_keyframe(self, now: float) -> bool:
        if self._keyframe_wanted_at is None or now - self._last_forced < KEYFRAME_INTERVAL:
            return False
        self._keyframe_wanted_at = None
        self._last_forced = now
        self.keyframes_forced += 1
        return True

    # -- overlay --------------------------------------------------------
    def _on_air_changed(self, on_air: OnAir) -> None:
        """Show the change from the next frame on (set_spec is cheap and thread-safe).

        Before Start and after End no card, QR or banner goes on the picture: the slate stands alone.
        """
        phase = self.studio.phase
        self._layout = on_air.layout
        self._camera_on_air = phase.live
        self._slate_kind = slate_for(phase)
        spec = on_air.overlay_spec(image_root=self.studio.config.data_dir) if phase.live else None
        self._compositor.set_spec(spec)

    # -- the output clock -----------------------------------------------
    async def _run_clock(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.fps
        last = time.monotonic() - interval
        while self._running:  # (and cancelled by stop(): either ends it)
            await self._next_moment(last, interval)
            now = time.monotonic()
            camera = self._ingest.fresh(STALE_AFTER, now) if self._ingest is not None else None
            if camera is not None:  # the slates follow the phone's orientation too
                self.size = output_size(camera.width, camera.height, self.width, self.height)
            frame = camera if self._camera_on_air and not self._holding else None
            size = self.size
            pts = round((now - self._started_at) * VIDEO_TIME_BASE.denominator)
            show_id = self.studio.show.id if self.studio.show is not None else None
            if not (self._fanout or self._sinks) and show_id is None and not (self._recorder and self._recorder.armed):
                # Nobody watches, nothing is recorded: encode nothing (an idle
                # studio would otherwise burn ~20% of a core on the slate).
                # Whoever comes next starts on a keyframe.
                self.idle_ticks += 1
                self.request_keyframe()
                packets = []
            else:
                packets = await self._produce_off_loop(loop, frame, pts, show_id, now)
            wanted_at = self._keyframe_wanted_at
            if wanted_at is not None and wanted_at <= now and any(p.is_keyframe for p in packets):
                self._keyframe_wanted_at = None  # the GOP keyframe served it
            if packets:
                self._fanout.send_video(packets)
                for sink in self._sinks:
                    sink.offer_video(packets, size)
                self.frames_out += 1
                self.slate_frames += frame is None
                # The clock filled in with a camera frame already shown: the phone hesitated.
                self.repeated_frames += frame is not None and frame is self._last_shown
                self._last_shown = frame
                self._out_times.append(now)
            if now - self._last_health >= HEALTH_EVERY:
                self._every_second(now)
            last = now

    async def _next_moment(self, last: float, interval: float) -> None:
        """Wait until the next frame of the show should be made.

        While a phone sends, its frames set the pace: each new camera frame
        goes out as soon as it arrives, never faster than ``fps``, and if the
        phone hesitates the clock fills in after 1.5 intervals. A fixed clock
        beating against the camera's own ~30 fps would now and then show one
        frame twice and skip the next, and would hold every frame for half an
        interval on average. Without a phone the clock alone ticks at ``fps``.
        """
        ingest = self._ingest
        if ingest is None or ingest.fresh(STALE_AFTER) is None:
            deadline = last + interval
            late = time.monotonic() - deadline
            if late < 0:
                await asyncio.sleep(-late)
            elif late >= interval:
                # Encoding or the loop fell behind: skip the missed ticks rather than burst.
                self.dropped_frames += int(late / interval)
            return
        earliest, deadline = last + 0.8 * interval, last + 1.5 * interval
        while (now := time.monotonic()) < deadline:
            if ingest.received_at > last:  # a camera frame not shown yet
                if now < earliest:
                    await asyncio.sleep(earliest - now)
                return
            await ingest.next_frame(deadline - now)

    async def _produce_off_loop(
        self, loop: asyncio.AbstractEventLoop, frame: VideoFrame | None, pts: int, show_id: int | None, now: float
    ) -> list[av.Packet]:
        try:
            return await loop.run_in_executor(
                self._executor, self._produce, frame, self.size, pts, self._take_keyframe(now), show_id
            )
        except Exception:
            log.exception("producing a frame failed")
            return []

    def _produce(
        self, frame: VideoFrame | None, size: tuple[int, int], pts: int, keyframe: bool, show_id: int | None
    ) -> list[av.Packet]:
        """Runs on the media thread: compose, encode, record one output frame."""
        width, height = size
        if frame is not None:
            buf = fit_into_i420(frame, width, height)
        else:
            kind, note = self._slate_kind
            buf = self._slate.frame(self._layout, width, height, kind, note)
        pictures = self._pictures
        if pictures:
            # One copy before the overlay, shared read-only: each picture composes its own QR on its thread.
            raw = buf.copy()
            for picture in pictures:
                picture.offer_frame(raw, size, pts)
        self._compositor.compose_i420(buf)
        if self._recorder is not None:
            if show_id is None:
                if self._recorder.armed:
                    self._recorder.end()
            else:
                self._recorder.begin(show_id)
                keyframe = keyframe or self._recorder.waiting_for_keyframe
        packets = self._encoder.encode(buf, pts, keyframe=keyframe)
        if self._recorder is not None:
            self._recorder.write_video(packets, size)
            audio = [self._audio_to_record.popleft() for _ in range(len(self._audio_to_record))]
            self._recorder.write_audio(audio)
        return packets

    def _send_audio(self, packets: list[av.Packet]) -> None:
        self._fanout.send_audio(packets)
        if self._recorder is not None and self._recorder.current is not None:
            # The media thread owns the muxer and writes these with the next video frame.
            self._audio_to_record.extend(packets)

    # -- figures --------------------------------------------------------
    def measure(self) -> LiveFigures:
        """The figures as of now (cheap: counters and a 2 s window of frame times)."""
        now = time.monotonic()
        recent = [t for t in self._out_times if now - t <= 2.0]
        output_fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 2 else 0.0
        feeds = self._fanout.feeds
        ingest = self._ingest
        webrtc = sum(1 for feed in feeds if feed.audience and feed.connected)
        viewers_now = webrtc + self._hls_viewers
        self.peak_viewers = max(self.peak_viewers, viewers_now)
        dropped_at = self._dropped_at if self.studio.show is not None else None
        return LiveFigures(
            viewers_now=viewers_now,
            webrtc_viewers_now=webrtc,
            hls_viewers_now=self._hls_viewers,
            pending_viewers=sum(1 for feed in feeds if feed.audience and not feed.connected),
            publishing=ingest is not None,
            publisher=self._publisher_agent if ingest is not None else "",
            uplink_kbps=self._uplink_kbps or 0.0,
            ingest_fps=round(ingest.fps(now), 1) if ingest is not None else 0.0,
            ingest_size=(
                f"{ingest.frame.width}x{ingest.frame.height}"
                if ingest is not None and ingest.frame is not None
                else None
            ),
            output_fps=round(output_fps, 1),
            output_size=f"{self.size[0]}x{self.size[1]}",
            encode_ms=round(self._encoder.median_encode_ms(), 2),
            output_kbps=self._output_kbps,
            frames_out=self.frames_out,
            frames_encoded=self._encoder.frames_encoded,
            slate_frames=self.slate_frames,
            repeated_frames=self.repeated_frames,
            dropped_frames=self.dropped_frames,
            video_packets=self._fanout.video_packets,
            audio_packets=self._fanout.audio_packets,
            viewers=len(feeds),
            keyframes=self._encoder.keyframes,
            keyframes_forced=self.keyframes_forced,
            idle=not self._out_times or now - self._out_times[-1] > 0.5,
            viewer_drops=sum(feed.video.dropped for feed in feeds),
            viewer_resyncs=sum(feed.video.resyncs for feed in feeds),
            reconnects=self.reconnects,
            drops=self.drops,
            peak_viewers=self.peak_viewers,
            alert=assess(self._uplink, now, ingest is not None, dropped_at),
            holding=self._holding,
            auto_hold=self.studio.auto_hold,
            recording=(
                str(self._recorder.current.path)
                if self._recorder is not None and self._recorder.current is not None
                else None
            ),
        )

    def stats(self) -> dict[str, Any]:
        """:meth:`measure` as plain JSON-ready data."""
        return self.measure().to_json()

    def _every_second(self, now: float) -> None:
        """Refresh the windowed figures; a stats event every 10 s."""
        elapsed = now - self._last_health
        self._output_kbps = round((self._encoder.bytes_out - self._bytes_at_health) * 8 / 1000 / elapsed, 1)
        self._bytes_at_health = self._encoder.bytes_out
        self._last_health = now
        self._count_for_show()
        self._sample_uplink(now)
        figures = self._update_figures()
        if figures.publishing and now - self._last_stats_event >= STATS_EVENT_EVERY:
            self._last_stats_event = now
            self._record_stream_event("stats", fps=figures.ingest_fps, bitrate_kbps=figures.uplink_kbps)

    def _update_figures(self) -> LiveFigures:
        self.figures = self.measure()
        return self.figures

    def _record_stream_event(self, kind: str, **fields: Any) -> None:
        show_id = self.studio.show.id if self.studio.show is not None else None
        self._spawn(self.studio.db(events.record_stream_event, show_id, kind, **fields))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("pipeline task failed", exc_info=task.exception())
