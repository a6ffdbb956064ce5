"""A public studio under hostile input, floods and faults (issue #9), on 127.0.0.1 only.

Generated input (Hypothesis) drives every public route this suite owns —
``/b``, ``/order`` (form, JSON and raw bytes), ``/watch/state``, ``/images``,
``/live``, ``/healthz`` and ``/api/*`` with the key — and checks that nothing
answers ``5xx`` and that every refusal (``4xx``) leaves the database exactly as
it was. Real ``farmlive up`` processes check what only a process shows: the
event loop keeps serving other clients under attack, a second studio on the
same folder is refused, a used folder is not re-seeded, the file limit is
raised and the data folder is private. (kill -9 during an order burst:
``test_orders_concurrency.py``; WHIP/WHEP input: the signalling suite.)
"""

from __future__ import annotations

import asyncio
import http.client
import json
import resource
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import catalog
from catalog.shows import create_show, link_for
from studio.config import StudioConfig
from studio.limits import Rate
from studio.order_guard import OrderLimits
from tests.conftest import LOOPBACK, TEST_KEY, free_port, start_studio_process, stop_studio_process

pytestmark = pytest.mark.timeout(300)

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


@dataclass
class Target:
    port: int
    db_file: Path
    code: str
    cookie: str
    token: str

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def fingerprint(self) -> tuple:
        """Everything a refused request must leave as it was (read through a connection of our own)."""
        conn = sqlite3.connect(self.db_file)
        try:
            return tuple(
                conn.execute(sql).fetchone()
                for sql in (
                    "SELECT COUNT(*), COALESCE(SUM(quantity), 0), COUNT(DISTINCT status) FROM orders",
                    (
                        "SELECT COUNT(*), COALESCE(SUM(stock), 0), COALESCE(SUM(price), 0), "
                        "COALESCE(SUM(max_per_order), 0), group_concat(name, '|') FROM products"
                    ),
                    "SELECT COUNT(*), COUNT(ended_at), COALESCE(MAX(id), 0) FROM shows",
                    "SELECT COUNT(*) FROM overlay_events",
                )
            )
        finally:
            conn.close()

    def check(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> int:
        """Send; assert no 5xx, and an unchanged database when refused."""
        before = self.fingerprint()
        status, answer = self.request(method, path, body, headers)
        assert status < 500, (method, path, body[:200] if body else None, answer[:300])
        if status >= 400:
            assert self.fingerprint() == before, (method, path, status, answer[:300])
            assert b"Traceback" not in answer and str(self.db_file.parent).encode() not in answer
        return status


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The whole app on a 127.0.0.1 port, in a thread with its own event loop (Hypothesis tests are sync).

    The per-address order limit is lifted so generated orders reach the deep
    end of the order path instead of stopping at 429 (the floods test the limits).
    """
    from studio.app import create_app

    data_dir = tmp_path_factory.mktemp("abuse") / "data"
    db = catalog.open_db(data_dir)
    catalog.upsert_product(db, catalog.Product(sku="ORANGE-5KG", name="Navel oranges", price=59.9, stock=10**6))
    code = link_for(db, create_show(db, "Fuzz").id, "ORANGE-5KG").code
    db.conn.close()
    port = free_port()
    unlimited = Rate(10**9, 0.000001)
    config = StudioConfig(data_dir=data_dir, key=TEST_KEY, host=LOOPBACK, port=port)
    config = replace(config, order_limits=OrderLimits(per_ip=unlimited, per_viewer=unlimited, per_phone=unlimited))
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_app(config))
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, LOOPBACK, port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    cookie = "fl_viewer=fuzz-viewer-0001"
    probe = Target(port, data_dir / catalog.DB_FILENAME, code, cookie, "")
    status, body = probe.request("GET", f"/order/{code}", headers={"Accept": "application/json", "Cookie": cookie})
    assert status == 200
    probe.token = json.loads(body)["order_token"]
    try:
        yield probe
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


# -- generated input -------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=10**300, max_value=10**310),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.sampled_from(["=1+1", "\x00", "\ud800", "9" * 5000, "1e20", "-1", "0", "١٢", "<script>", "' OR 1=1 --"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
ORDER_KEYS = ("quantity", "name", "phone", "address", "request_id", "coupon", "channel", "expected_total")


def dump(value: object) -> bytes:
    """JSON as a hostile client writes it: lone surrogates escaped, NaN and huge numbers allowed."""
    return json.dumps(value, ensure_ascii=True).encode()


@FUZZ
@given(
    fields=st.dictionaries(st.sampled_from(ORDER_KEYS) | st.text(max_size=10), json_values, max_size=6),
    as_json=st.booleans(),
    keep_token=st.booleans(),
)
def test_order_post_never_fails_and_refusals_change_nothing(
    target: Target, fields: dict, as_json: bool, keep_token: bool
) -> None:
    if keep_token:
        fields = {**fields, "request_id": target.token}
    headers = {"Cookie": target.cookie, "Accept": "application/json" if as_json else "text/html"}
    if as_json:
        body, headers["Content-Type"] = dump(fields), "application/json"
    else:
        # Lone surrogates are sent as the raw bytes a hostile client would send (quote() refuses them).
        body = "&".join(
            f"{quote(str(k).encode('utf-8', 'surrogatepass'), safe='')}"
            f"={quote(str(v).encode('utf-8', 'surrogatepass'), safe='')}"
            for k, v in fields.items()
        ).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    target.check("POST", f"/order/{target.code}", body, headers)


@FUZZ
@given(body=st.binary(max_size=2000), content_type=st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/sdp",
    ]
))
def test_order_raw_bodies(target: Target, body: bytes, content_type: str) -> None:
    target.check("POST", f"/order/{target.code}", body, {"Content-Type": content_type, "Cookie": target.cookie})


path_text = st.text(max_size=80)


@FUZZ
@given(code=path_text, query=path_text, via=st.sampled_from(["", "click", "scan", "shelf", "draw", "\x00"]))
def test_buy_links_order_pages_images_and_assets(target: Target, code: str, query: str, via: str) -> None:
    segment = quote(code.encode("utf-8", "surrogatepass"), safe="")
    for path in (
        f"/b/{segment}?via={quote(via)}&q={quote(query.encode('utf-8', 'surrogatepass'))}",
        f"/order/{segment}",
        f"/images/{segment}",
        f"/live/{segment}",
        f"/watch/state?{quote(query.encode('utf-8', 'surrogatepass'))}",
        f"/order/{target.code}?via={quote(via)}&coupon={quote(query.encode('utf-8', 'surrogatepass'))}",
        "/watch/shelf",
        "/healthz",
    ):
        target.check("GET", path)


@FUZZ
@given(body=json_values, raw=st.binary(max_size=300), use_raw=st.booleans())
def test_control_api_with_the_key(target: Target, body: object, raw: bytes, use_raw: bool) -> None:
    payload = raw if use_raw else dump(body)
    headers = {**AUTH, "Content-Type": "application/json"}
    for method, path, data in (
        ("PUT", "/api/overlay", payload),
        ("PUT", "/api/overlay", dump({"sku": body, "layout": body, "promo": body})),
        ("PUT", "/api/products", dump({"products": [{"values": body}]})),
        ("PUT", "/api/products", dump({"products": [{"values": {
            "sku": "A-1", "name": body, "price": body, "stock": body, "buy_url": body, "max_per_order": body,
        }}]})),
        ("PUT", "/api/products", payload),
        ("POST", "/api/shows", dump({"title": body}) if not use_raw else payload),
    ):
        target.check(method, path, data, headers)


@FUZZ
@given(ident=st.text(max_size=30) | st.integers(min_value=-(2**70), max_value=2**70).map(str))
def test_ids_in_paths(target: Target, ident: str) -> None:
    segment = quote(ident.encode("utf-8", "surrogatepass"), safe="")
    target.check("GET", f"/api/shows/{segment}/stats", headers=AUTH)
    target.check("POST", f"/api/orders/{segment}/cancel", headers=AUTH)
    target.check("POST", f"/api/shows/{segment}/end", headers={"Authorization": "Bearer wrong"})


# -- a real studio under attack ---------------------------------------------------

#: The attackers run in a process of their own, so their threads do not slow the probe that measures.
ATTACKERS = """
import http.client, sys, threading, time
port, code, key, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
stop = threading.Event()
statuses = []

def send(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        statuses.append(conn.getresponse().status)
    except OSError:
        pass  # a connection the server cut off (slow or oversized): that is the point
    finally:
        conn.close()

def slowloris():
    while not stop.is_set():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            conn.putrequest("POST", f"/order/{code}")
            conn.putheader("Content-Type", "application/x-www-form-urlencoded")
            conn.putheader("Content-Length", "100000")
            conn.endheaders()
            for _ in range(30):
                if stop.is_set():
                    break
                conn.send(b"a")
                time.sleep(0.5)
        except OSError:
            pass
        finally:
            conn.close()

# Attackers do not hold the studio key (a key holder can load the studio like any admin can).
auth = {"Authorization": "Bearer not-" + key, "Content-Type": "application/json"}
bodies = [
    ("POST", f"/order/{code}", b"[" * 200_000, {"Content-Type": "application/json"}),
    ("POST", f"/order/{code}", b"x" * (2 * 1024 ** 2), {"Content-Type": "application/x-www-form-urlencoded"}),
    ("POST", f"/order/{code}", b'{"quantity": ' + b"9" * 5000 + b"}", {"Content-Type": "application/json"}),
    (
        "PUT",
        "/api/products",
        b'{"products": [' + b'{"values": {"sku": "A", "name": "\\ud800"}},' * 3000 + b"{}]}",
        auth,
    ),
    ("POST", f"/order/{code}", b"quantity=1&name=a&phone=13800138000&address=road+1",
     {"Content-Type": "application/x-www-form-urlencoded"}),
]

def hostile():
    n = 0
    while not stop.is_set():
        send(*bodies[n % len(bodies)])
        n += 1

workers = [threading.Thread(target=slowloris) for _ in range(20)] + [threading.Thread(target=hostile) for _ in range(3)]
for worker in workers:
    worker.start()
time.sleep(seconds)
stop.set()
for worker in workers:
    worker.join(30)
print(" ".join(map(str, statuses)))
"""

def test_other_clients_are_served_while_hostile_clients_attack(tmp_path: Path) -> None:
    """Slow bodies, oversized and malformed bodies and an order flood at once: /watch/state stays prompt."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = start_studio_process(data_dir)
    port = int(server.url.rsplit(":", 1)[1])
    db = catalog.open_db(data_dir)
    code = link_for(db, create_show(db, "Attack").id, "SUGAR-YUNNAN-500G").code
    stock = catalog.get_product(db, "SUGAR-YUNNAN-500G").stock
    db.conn.close()
    attackers = subprocess.Popen(
        [sys.executable, "-c", ATTACKERS, str(port), code, TEST_KEY, "13"], stdout=subprocess.PIPE, text=True
    )
    latencies: list[float] = []
    time.sleep(1.0)
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=20)
    deadline = time.monotonic() + 11  # longer than the 10 s body deadline: slow bodies get cut off meanwhile
    try:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            conn.request("GET", "/watch/state")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)
    finally:
        conn.close()
        output, _ = attackers.communicate(timeout=60)
        log = (data_dir / f"server-{port}.log").read_text(errors="replace")
        stop_studio_process(server)
    statuses = [int(s) for s in output.split()]
    assert statuses and all(status < 500 for status in statuses), sorted(set(statuses))
    assert {400, 401, 413} <= set(statuses)  # the malformed, the keyless and the oversized were answered, not dropped
    assert len(latencies) > 100
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99)]
    print(f"/watch/state under attack: {len(latencies)} probes, median {ordered[len(ordered) // 2] * 1000:.1f} ms, "
          f"p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms")
    assert p99 < 0.2, f"p99 {p99 * 1000:.0f} ms"  # (the max is printed: a shared 2-core machine has its own hiccups)
    assert "Traceback" not in log
    conn = sqlite3.connect(data_dir / catalog.DB_FILENAME)
    try:  # every refusal left the stock alone: no order without a token ever landed
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
        assert conn.execute("SELECT stock FROM products WHERE sku = 'SUGAR-YUNNAN-500G'").fetchone()[0] == stock
    finally:
        conn.close()


