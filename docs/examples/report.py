"""A report: summarise the orders loaded by etl_records.py into a Markdown file.

    python docs/examples/report.py [--db /tmp/etl-example.sqlite] [--out /tmp/orders-report.md]

Monitored with the decorator form: every call of `build_report` is one run of the job
`orders_report`. If the database is missing the run fails, with the exception as its
message, and the exception still ends the script as usual.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from pathlib import Path

from batchgate import Job, current_job

TMP = Path(tempfile.gettempdir())


@Job("orders_report", heartbeat=10)
def build_report(db_path: Path, out: Path) -> int:
    if not db_path.exists():
        raise FileNotFoundError(f"no orders database at {db_path}: run etl_records.py first")
    job = current_job()
    assert job is not None
    with sqlite3.connect(db_path) as db:
        customers = db.execute(
            "SELECT customer, COUNT(*), SUM(cents) FROM orders GROUP BY customer "
            "ORDER BY SUM(cents) DESC"
        ).fetchall()
    lines = [
        "# Orders by customer",
        "",
        "| customer | orders | total (EUR) |",
        "| --- | --- | --- |",
    ]
    for done, (customer, orders, cents) in enumerate(customers, 1):
        lines.append(f"| {customer} | {orders} | {cents / 100:.2f} |")
        job.progress(done=done, total=len(customers))
    out.write_text("\n".join(lines) + "\n")
    job.metric("customers", len(customers))
    return len(customers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, default=TMP / "etl-example.sqlite")
    parser.add_argument("--out", type=Path, default=TMP / "orders-report.md")
    args = parser.parse_args()
    count = build_report(args.db, args.out)
    print(f"wrote {args.out}: {count} customers")


if __name__ == "__main__":
    main()
