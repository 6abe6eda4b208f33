"""A fresh migrated PostgreSQL database for a test module: migrating a new database from scratch
(100 migrations, through dbinit.migrate) against cloning a migrated template (CREATE DATABASE …
TEMPLATE, what the pytest plugin's dbinit_postgres_url does). Median of 5 each.

    .venv/bin/python bench/template_clone.py
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from common import PostgresServer, median, report, timed

import dbinit

MIGRATIONS = 100


def main() -> None:
    server = PostgresServer(options={"fsync": "on", "synchronous_commit": "on"}).start()
    try:
        directory = Path(tempfile.mkdtemp())
        for n in range(1, MIGRATIONS + 1):
            (directory / f"V{n:03d}-t{n}-up.sql").write_text(
                f"CREATE TABLE t{n} (id bigint PRIMARY KEY, name text);\nINSERT INTO t{n} VALUES (1, 'x');\n"
                f"CREATE INDEX t{n}_name ON t{n} (name);\n")
        server.psql("CREATE DATABASE template_db")
        dbinit.migrate(directory, postgres_url=server.url(dbname="template_db"))
        scratch, clones = [], []
        for i in range(5):
            server.psql(f"CREATE DATABASE scratch{i}")
            scratch.append(timed(lambda: dbinit.migrate(directory, postgres_url=server.url(dbname=f"scratch{i}"))))
            clones.append(timed(lambda: server.psql(f"CREATE DATABASE clone{i} TEMPLATE template_db")))
        report(f"a fresh migrated database, {MIGRATIONS} migrations (fsync on, median of 5)",
               [("CREATE DATABASE … TEMPLATE (the plugin)", median(clones)),
                ("dbinit.migrate on a new database", median(scratch))], "CREATE DATABASE … TEMPLATE (the plugin)")
    finally:
        server.remove()


if __name__ == "__main__":
    main()
