"""Peak memory of a streamed catalog import: 1M rows against a baseline that reads the file whole.

Each import runs in its own subprocess and reports ``ru_maxrss`` (peak resident
memory) from ``resource.getrusage``, so one measurement cannot inherit another's
heap. The baseline, measured in the same run, is the old way: the file's bytes
decoded and parsed into a list of rows in one go (what ``import_csv`` did before
it streamed). Target: at most 300 MB for 1M rows.

    .venv/bin/python benchmarks/catalog_import.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import resource, sys, time
from pathlib import Path
import catalog
mode, csv_path, data_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
started = time.perf_counter()
if mode == "stream":
    db = catalog.open_db(data_dir)
    result = catalog.import_csv(db, csv_path)
    assert result.ok, result.summary()
    count = result.created
else:
    from catalog.csvio import read_catalog_rows
    rows, _, errors = read_catalog_rows(csv_path.read_bytes())
    count = len(rows)
took = time.perf_counter() - started
print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, f"{took:.1f}")
"""


def write_catalog(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("sku,name,name_zh,price,stock,unit,origin,description\r\n")
        for n in range(rows):
            out.write(
                f"SKU-{n:07d},Navel oranges {n},赣南脐橙 {n},59.90,{n % 500},5 kg box,Ganzhou,"
                f"Sweet and juicy batch {n}\r\n"
            )


def measure(mode: str, csv_path: Path, data_dir: Path) -> tuple[int, int, float]:
    output = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(csv_path), str(data_dir)], check=True, capture_output=True, text=True
    ).stdout.split()
    return int(output[0]), int(output[1]), float(output[2])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "catalog.csv"
        write_catalog(csv_path, args.rows)
        size = csv_path.stat().st_size / 1e6
        print(f"catalog of {args.rows:,} rows: {size:.0f} MB")
        count, peak, took = measure("whole", csv_path, Path(folder) / "whole")
        print(f"baseline, whole file parsed into rows (no validation, no writes): peak {peak} MB, {took} s")
        count, peak, took = measure("stream", csv_path, Path(folder) / "stream")
        print(f"farmlive import_csv, streamed, validated and written: peak {peak} MB, {took} s ({count:,} products)")
        print(f"target <= 300 MB: {'met' if peak <= 300 else 'MISSED'}")


if __name__ == "__main__":
    main()
