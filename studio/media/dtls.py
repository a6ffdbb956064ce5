"""DTLS that negotiates with ECDSA *and* RSA peers.

aiortc's certificates are ECDSA, and its SSL context offers only
``ECDHE-ECDSA-*`` cipher suites. In TLS 1.2 the suite names the *server's*
certificate type, so whenever the studio is the DTLS client (it answers
``a=setup:active`` to an ``actpass`` offer, as RFC 8842 recommends) a peer
with an RSA certificate (GStreamer ``webrtcbin``, libdatachannel, many
hardware encoders) finds no shared cipher and the handshake fails after ICE
has already connected.

Two fixes were possible:

* answer ``a=setup:passive`` so the studio is always the DTLS server and the
  peer's suite list (OpenSSL-based clients offer both kinds) meets our ECDSA
  certificate. That costs a round trip on every connect (the answerer cannot
  start the handshake), and still fails for an offer that says
  ``a=setup:passive`` itself, where we must be the client;
* offer the ``ECDHE-RSA-*`` suites as well. As server, OpenSSL only picks
  suites that fit our own (ECDSA) certificate, so nothing changes there; as
  client, an RSA server now finds a suite it can use. The suites added are the
  same AEAD/SHA ones aiortc already uses, with RSA authentication.

We do the second: one added cipher string, applied to the context aiortc
builds, for every setup role. It wraps aiortc's private
``RTCCertificate._create_ssl_context`` (stable since aiortc 1.0); the test
suite's GStreamer publisher (RSA) and aiortc clients (ECDSA) catch a change.
"""

from __future__ import annotations

from typing import Any

from aiortc.rtcdtlstransport import RTCCertificate
from OpenSSL import SSL

#: aiortc's own ECDSA suites first, then the same ciphers authenticated with RSA.
CIPHER_LIST = b":".join(
    [
        b"ECDHE-ECDSA-AES128-GCM-SHA256",
        b"ECDHE-ECDSA-CHACHA20-POLY1305",
        b"ECDHE-ECDSA-AES128-SHA",
        b"ECDHE-ECDSA-AES256-SHA",
        b"ECDHE-RSA-AES128-GCM-SHA256",
        b"ECDHE-RSA-CHACHA20-POLY1305",
        b"ECDHE-RSA-AES128-SHA",
        b"ECDHE-RSA-AES256-SHA",
    ]
)

_original_context = RTCCertificate._create_ssl_context


def _context_with_rsa_suites(self: RTCCertificate, srtp_profiles: list[Any]) -> SSL.Context:
    context = _original_context(self, srtp_profiles)
    context.set_cipher_list(CIPHER_LIST)
    return context


def accept_rsa_peers() -> None:
    """Make every aiortc DTLS context in this process offer ECDHE-RSA suites too (idempotent)."""
    RTCCertificate._create_ssl_context = _context_with_rsa_suites  # type: ignore[method-assign]
