"""A throw-away network namespace for tests that need interface (non-loopback) addresses.

Tests may use loopback, or addresses inside a namespace they create
themselves: this one has ``lo`` and a veth pair whose both ends are inside it
(this kernel has no ``dummy`` driver), one with the TEST-NET address
192.0.2.1/24 (RFC 5737; nothing on it leaves the namespace), with
multicast on so mDNS works between processes inside it. Processes run in it
with ``ip netns exec``; Python code runs in it on a thread that joined it
(a network namespace is per thread on Linux), so test clients can be plain
in-process aiortc/aiohttp code.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
ADDRESS = "192.0.2.1"
_libc = ctypes.CDLL(None, use_errno=True)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class NetNs:
    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def path(self) -> Path:
        return Path("/run/netns") / self.name

    def argv(self, command: Sequence[str]) -> list[str]:
        """``command`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *command]

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 120.0) -> T:
        """Run ``fn(*args)`` on a thread inside the namespace; its sockets live there."""
        result: list[T] = []
        failure: list[BaseException] = []

        def run() -> None:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns failed")
            finally:
                os.close(fd)
            try:
                result.append(fn(*args))
            except BaseException as error:  # noqa: BLE001  (anything at all is re-raised in the caller's thread)
                failure.append(error)

        thread = threading.Thread(target=run, name=f"netns-{self.name}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"{fn} did not finish within {timeout} s in {self.name}")
        if failure:
            raise failure[0]
        return result[0]


@contextmanager
def network_namespace() -> Iterator[NetNs]:
    """Create the namespace; delete it (and its interfaces) afterwards."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2 (CI runs as root)")
    ns = NetNs(f"fltest-{secrets.token_hex(4)}")
    _ip("netns", "add", ns.name)
    try:
        _ip("-n", ns.name, "link", "set", "lo", "up")
        _ip("-n", ns.name, "link", "add", "fl0", "type", "veth", "peer", "name", "fl1")
        _ip("-n", ns.name, "addr", "add", f"{ADDRESS}/24", "dev", "fl0")
        _ip("-n", ns.name, "link", "set", "fl1", "up")
        subprocess.run(  # IPv4 only: keeps the candidate lists short and the checks simple
            ns.argv(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]), check=True, timeout=10
        )
        _ip("-n", ns.name, "link", "set", "fl0", "multicast", "on", "up")
        _ip("-n", ns.name, "route", "add", "224.0.0.0/4", "dev", "fl0")  # mDNS queries and answers
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns.name], check=False, capture_output=True, timeout=10)
