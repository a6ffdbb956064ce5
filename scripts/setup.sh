#!/usr/bin/env bash
# Set up farmlive on a fresh Debian/Ubuntu machine: system packages, a venv, the package.
# Idempotent: quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Chromium (browser tests, control-room screenshots) and a CJK font (zh-CN overlays).
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fc-list 2>/dev/null | grep -qi "WenQuanYi Micro Hei" || need_apt+=(fonts-wqy-microhei fontconfig)
# GStreamer webrtcbin + libnice + x264 and python3-gi: the interop tests' WHIP publisher (RSA DTLS).
if ! { gst-inspect-1.0 webrtcbin && gst-inspect-1.0 nicesrc && gst-inspect-1.0 x264enc \
       && /usr/bin/python3 -c 'import gi; gi.require_version("GstWebRTC", "1.0")'; } >/dev/null 2>&1; then
  need_apt+=(gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
             gstreamer1.0-plugins-ugly gstreamer1.0-nice gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0
             python3-gi)
fi
# ip netns: the interop tests give the studio an interface address inside a namespace they create.
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
# NGINX with the RTMP module: the scale-out recipes of docs/scale-out.md, and the tests that push to them.
[ -x /usr/sbin/nginx ] || need_apt+=(nginx)
[ -e /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need_apt+=(libnginx-mod-rtmp)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # Packages only: the tests and docs start NGINX themselves with their own configs,
  # so the package's system service (port 80 on every interface) is not started.
  no_start=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    no_start=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$no_start" >/dev/null && $SUDO chmod +x "$no_start"
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -o DPkg::Lock::Timeout=600 -y -qq "${need_apt[@]}" >/dev/null
  [ -z "$no_start" ] || $SUDO rm -f "$no_start"
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
echo "farmlive is set up: .venv/bin/farmlive up"
