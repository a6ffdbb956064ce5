"""HTTPS for ``farmlive up --lan``: phones only open the camera on a secure origin.

The certificate is self-signed, made once in the data folder and reused while
it is valid and still names the LAN address (a new Wi-Fi address means a new
certificate, otherwise the phone would refuse it by name).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

import ifaddr
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TLS_DIRNAME = "tls"
CERT_FILENAME = "studio-cert.pem"
KEY_FILENAME = "studio-key.pem"
VALID_DAYS = 825  # the longest lifetime Apple devices accept for a TLS server certificate
RENEW_BEFORE = dt.timedelta(days=7)

_PRIVATE_NETWORKS = [
    ipaddress.ip_network(n) for n in ("192.168.0.0/16", "10.0.0.0/8", "172.16.0.0/12")
]


def _rank(address: ipaddress.IPv4Address) -> int:
    """Home/office Wi-Fi ranges first, other routable addresses after."""
    for rank, network in enumerate(_PRIVATE_NETWORKS):
        if address in network:
            return rank
    return len(_PRIVATE_NETWORKS)


def lan_address() -> str:
    """The IPv4 address a phone on the same network reaches this machine on.

    Read from the interface list (no packet is sent); private ranges are
    preferred; 127.0.0.1 when the machine has no other address.
    """
    candidates: list[ipaddress.IPv4Address] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue  # IPv6: phones reach the studio by IPv4 on a LAN
            address = ipaddress.IPv4Address(ip.ip)
            if address.is_loopback or address.is_link_local or address.is_multicast or address.is_unspecified:
                continue
            candidates.append(address)
    if not candidates:
        return "127.0.0.1"
    return str(min(candidates, key=_rank))


def certificate_names(cert_path: Path) -> set[str]:
    """DNS names and IP addresses the certificate is valid for."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {*sans.get_values_for_type(x509.DNSName), *(str(a) for a in sans.get_values_for_type(x509.IPAddress))}


def _still_good(cert_path: Path, key_path: Path, names: set[str]) -> bool:
    if not (cert_path.exists() and key_path.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        covered = certificate_names(cert_path)
    except (ValueError, x509.ExtensionNotFound):
        return False
    expires = cert.not_valid_after_utc
    return names <= covered and expires - RENEW_BEFORE > dt.datetime.now(dt.UTC)


def ensure_certificate(data_dir: Path, *, hosts: list[str] | None = None) -> tuple[Path, Path]:
    """``(cert_path, key_path)`` for the studio, created on first use and then reused.

    Names: localhost, 127.0.0.1, the LAN address and any ``hosts`` given.
    """
    folder = Path(data_dir) / TLS_DIRNAME
    cert_path, key_path = folder / CERT_FILENAME, folder / KEY_FILENAME
    names = {"localhost", "127.0.0.1", lan_address(), *(hosts or [])}
    if _still_good(cert_path, key_path, names):
        return cert_path, key_path
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    ips, dns = [], []
    for name in sorted(names):
        try:
            ips.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            dns.append(x509.DNSName(name))
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "farmlive studio"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "farmlive"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([*dns, *ips]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Write the key owner-readable only, then swap both files in place.
    tmp_key = key_path.with_suffix(".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    tmp_cert = cert_path.with_suffix(".tmp")
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, key_path)
    os.replace(tmp_cert, cert_path)
    return cert_path, key_path
