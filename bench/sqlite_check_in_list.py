#!/usr/bin/env python3
"""What a CHECK with an IN list costs SQLite per insert (migration 14): the same table, the
same rows, with the constraint as `IN (...)` of three values, as comparisons joined by OR, and
with no constraint. Each variant inserts N rows (batches of 100 in a transaction, WAL,
synchronous off so that only the statement's own work is timed) into a fresh file in a
temporary directory, three times; the best run is printed. Bounded by N; touches nothing else.
Python's sqlite3 adds the same fixed cost to every variant, so compare the differences.
    bench/sqlite_check_in_list.py [N]"""
import os
import sqlite3
import sys
import tempfile
import time

VARIANTS = [
    ("IN list", "s IN ('RECEIVED', 'PROCESSED', 'FAILED')"),
    ("OR", "s = 'RECEIVED' OR s = 'PROCESSED' OR s = 'FAILED'"),
    ("none", "1"),
]


def run(directory, check, n):
    path = os.path.join(directory, "check.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    db.execute(f"CREATE TABLE e (a TEXT NOT NULL, k TEXT NOT NULL, s TEXT NOT NULL "
               f"CHECK ({check}), m TEXT, PRIMARY KEY (a, k)) STRICT, WITHOUT ROWID")
    best = None
    for r in range(3):
        t0 = time.perf_counter()
        for b in range(0, n, 100):
            db.execute("BEGIN")
            for i in range(b, min(n, b + 100)):
                db.execute("INSERT INTO e VALUES (?, ?, ?, ?) ON CONFLICT (a, k) DO NOTHING",
                           ("app", f"{r:02d}{i:010d}", "PROCESSED", "x" * 200))
            db.execute("COMMIT")
        t = time.perf_counter() - t0
        best = t if best is None else min(best, t)
    db.close()
    return best * 1e6 / n


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    print(f"sqlite {sqlite3.sqlite_version}, {n} inserts a run, best of 3")
    with tempfile.TemporaryDirectory() as d:
        for name, check in VARIANTS:
            print(f"  {name:8s} {run(d, check, n):6.2f} us an insert")


if __name__ == "__main__":
    main()
