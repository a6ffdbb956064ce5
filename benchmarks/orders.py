"""Catalog and order speed: a flash sale over HTTP, place_order, and CSV import.

    .venv/bin/python benchmarks/orders.py [--buyers 500] [--stock 100] [--rows 10000] [--repeat 5]

1. Flash sale: a real ``farmlive up`` studio on 127.0.0.1; ``--buyers`` POST
   /order/<code> at once for ``--stock`` units. Reports wall time, answers per
   second and per-request latency; checks exactly ``--stock`` 201s. Baseline in
   the same run: the same number of concurrent ``GET /healthz`` (the HTTP floor
   of this machine), so the ratio is what validating + the atomic stock
   transaction + the order page add.
2. place_order in-process on a SQLite file (WAL, synchronous=NORMAL), per
   order; baseline: a bare ``INSERT INTO orders`` in autocommit (what the
   BEGIN IMMEDIATE + conditional UPDATE + read of the product adds).
3. CSV import of ``--rows`` products (validate everything, one transaction);
   baseline: a naive importer calling ``upsert_product`` per row in autocommit.

Figures are medians over ``--repeat`` runs; the machine is shared, expect noise.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import catalog  # noqa: E402
from catalog.csvio import catalog_csv, import_csv  # noqa: E402
from catalog.orders import place_order  # noqa: E402
from catalog.shows import create_show, link_for  # noqa: E402

KEY = "orders-bench-key"
BUYER = {"customer_name": "Bench Buyer", "phone": "13800138000", "address": "Farm road 1, Ganzhou"}


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p90_ms(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10)[-1] * 1000 if len(samples) > 1 else samples[0] * 1000


# -- 1. flash sale over HTTP ------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_studio(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "up", "--no-ui", "--data-dir", str(data_dir),
         "--host", "127.0.0.1", "--port", str(port), "--key", KEY,
         # Every buyer of the benchmark shares 127.0.0.1: lift the per-address order limit
         # (each buyer still has its own cookie, order token and phone number).
         "--orders-per-ip", str(10**6)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("studio did not start")


async def burst(
    count: int, request: Callable[[aiohttp.ClientSession, int], object]
) -> tuple[float, list[float], list[int]]:
    """``count`` concurrent requests; returns (wall seconds, per-request seconds, statuses)."""
    latencies: list[float] = []
    statuses: list[int] = []

    async def one(http: aiohttp.ClientSession, n: int) -> None:
        started = time.perf_counter()
        async with request(http, n) as response:  # type: ignore[attr-defined]
            await response.read()
            statuses.append(response.status)
        latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=count)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()) as http:
        started = time.perf_counter()
        await asyncio.gather(*(one(http, n) for n in range(count)))
        return time.perf_counter() - started, latencies, statuses


def buyer_cookie(n: int) -> str:
    return f"fl_viewer=bench-buyer-{n:06d}"


async def order_tokens(url: str, code: str, buyers: int) -> list[str]:
    """The order token each buyer's browser got with the form (not timed: the sale is the POSTs)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:

        async def one(n: int) -> str:
            headers = {"Accept": "application/json", "Cookie": buyer_cookie(n)}
            async with http.get(f"{url}/order/{code}", headers=headers) as response:
                return str((await response.json())["order_token"])

        return list(await asyncio.gather(*(one(n) for n in range(buyers))))


