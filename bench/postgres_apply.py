"""1,000 generated three-statement migrations on PostgreSQL: dbinit against the seed's way (one
`psql -f` per file), one psql session running the same SQL, and the peers found on this machine.
Then a run with nothing pending over the 1,000 applied migrations.

    .venv/bin/python bench/postgres_apply.py [COUNT]
"""
import subprocess
import sys
import tempfile
from pathlib import Path

from common import PostgresServer, dbinit, median, peer, report, timed

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 1000


def body(i: int) -> str:
    return (f"CREATE TABLE t{i} (id serial PRIMARY KEY, name text NOT NULL);\n"
            f"INSERT INTO t{i} (name) VALUES ('row {i}');\n"
            f"CREATE INDEX t{i}_name ON t{i} (name);\n")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="dbinit-bench-"))
    mine, single, golang, dbmate = (work / d for d in ("dbinit", "single", "golang-migrate", "dbmate"))
    for d in (mine, golang, dbmate / "db" / "migrations"):
        d.mkdir(parents=True)
    for i in range(1, COUNT + 1):
        (mine / f"V{i:04d}-step-{i}-up.sql").write_text(body(i))
        (golang / f"{i:04d}_step.up.sql").write_text(body(i))
        (dbmate / "db" / "migrations" / f"{i:04d}_step.sql").write_text(f"-- migrate:up\n{body(i)}\n-- migrate:down\n")
    (work / "all.sql").write_text("".join(body(i) for i in range(1, COUNT + 1)))

    # Server defaults (fsync and synchronous commit on), as users run it.
    server = PostgresServer(options={"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}).start()
    psql = [str(server.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(server.port),
            "-U", "postgres"]
    env_pw = {"PGPASSWORD": server.password}
    n = 0

    def fresh() -> str:
        nonlocal n
        n += 1
        server.psql(f"CREATE DATABASE b{n}")
        return f"b{n}"

    def run(cmd, **kw):
        subprocess.run(cmd, check=True, capture_output=True, env={"PATH": "/usr/bin:/bin", **env_pw}, **kw)

    rows = []
    try:
        db = fresh()
        rows.append(("one psql session, all files", timed(lambda: run([*psql, "-d", db, "-f", str(work / "all.sql")]))))
        db = fresh()
        files = sorted(mine.glob("*.sql"))
        rows.append(("psql -f per file (the seed's loop)",
                     timed(lambda: [run([*psql, "-d", db, "-f", str(f)]) for f in files])))
        db = fresh()
        env = {"POSTGRES_URL": server.url(dbname=db), "DBINIT_MIGRATIONS": str(mine)}
        rows.append(("dbinit migrate", timed(lambda: dbinit("migrate", env=env))))
        idle = [timed(lambda: dbinit("migrate", env=env)) for _ in range(5)]
        if migrate := peer("migrate"):
            db = fresh()
            rows.append(("golang-migrate up", timed(lambda: run(
                [migrate, "-path", str(golang), "-database", server.url(dbname=db) + "?sslmode=disable", "up"]))))
        if dbmate_bin := peer("dbmate"):
            db = fresh()
            rows.append(("dbmate up", timed(lambda: run(
                [dbmate_bin, "--no-dump-schema", "--url", server.url(dbname=db) + "?sslmode=disable", "up"],
                cwd=dbmate))))
            dbmate_idle = median([timed(lambda: run(
                [dbmate_bin, "--no-dump-schema", "--url", server.url(dbname=db) + "?sslmode=disable", "up"],
                cwd=dbmate)) for _ in range(5)])
    finally:
        server.remove()
    report(f"PostgreSQL: apply {COUNT} migrations of 3 statements (fsync on)", rows, "one psql session, all files")
    print(f"\nNothing pending over {COUNT} applied: dbinit migrate, median of 5: {median(idle):.3f} s "
          "(whole process: Python start, wait, lock, history, checksums)")
    if peer("dbmate"):
        print(f"Nothing pending over {COUNT} applied: dbmate up, median of 5: {dbmate_idle:.3f} s")


if __name__ == "__main__":
    main()