def _low_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def test_two_studios_on_one_folder_the_second_is_refused(tmp_path: Path) -> None:
    """Also: the data folder is private, the open-file limit is raised at start."""
    data_dir = tmp_path / "data"
    port = free_port()
    with open(tmp_path / "first.log", "ab") as log:  # the child writes to its own copy of the descriptor
        first = subprocess.Popen(
            [sys.executable, "-m", "studio.cli", "up", "--no-ui", "--data-dir", str(data_dir), "--host", LOOPBACK,
             "--port", str(port), "--key", TEST_KEY],
            # Only a limit set in the child before exec tests the studio raising it at start.
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_low_file_limit,  # noqa: PLW1509
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection(LOOPBACK, port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError((tmp_path / "first.log").read_text())
        second = subprocess.run(
            [sys.executable, "-m", "studio.cli", "up", "--no-ui", "--data-dir", str(data_dir), "--host", LOOPBACK,
             "--port", str(free_port()), "--key", TEST_KEY],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert second.returncode == 3
        assert "already running" in second.stderr and "另一个 farmlive 工作室" in second.stderr
        assert str(first.pid) in second.stderr
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200  # the first one was not disturbed
        soft = next(
            line
            for line in Path(f"/proc/{first.pid}/limits").read_text().splitlines()
            if line.startswith("Max open files")
        )
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        assert int(soft.split()[3]) == min(65536, hard) > 256
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        for name in ("farmlive.db", ".farmlive.lock"):  # (--key given: no studio.key file)
            assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
    finally:
        first.terminate()
        first.wait(15)


def test_a_used_data_folder_is_never_seeded_with_the_demo_shop(tmp_path: Path) -> None:
    """A folder with a key but no database lost its database: say so, sell nothing invented."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "studio.key").write_text(TEST_KEY + "\n")
    server = start_studio_process(data_dir)
    try:
        db = catalog.open_db(data_dir)
        assert db.execute("SELECT COUNT(*) FROM products").fetchone()[0] == 0
        db.conn.close()
    finally:
        stop_studio_process(server)
    log = next(data_dir.glob("server-*.log")).read_text()
    assert "no demo shop is seeded" in log and "从备份恢复" in log
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    server = start_studio_process(fresh)  # a first start still gets the demo shop
    stop_studio_process(server)
    db = catalog.open_db(fresh)
    assert db.execute("SELECT COUNT(*) FROM products").fetchone()[0] == 7
    db.conn.close()


@FUZZ
@given(body=json_values, raw=st.binary(max_size=300), use_raw=st.booleans(), token=st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=60,
))
def test_phone_pairing_and_status_refuse_cleanly(
    target: Target, body: object, raw: bytes, use_raw: bool, token: str
) -> None:
    """The phone's routes: any body, any bearer token; never a 5xx, never a pairing from a guess."""
    payload = raw if use_raw else dump({"code": body})
    assert target.check("POST", "/api/pairing/exchange", payload, {"Content-Type": "application/json"}) != 200
    for bearer in (token, f"flpub_{token}"):
        assert target.check("GET", "/api/phone/status", headers={"Authorization": f"Bearer {bearer}"}) == 401
