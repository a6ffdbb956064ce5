"""``farmlive up --lan``: a self-signed certificate in the data folder, served over HTTPS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import stat
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509

from studio import tls
from tests.conftest import LOOPBACK, free_port, start_studio_process, stop_studio_process
from tests.test_phone import printed_pair_link


def pairing_exchange(base: str, link: str, context: ssl.SSLContext) -> int:
    """The phone page's ``POST /api/pairing/exchange`` for the code in ``link``; the HTTP status."""
    body = json.dumps({"code": link.rpartition("=")[2]}).encode()
    request = urllib.request.Request(
        f"{base}/api/pairing/exchange", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_certificate_names_localhost_loopback_and_the_lan_address(data_dir: Path) -> None:
    cert_path, key_path = tls.ensure_certificate(data_dir)
    assert cert_path.parent == data_dir / "tls"
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    now = dt.datetime.now(dt.UTC)
    assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc
    assert {"localhost", "127.0.0.1", tls.lan_address()} <= tls.certificate_names(cert_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    # Python's own TLS stack accepts the pair.
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_path, key_path)


def test_certificate_is_reused_then_renewed_when_a_name_is_missing(data_dir: Path) -> None:
    first = tls.ensure_certificate(data_dir)
    pem = first[0].read_bytes()
    assert tls.ensure_certificate(data_dir) == first
    assert first[0].read_bytes() == pem  # same certificate, not a new one per start
    # The phone moved to a network where the studio has another name: a new certificate.
    tls.ensure_certificate(data_dir, hosts=["studio.farm.lan"])
    assert first[0].read_bytes() != pem
    assert "studio.farm.lan" in tls.certificate_names(first[0])


def test_a_damaged_certificate_is_replaced(data_dir: Path) -> None:
    cert_path, _ = tls.ensure_certificate(data_dir)
    cert_path.write_text("not a certificate")
    cert_path, _key_path = tls.ensure_certificate(data_dir)
    assert "127.0.0.1" in tls.certificate_names(cert_path)


def test_lan_address_prefers_private_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    class Adapter:
        def __init__(self, *ips: object) -> None:
            self.ips = [type("IP", (), {"ip": ip})() for ip in ips]

    adapters = [
        Adapter("127.0.0.1"),
        Adapter("203.0.113.9"),
        Adapter(("fe80::1", 0, 2)),
        Adapter("169.254.3.3"),
        Adapter("192.168.1.23"),
    ]
    monkeypatch.setattr(tls.ifaddr, "get_adapters", lambda: adapters)
    assert tls.lan_address() == "192.168.1.23"
    monkeypatch.setattr(tls.ifaddr, "get_adapters", lambda: adapters[:4])
    assert tls.lan_address() == "203.0.113.9"
    monkeypatch.setattr(tls.ifaddr, "get_adapters", lambda: adapters[:1])
    assert tls.lan_address() == "127.0.0.1"


def test_lan_address_is_an_ipv4_address() -> None:
    assert ipaddress.IPv4Address(tls.lan_address())


def test_farmlive_up_lan_serves_https_with_the_certificate(data_dir: Path) -> None:
    port = free_port()
    base = f"https://{LOOPBACK}:{port}"
    server = start_studio_process(data_dir, port, "--lan", "--base-url", base)
    try:
        cert_path = data_dir / "tls" / tls.CERT_FILENAME
        # Verify against the studio's own certificate: the server really presents it.
        context = ssl.create_default_context(cafile=str(cert_path))
        with urllib.request.urlopen(f"{base}/publish", timeout=10, context=context) as response:
            assert response.status == 200
            assert "开始推流" in response.read().decode()
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"{base}/healthz", timeout=10)  # not trusted by default: self-signed
        log = (data_dir / f"server-{port}.log").read_text()
        assert f"{base}/publish" in log  # the banner printed the phone's URL...
        # ...and a pairing QR: the phone that scans it may publish, never use the studio key.
        link = printed_pair_link(log)
        assert link.startswith(f"{base}/publish#pair=") and server.key not in log
        assert pairing_exchange(base, link, context) == 200
        assert pairing_exchange(base, link, context) == 410  # single use
    finally:
        stop_studio_process(server)