def flash_sale(buyers: int, stock: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        port = free_port()
        process = start_studio(data_dir, port)
        url = f"http://127.0.0.1:{port}"
        try:
            sale_walls, sale_lat, floor_walls, floor_lat = [], [], [], []
            for run in range(repeat):
                db = catalog.open_db(data_dir)
                sku = f"BENCH-{run}"
                catalog.upsert_product(db, catalog.Product(sku=sku, name="Bench oranges", price=59.9, stock=stock))
                code = link_for(db, create_show(db, f"bench {run}").id, sku).code
                db.conn.close()

                tokens = asyncio.run(order_tokens(url, code, buyers))  # each buyer opened the form first

                def order(
                    http: aiohttp.ClientSession, n: int, code: str = code, tokens: list[str] = tokens
                ) -> object:
                    body = {"quantity": 1, "name": f"Buyer {n}", "phone": f"1380013{n:04d}",
                            "address": "Farm road 1, Ganzhou", "request_id": tokens[n]}
                    headers = {"Accept": "application/json", "Cookie": buyer_cookie(n)}
                    return http.post(f"{url}/order/{code}", json=body, headers=headers)

                wall, latencies, statuses = asyncio.run(burst(buyers, order))
                if statuses.count(201) != stock or statuses.count(409) != buyers - stock:
                    raise SystemExit(f"oversold or lost orders: {sorted(set(statuses))}")
                sale_walls.append(wall)
                sale_lat += latencies
                wall, latencies, _ = asyncio.run(burst(buyers, lambda http, _n: http.get(f"{url}/healthz")))
                floor_walls.append(wall)
                floor_lat += latencies
        finally:
            process.terminate()
            process.wait(timeout=15)
    sale, floor = statistics.median(sale_walls), statistics.median(floor_walls)
    print(f"flash sale: {buyers} concurrent buyers for {stock} units over HTTP, {repeat} runs "
          f"(exactly {stock} x 201 and {buyers - stock} x 409 every run)")
    print(f"  orders:   wall {sale * 1000:7.0f} ms  ({buyers / sale:6.0f} answers/s)  "
          f"latency median {median_ms(sale_lat):6.1f} ms  p90 {p90_ms(sale_lat):6.1f} ms")
    print(f"  /healthz: wall {floor * 1000:7.0f} ms  ({buyers / floor:6.0f} answers/s)  "
          f"latency median {median_ms(floor_lat):6.1f} ms  p90 {p90_ms(floor_lat):6.1f} ms  (baseline)")
    print(f"  ratio orders / healthz wall time: {sale / floor:.2f}x")


# -- 2. place_order in-process ---------------------------------------------

def per_order(count: int, repeat: int) -> None:
    order_runs, insert_runs = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            db = catalog.open_db(tmp)
            catalog.upsert_product(db, catalog.Product(sku="EGGS", name="Eggs", price=1.5, stock=count))
            started = time.perf_counter()
            for _ in range(count):
                place_order(db, sku="EGGS", quantity=1, **BUYER)
            order_runs.append((time.perf_counter() - started) / count)
            started = time.perf_counter()
            for _ in range(count):
                db.execute(
                    "INSERT INTO orders (sku, quantity, unit_price, total, at, customer_name, phone, address) "
                    "VALUES ('EGGS', 1, 1.5, 1.5, ?, ?, ?, ?)",
                    [catalog.now_iso(), BUYER["customer_name"], BUYER["phone"], BUYER["address"]],
                )
            insert_runs.append((time.perf_counter() - started) / count)
            db.conn.close()
    order, insert = statistics.median(order_runs), statistics.median(insert_runs)
    print(f"place_order in-process: {count} orders x {repeat} runs")
    print(f"  place_order:  {order * 1e6:7.0f} us/order  ({1 / order:7.0f} orders/s)")
    print(f"  bare INSERT:  {insert * 1e6:7.0f} us/order  (baseline)   ratio {order / insert:.2f}x")


# -- 3. CSV import ----------------------------------------------------------

def csv_import(rows: int, repeat: int) -> None:
    products = [
        catalog.Product(sku=f"SKU-{i:05d}", name=f"Product {i}", name_zh=f"商品{i}", price=round(1 + i % 500 * 0.37, 2),
                        stock=i % 300, unit="1 kg", origin="江西赣州")
        for i in range(rows)
    ]
    text = catalog_csv(products)
    ours, naive = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "products.csv"
            path.write_text(text, encoding="utf-8-sig")
            db = catalog.open_db(Path(tmp) / "a")
            started = time.perf_counter()
            result = import_csv(db, path)
            ours.append(time.perf_counter() - started)
            assert result.ok and result.created == rows
            db.conn.close()
            db = catalog.open_db(Path(tmp) / "b")
            started = time.perf_counter()
            for product in products:  # what a naive importer does: one autocommit write per row
                catalog.upsert_product(db, product)
            naive.append(time.perf_counter() - started)
            db.conn.close()
    mine, base = statistics.median(ours), statistics.median(naive)
    print(f"CSV import: {rows} products x {repeat} runs")
    print(f"  import_csv (parse + validate all + one transaction): {mine * 1000:7.0f} ms  ({rows / mine:7.0f} rows/s)")
    print(f"  upsert_product per row, autocommit:                  {base * 1000:7.0f} ms  (baseline)   "
          f"ratio {mine / base:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--buyers", type=int, default=500)
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    flash_sale(args.buyers, args.stock, args.repeat)
    per_order(args.orders, args.repeat)
    csv_import(args.rows, args.repeat)


if __name__ == "__main__":
    main()
