"""Two revisions of dbinit side by side on the same PostgreSQL (fsync on): applying 1,000
three-statement migrations and a run with nothing pending over them, interleaved, 3 rounds,
with the lint off and on for the second. To see that a change costs nothing on the hot paths.

    .venv/bin/python bench/compare_revisions.py 1be5865 HEAD
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, PostgresServer, median, timed

COUNT = 1000


def main(before: str, after: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="dbinit-compare-"))
    trees = {}
    for rev in (before, after):
        tree = work / rev
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-f", "--detach", str(tree), rev], check=True,
                       capture_output=True)
        trees[rev] = tree
    files = work / "migrations"
    files.mkdir()
    for i in range(1, COUNT + 1):
        (files / f"V{i:04d}-step-{i}-up.sql").write_text(
            f"CREATE TABLE t{i} (id serial PRIMARY KEY, name text NOT NULL);\n"
            f"INSERT INTO t{i} (name) VALUES ('row {i}');\nCREATE INDEX t{i}_name ON t{i} (name);\n")
    variants = {f"{before}": (trees[before], "warn"), f"{after}, lint off": (trees[after], "off"),
                f"{after}, lint on": (trees[after], "warn")}
    server = PostgresServer(options={"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}).start()
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in variants}
    try:
        n = 0
        for _ in range(3):
            for name, (tree, lint) in variants.items():
                n += 1
                server.psql(f"CREATE DATABASE c{n}")
                env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(tree), "POSTGRES_URL": server.url(dbname=f"c{n}"),
                       "DBINIT_MIGRATIONS": str(files), "DBINIT_LINT": lint}

                def migrate() -> None:
                    subprocess.run([sys.executable, "-m", "dbinit", "migrate"], env=env, check=True, capture_output=True)

                results[name][0].append(timed(migrate))
                results[name][1].append(median([timed(migrate) for _ in range(5)]))
    finally:
        server.remove()
        for tree in trees.values():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
    print(f"\n{COUNT} migrations, fsync on, 3 interleaved rounds: median (min–max)")
    for name, (apply, idle) in results.items():
        print(f"  {name:<28} apply {median(apply):6.2f} s ({min(apply):.2f}–{max(apply):.2f})"
              f"   nothing pending {median(idle):.3f} s ({min(idle):.3f}–{max(idle):.3f})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
