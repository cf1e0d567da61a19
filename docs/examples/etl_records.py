"""ETL with records: extract rows from a CSV, transform them, load them into SQLite.

    python docs/examples/etl_records.py [--rows 50000] [--db /tmp/etl-example.sqlite]

Without --csv it first writes a CSV of synthetic orders to extract from. Monitored as the
job `etl_orders`: progress is rows done out of rows total, rows that fail validation are
counted as `errors`, and the load rate is a custom metric. Point it at a collector with
BATCHGATE_URL (default http://127.0.0.1:9091).
"""

from __future__ import annotations

import argparse
import csv
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from batchgate import Job


def write_sample_csv(path: Path, rows: int) -> None:
    rng = random.Random(42)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["order_id", "customer", "amount", "currency"])
        for order_id in range(rows):
            # About one row in a thousand is broken, as real exports are.
            amount = "n/a" if rng.random() < 0.001 else f"{rng.uniform(1, 500):.2f}"
            writer.writerow([order_id, f"customer-{rng.randrange(5000)}", amount, "EUR"])


def transform(row: dict[str, str]) -> tuple[int, str, int]:
    """An order as (id, customer, amount in cents); ValueError for a row that cannot load."""
    return int(row["order_id"]), row["customer"].strip(), round(float(row["amount"]) * 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", type=Path, help="orders to load (default: a generated sample)")
    parser.add_argument("--rows", type=int, default=50_000, help="rows of the generated sample")
    parser.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "etl-example.sqlite"
    )
    args = parser.parse_args()

    source = args.csv
    if source is None:
        source = Path(tempfile.gettempdir()) / "etl-example-orders.csv"
        write_sample_csv(source, args.rows)
    with source.open(newline="") as file:
        total = sum(1 for _ in file) - 1

    with Job("etl_orders", labels={"source": source.name}) as job, sqlite3.connect(args.db) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS orders "
            "(id INTEGER PRIMARY KEY, customer TEXT, cents INTEGER)"
        )
        started = time.monotonic()
        done = errors = 0
        with source.open(newline="") as file:
            for row in csv.DictReader(file):
                try:
                    db.execute("INSERT OR REPLACE INTO orders VALUES (?, ?, ?)", transform(row))
                except ValueError:
                    errors += 1
                done += 1
                job.progress(done=done, total=total, errors=errors)  # cheap: call it every row
        job.metric("rows_per_second", done / max(time.monotonic() - started, 1e-9))
        print(f"loaded {done - errors} of {total} rows into {args.db} ({errors} rejected)")


if __name__ == "__main__":
    main()
