"""A WHIP publisher built on GStreamer ``webrtcbin`` + libnice, for the interop tests.

Run with the *system* Python (``/usr/bin/python3``: Debian's python3-gi and
GStreamer; the venv cannot import ``gi``)::

    /usr/bin/python3 tests/gst_whip_publisher.py URL KEY SECONDS

webrtcbin makes its own RSA-2048 DTLS certificate, the case the studio's
ECDSA-only cipher list used to fail. It POSTs one complete offer (no trickle),
prints ``connected`` when ICE + DTLS are up and ``location <path>``, sends a
test pattern (H.264) for SECONDS, then ends the session with DELETE and exits
0; any failure exits 1 with the reason on stderr.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

PIPELINE = (
    "webrtcbin name=webrtc bundle-policy=max-bundle "
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1 ! videoconvert ! "
    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=800 ! "
    "video/x-h264,profile=constrained-baseline ! rtph264pay config-interval=-1 aggregate-mode=zero-latency ! "
    "application/x-rtp,media=video,encoding-name=H264,payload=96,clock-rate=90000 ! webrtc."
)


class Publisher:
    def __init__(self, url: str, key: str, seconds: float) -> None:
        self.url, self.key, self.seconds = url, key, seconds
        self.loop = GLib.MainLoop()
        self.pipeline = Gst.parse_launch(PIPELINE)
        self.webrtc = self.pipeline.get_by_name("webrtc")
        self.location: str | None = None
        self.error: str | None = None
        self.posted = False
        self.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.webrtc.connect("notify::ice-gathering-state", self.on_gathering)
        self.webrtc.connect("notify::connection-state", self.on_connection_state)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_bus_error)

    def fail(self, reason: str) -> None:
        self.error = reason
        self.loop.quit()

    def on_bus_error(self, _bus: Gst.Bus, message: Gst.Message) -> None:
        error, debug = message.parse_error()
        self.fail(f"GStreamer error: {error.message} ({debug})")

    def on_negotiation_needed(self, element: Gst.Element) -> None:
        promise = Gst.Promise.new_with_change_func(self.on_offer, None)
        element.emit("create-offer", None, promise)

    def on_offer(self, promise: Gst.Promise, _data: object) -> None:
        reply = promise.get_reply()  # keep it referenced: the offer lives inside it
        offer = reply.get_value("offer")
        self.webrtc.emit("set-local-description", offer, Gst.Promise.new())

    def on_gathering(self, element: Gst.Element, _spec: object) -> None:
        if element.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            GLib.idle_add(self.post_offer)

    def post_offer(self) -> bool:
        if self.posted:
            return False
        self.posted = True
        offer = self.webrtc.get_property("local-description").sdp.as_text()
        request = urllib.request.Request(
            self.url,
            data=offer.encode(),
            method="POST",
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {self.key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                answer_text = response.read().decode()
                self.location = response.headers["Location"]
        except urllib.error.HTTPError as error:
            self.fail(f"POST {self.url}: {error.code} {error.read().decode(errors='replace')}")
            return False
        print(f"location {self.location}", flush=True)
        _, message = GstSdp.SDPMessage.new_from_text(answer_text)
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        self.webrtc.emit("set-remote-description", answer, Gst.Promise.new())
        return False

    def on_connection_state(self, element: Gst.Element, _spec: object) -> None:
        state = element.get_property("connection-state")
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            print("connected", flush=True)
            GLib.timeout_add(int(self.seconds * 1000), self.hang_up)
        elif state == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            self.fail("the peer connection failed (ICE or DTLS)")

    def hang_up(self) -> bool:
        assert self.location is not None
        request = urllib.request.Request(
            urllib.parse.urljoin(self.url, self.location),
            method="DELETE",
            headers={"Authorization": f"Bearer {self.key}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            print(f"deleted {response.status}", flush=True)
        self.loop.quit()
        return False

    def run(self) -> int:
        self.pipeline.set_state(Gst.State.PLAYING)
        GLib.timeout_add_seconds(int(self.seconds) + 30, lambda: self.fail("timed out") or False)
        try:
            self.loop.run()
        finally:
            self.pipeline.set_state(Gst.State.NULL)
        if self.error:
            print(self.error, file=sys.stderr, flush=True)
            return 1
        return 0


def main() -> int:
    Gst.init(None)
    url, key, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    return Publisher(url, key, seconds).run()


if __name__ == "__main__":
    sys.exit(main())
