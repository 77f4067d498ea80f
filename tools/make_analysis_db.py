"""A large results db for measuring the analysis commands (validate, cache, report), quickly.

    python tools/make_analysis_db.py SOURCE.db OUT.db --copies 99

SOURCE.db holds one completed run of a baked project (e.g. 10k datapoints:
`python -m <module> run --data items.jsonl --db SOURCE.db`). OUT.db is that run followed by
``copies`` reruns served entirely from the cache, as a rerun writes them: each copy's rows are
the source rows under a new track_id, a later timestamp (one day per copy), ``cache`` naming the
source run and ``reused`` 1; its metrics rows likewise (n_computed 0, n_reused n). Digests,
cache keys and config_ids are the source's, so every validate check passes on OUT.db. 10k rows
and 99 copies make 1M rows in about 10 s (plain sqlite3: no project needed).
"""

import argparse
import shutil
import sqlite3
from pathlib import Path


def columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]


def copy_run(connection: sqlite3.Connection, table: str, source: str, copy: int) -> None:
    changed = {
        "track_id": "? || '-rerun-' || ?",
        "timestamp": "date(timestamp, '+' || ? || ' days') || substr(timestamp, 11)",
        "cache": "?",
        "reused": "1",
        "n_computed": "0",
        "n_reused": "n",
    }
    names = columns(connection, table)
    arguments = {"track_id": (source, copy), "timestamp": (copy,), "cache": (source,)}
    exprs, args = [], []
    for name in names:
        if name in changed and not (table == "metrics" and name in ("cache", "reused")):
            exprs.append(changed[name])
            args.extend(arguments.get(name, ()))
        else:
            exprs.append(f'"{name}"')
    quoted = ", ".join(f'"{n}"' for n in names)
    connection.execute(
        f'INSERT INTO "{table}" ({quoted}) SELECT {", ".join(exprs)} FROM "{table}" '
        "WHERE track_id = ?",
        (*args, source),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="db with one completed run")
    parser.add_argument("out", type=Path, help="db to write (replaced)")
    parser.add_argument("--copies", type=int, default=99, help="reruns to add [99]")
    options = parser.parse_args()
    shutil.copyfile(options.source, options.out)
    with sqlite3.connect(options.out) as connection:
        runs = [r for (r,) in connection.execute("SELECT DISTINCT track_id FROM predictions")]
        if len(runs) != 1:
            raise SystemExit(f"{options.source}: {len(runs)} runs, expected one")
        for copy in range(1, options.copies + 1):
            for table in ("predictions", "metrics"):
                copy_run(connection, table, runs[0], copy)
        (rows,) = connection.execute("SELECT COUNT(*) FROM predictions").fetchone()
    print(f"{options.out}: {rows} rows, {options.copies + 1} runs")


if __name__ == "__main__":
    main()
