"""The generated migration sets, written once in each contender's own file layout."""
from __future__ import annotations

import datetime
from pathlib import Path


def postgres_body(i: int) -> str:
    return (f"CREATE TABLE t{i} (id serial PRIMARY KEY, name text NOT NULL);\n"
            f"INSERT INTO t{i} (name) VALUES ('row {i}');\n"
            f"CREATE INDEX t{i}_name ON t{i} (name);\n")


def neo4j_statements(i: int) -> list[str]:
    return [f"CREATE INDEX idx_{i} IF NOT EXISTS FOR (n:L{i}) ON (n.p)",
            f"CREATE CONSTRAINT uniq_{i} IF NOT EXISTS FOR (n:L{i}) REQUIRE n.id IS UNIQUE",
            f"MERGE (n:L{i} {{id: 1}}) SET n.p = 'value {i}'"]


def neo4j_light(i: int) -> list[str]:
    """For history size, not work: one small write."""
    return [f"MERGE (:Step {{i: {i}}})"]


def cypher_name(i: int) -> str:
    """dbinit's YYYY-MM-DD-NNN: 999 a day, then the next day."""
    day = datetime.date(2025, 1, 1) + datetime.timedelta(days=(i - 1) // 999)
    return f"{day.isoformat()}-{(i - 1) % 999 + 1:03d}-step.cypher"


class PostgresSet:
    """`count` migrations for dbinit, dbmate, golang-migrate, Flyway and two psql floors."""

    def __init__(self, root: Path, count: int):
        self.count = count
        self.dbinit = root / "dbinit"
        self.golang_migrate = root / "golang-migrate"
        self.dbmate = root / "dbmate"
        self.flyway = root / "flyway"
        self.single_commit = root / "all-one-commit.sql"
        self.commit_each = root / "all-commit-each.sql"
        for d in (self.dbinit / "postgres", self.golang_migrate, self.dbmate / "db" / "migrations", self.flyway):
            d.mkdir(parents=True)
        for i in range(1, count + 1):
            body = postgres_body(i)
            (self.dbinit / "postgres" / f"V{i:05d}-step-{i}-up.sql").write_text(body)
            (self.golang_migrate / f"{i:05d}_step.up.sql").write_text(body)
            (self.dbmate / "db" / "migrations" / f"{i:05d}_step.sql").write_text(
                f"-- migrate:up\n{body}\n-- migrate:down\n")
            (self.flyway / f"V{i}__step.sql").write_text(body)
        self.single_commit.write_text("".join(postgres_body(i) for i in range(1, count + 1)))
        self.commit_each.write_text("".join(f"BEGIN;\n{postgres_body(i)}COMMIT;\n" for i in range(1, count + 1)))

    def seed_files(self) -> list[Path]:
        return sorted((self.dbinit / "postgres").glob("*.sql"))


class Neo4jSet:
    """`count` Cypher migrations for dbinit and neo4j-migrations."""

    def __init__(self, root: Path, count: int, statements=neo4j_statements):
        self.count = count
        self.statements = statements
        self.dbinit = root / "dbinit"
        self.neo4j_migrations = root / "neo4j-migrations"
        (self.dbinit / "neo4j").mkdir(parents=True)
        self.neo4j_migrations.mkdir(parents=True)
        for i in range(1, count + 1):
            text = ";\n".join(statements(i)) + ";\n"
            (self.dbinit / "neo4j" / cypher_name(i)).write_text(text)
            (self.neo4j_migrations / f"V{i:05d}__step.cypher").write_text(text)


def write_redis(folder: Path, count: int) -> None:
    (folder / "redis").mkdir(parents=True, exist_ok=True)
    for i in range(1, count + 1):
        (folder / "redis" / f"V{i:05d}-step.redis").write_text(f"SET bench:{i} value-{i}\n")


_WHY = ("-- Ticket PLAT-{i}: {what}. Reviewed in the weekly schema review; the application reads the\n"
        "-- new shape from release {release} on. Written to run on a live database: each statement takes its\n"
        "-- lock briefly, and the backfill, where there is one, runs in the application, not here.\n")


# What file i does, by i % 5: (the ticket's words, the SQL), for t, the table of every five files.
_STEPS = {
    1: ("the t{t} table", "CREATE TABLE t{t} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
                          "    created_at timestamptz NOT NULL DEFAULT now(), name text NOT NULL);\n"),
    2: ("a state on t{t}", "ALTER TABLE t{t} ADD COLUMN state text NOT NULL DEFAULT 'new';\n"
                           "CREATE INDEX t{t}_state ON t{t} (state);\n"),
    3: ("t{t}'s names checked", "ALTER TABLE t{t} ADD CONSTRAINT t{t}_name CHECK (name <> '');\n"
                                "COMMENT ON TABLE t{t} IS 'step {i}';\n"),
    4: ("a count of t{t}", "CREATE OR REPLACE FUNCTION t{t}_count() RETURNS bigint LANGUAGE sql\n"
                           "    AS $$ SELECT count(*) FROM t{t} $$;\n"),
    0: ("t{t}'s name renamed", "ALTER TABLE t{t} RENAME COLUMN name TO title;\n"),
}
_DROP = ("t{old} dropped", "DROP FUNCTION t{old}_count();\nDROP TABLE t{old};\n")


def long_lived(i: int) -> str:
    """File i of a project three years old: tables made, grown, indexed, renamed and dropped again,
    each file with the comments real ones carry (some 3.5 KB a file: 600 files are about 2 MiB)."""
    t = (i - 1) // 5
    # Every fourth table's last file drops one made three tables before: gone from the newest schema.
    what, sql = _DROP if i % 5 == 0 and t >= 3 and t % 4 == 0 else _STEPS[i % 5]
    values = {"t": t, "i": i, "old": t - 3}
    header = _WHY.format(i=i, what=what.format(**values), release=f"2.{i // 40}.{i % 40}")
    notes = "".join(f"-- Note {n}: measured on a copy of production before merging; the plan is in PLAT-{i}.\n"
                    for n in range(36))
    return header + notes + sql.format(**values)


def write_long_lived(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(1, count + 1):
        path = folder / f"V{i:04d}-step-{i}-up.sql"
        path.write_text(long_lived(i), encoding="utf-8")
        written.append(path)
    return written
