"""dbinit against every peer in one run, on the test harness's real servers, and how its cost grows
with the number of migrations. Prints markdown and writes it to bench/RESULTS.md.

    bench/run.sh                      everything, 3 rounds (about 40 minutes on 2 cores)
    bench/run.sh --rounds 5 --sections postgres,neo4j
    bench/run.sh --smoke              every section with tiny sets, 1 round, nothing written
    bench/run.sh --check              exit 1 when a goal is not met (each named on stderr)

Sections: postgres (apply), neo4j (apply), idle (nothing pending), schema (the schema file against
pg_dump, and what the drift check costs a run with nothing pending), wait (latency), growth, fleet
(tenant schemas against the peers' loops), longlived (checkpoints, archives), telemetry (OpenTelemetry
on against off).
Peers come from bench/peers.sh. dbinit runs as in its image: without the `lint` extra (off).
"""
from __future__ import annotations

import argparse
import datetime
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, Neo4jServer, PostgresServer, RedisServer
from measure import Contender, Result, Run, goal, play, run_process, table
from workloads import Neo4jSet, PostgresSet, neo4j_light, write_long_lived, write_redis

PEERS = ROOT / ".tools" / "peers" / "bin"
JVM = ROOT / "bench" / "peers" / "target"
FLOORS = str(ROOT / "bench" / "floors.py")
# PostgreSQL as it runs in production: every commit reaches the disk.
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
VERSIONS = {"dbmate": "2.36.0 (npm)", "golang-migrate": "v4.20.1 (go install)",
            "Flyway": "13.12.1 Community (Maven Central, flyway-core API)",
            "neo4j-migrations": "2.19.2 (Maven Central, core API)"}


@dataclass
class Context:
    rounds: int
    work: Path
    sizes: dict[str, int]
    lines: list[str] = field(default_factory=list)
    rss: dict[str, float] = field(default_factory=dict)

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def out(self, *lines: str) -> None:
        for line in lines:
            print(line, flush=True)
            self.lines.append(line)

    def record(self, results: dict[str, Result], section: str) -> None:
        for r in results.values():
            key = f"{r.name} — {section}"
            self.rss[key] = max(self.rss.get(key, 0.0), r.rss_mb)


def env(**values: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", "/root"),
            "DBINIT_LINT": "off", **values}


def dbinit(*args: str) -> list[str]:
    return [sys.executable, "-m", "dbinit", *args]


def java(main: str, *args: str) -> list[str]:
    return ["java", "-cp", f"{JVM / 'peers-1.jar'}:{JVM / 'lib'}/*", f"peers.{main}", *args]


def same_target(action) -> tuple:
    return action, lambda: None


# ---------------------------------------------------------------- PostgreSQL apply

class PostgresDatabases:
    """A fresh database per measurement on one durable server."""

    def __init__(self, server: PostgresServer):
        self.server, self.n = server, 0

    def fresh(self) -> str:
        self.n += 1
        self.server.psql(f"CREATE DATABASE b{self.n}")
        return f"b{self.n}"

    def drop(self, db: str) -> None:
        self.server.psql(f"DROP DATABASE {db}")

    def url(self, db: str, driver_options: bool = False) -> str:
        return self.server.url(dbname=db) + ("?sslmode=disable" if driver_options else "")

    def psql(self, db: str, *args: str) -> list[str]:
        return [str(self.server.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                "-p", str(self.server.port), "-U", "postgres", "-d", db, *args]

    def contender(self, name: str, commands, note: str = "", environment=None, cwd=None) -> Contender:
        """`commands(db)`: the process(es) to run against a fresh database, one after another."""
        def prepare():
            db = self.fresh()
            run_env = environment(db) if environment else env(PGPASSWORD=self.server.password)
            return (lambda: Run.combine([run_process(c, run_env, cwd) for c in commands(db)]),
                    lambda: self.drop(db))
        return Contender(name, prepare, note)

    def tools(self, s: PostgresSet) -> dict[str, Contender]:
        pw = self.server.password
        return {
            "dbinit": self.contender("dbinit migrate", lambda db: [dbinit("migrate")],
                                     environment=lambda db: env(POSTGRES_URL=self.url(db),
                                                                DBINIT_MIGRATIONS=str(s.dbinit))),
            "dbmate": self.contender("dbmate up", lambda db: [[str(PEERS / "dbmate"), "--no-dump-schema", "--url",
                                                               self.url(db, True), "-d", str(s.dbmate / "db" / "migrations"),
                                                               "up"]]),
            "golang-migrate": self.contender("golang-migrate up", lambda db: [[
                str(PEERS / "migrate"), "-path", str(s.golang_migrate), "-database", self.url(db, True), "up"]]),
            "flyway": self.contender("Flyway migrate", lambda db: [java(
                "FlywayMigrate", f"jdbc:postgresql://127.0.0.1:{self.server.port}/{db}", "postgres", pw,
                str(s.flyway))]),
        }


def postgres_apply(ctx: Context) -> None:
    count = ctx.sizes["postgres"]
    s = PostgresSet(ctx.work / "postgres-apply", count)
    server = PostgresServer(options=DURABLE).start()
    try:
        dbs = PostgresDatabases(server)
        floor = "psql, a commit per migration"
        tools = dbs.tools(s)
        contenders = [
            dbs.contender("psql -1, one commit for all", lambda db: [dbs.psql(db, "-1", "-f", str(s.single_commit))]),
            dbs.contender(floor, lambda db: [dbs.psql(db, "-f", str(s.commit_each))]),
            dbs.contender("psql -f per file", lambda db: [dbs.psql(db, "-f", str(f)) for f in s.seed_files()],
                          note="the seed's loop"),
            *tools.values(),
        ]
        ctx.log(f"PostgreSQL: apply {count}")
        results = play(contenders, ctx.rounds, ctx.log)
    finally:
        server.remove()
    ctx.record(results, "PostgreSQL apply")
    mine = results["dbinit migrate"].median
    ctx.out(f"## PostgreSQL: apply {count} migrations (table, row, index), fsync on", "",
            *table(results, floor), "",
            goal("dbinit against the commit-per-migration floor", mine / results[floor].median, 1.15),
            *(goal(f"dbinit against {peer}", mine / results[peer].median, 1.0)
              for peer in ("dbmate up", "golang-migrate up", "Flyway migrate")), "")


# ---------------------------------------------------------------- Neo4j apply

def neo4j_server_contender(name: str, command, migrations: Path, note: str = "") -> Contender:
    """A fresh server per measurement: Neo4j slows as its schema grows and after mass drops, so
    sharing one would favour whoever runs first."""
    def prepare():
        server = Neo4jServer(quick_jit=False).start()
        run_env = env(NEO4J_URI=server.uri(), NEO4J_AUTH=f"neo4j/{server.password}", DBINIT_MIGRATIONS=str(migrations))
        return lambda: run_process(command(server), run_env), server.remove
    return Contender(name, prepare, note)


def neo4j_apply(ctx: Context) -> None:
    count = ctx.sizes["neo4j"]
    s = Neo4jSet(ctx.work / "neo4j-apply", count)
    floor = "driver, one session"
    contenders = [
        neo4j_server_contender(floor, lambda server: [sys.executable, FLOORS, "neo4j-apply", str(count)], s.dbinit,
                               note="same statements, then db.awaitIndexes"),
        neo4j_server_contender("dbinit migrate", lambda server: dbinit("migrate"), s.dbinit),
        neo4j_server_contender("neo4j-migrations apply", lambda server: java(
            "Neo4jMigrationsApply", server.uri(), "neo4j", server.password, str(s.neo4j_migrations)), s.dbinit,
            note="per statement: its default refuses files mixing schema and data"),
    ]
    ctx.log(f"Neo4j: apply {count}")
    results = play(contenders, ctx.rounds, ctx.log)
    ctx.record(results, "Neo4j apply")
    mine = results["dbinit migrate"].median
    ctx.out(f"## Neo4j: apply {count} migrations (index, constraint, MERGE), a fresh server each", "",
            *table(results, floor), "",
            goal("dbinit against the driver floor", mine / results[floor].median, 1.5),
            goal("dbinit against neo4j-migrations (goal: at least 1.5x ahead)",
                 mine / results["neo4j-migrations apply"].median, round(1 / 1.5, 3)), "")


# ---------------------------------------------------------------- nothing pending

def idle(ctx: Context) -> None:
    count = ctx.sizes["idle"]
    root = ctx.work / "idle"
    pg_set = PostgresSet(root / "postgres", count)
    graph = Neo4jSet(root / "neo4j", count, statements=neo4j_light)
    write_redis(pg_set.dbinit, count)
    shutil.copytree(graph.dbinit / "neo4j", pg_set.dbinit / "neo4j")
    postgres = PostgresServer(options=DURABLE).start()
    neo4j = Neo4jServer(quick_jit=False).start()
    redis = RedisServer().start()
    try:
        dbs = PostgresDatabases(postgres)
        db = dbs.fresh()
        urls = {"POSTGRES_URL": dbs.url(db), "NEO4J_URI": neo4j.uri(), "NEO4J_AUTH": f"neo4j/{neo4j.password}",
                "REDIS_URL": redis.url()}
        only = {"postgres": ["POSTGRES_URL"], "neo4j": ["NEO4J_URI", "NEO4J_AUTH"], "redis": ["REDIS_URL"],
                "all three": list(urls)}

        def fixed(name: str, command: list[str], keys: list[str], note: str = "", **extra: str) -> Contender:
            run_env = env(**{k: urls[k] for k in keys}, **extra)
            return Contender(name, lambda: same_target(lambda: run_process(command, run_env)), note)

        def mine(database: str) -> Contender:
            """dbinit refuses files for a database it is not given: each alone has a folder of its own."""
            folder = pg_set.dbinit if database == "all three" else root / f"dbinit-{database}"
            if not folder.exists():
                shutil.copytree(pg_set.dbinit / database, folder / database)
            return fixed("dbinit migrate", dbinit("migrate"), only[database], DBINIT_MIGRATIONS=str(folder))

        ctx.log(f"nothing pending: applying {count} to each database")
        first = run_process(dbinit("migrate"), env(**urls, DBINIT_MIGRATIONS=str(pg_set.dbinit)))
        ctx.rss["dbinit migrate, all three databases — apply for the idle section"] = first.rss_mb
        peers = {}
        for key, c in dbs.tools(pg_set).items():
            if key == "dbinit":
                continue
            action, _ = c.prepare()  # a database of its own, kept for the idle runs
            action()
            peers[key] = Contender(c.name, lambda action=action: same_target(action))
        neo4j_migrations = java("Neo4jMigrationsApply", neo4j.uri(), "neo4j", neo4j.password,
                                str(graph.neo4j_migrations))
        run_process(neo4j_migrations, env())

        groups = {
            "PostgreSQL": ("postgres", [fixed("python: import psycopg, SELECT 1", [sys.executable, FLOORS, "one-query",
                                                                                 "postgres"], only["postgres"]),
                                        mine("postgres"), *peers.values()]),
            "Neo4j": ("neo4j", [fixed("python: import neo4j, RETURN 1", [sys.executable, FLOORS, "one-query", "neo4j"],
                                      only["neo4j"]),
                                mine("neo4j"),
                                fixed("neo4j-migrations apply", neo4j_migrations, [])]),
            "Redis": ("redis", [fixed("python: import redis, PING", [sys.executable, FLOORS, "one-query", "redis"],
                                      only["redis"]), mine("redis")]),
            "all three": ("all three", [fixed("python: all three clients, one query each",
                                              [sys.executable, FLOORS, "one-query", "postgres", "neo4j", "redis"],
                                              only["all three"]), mine("all three")]),
        }
        ctx.out(f"## Nothing pending over {count} applied migrations", "")
        ctx.out(f"Applying all three sets in one dbinit run: {first.seconds:.2f} s, peak RSS {first.rss_mb:.0f} MB.", "")
        for title, (database, contenders) in groups.items():
            ctx.log(f"nothing pending: {title}")
            results = play(contenders, ctx.rounds, ctx.log)
            ctx.record(results, f"nothing pending, {title}")
            floor = contenders[0].name
            ctx.out(f"### {title}", "", *table(results, floor), "")
            value = results["dbinit migrate"].median
            limit = {"PostgreSQL": 1.5, "Neo4j": 1.2, "all three": 1.2}.get(title)
            if limit:
                ctx.out(goal(f"dbinit against {floor}", value / results[floor].median, limit), "")
    finally:
        for server in (postgres, neo4j, redis):
            server.remove()


# ---------------------------------------------------------------- the schema file and drift

def schema_tables(first: int, last: int) -> str:
    """Tables `first` to `last` - 1, each with an identity key, a check, a default, an index and a
    foreign key."""
    return "".join(
        f"CREATE TABLE t{i} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, qty int CHECK (qty >= 0), "
        f"created timestamptz DEFAULT now(), parent bigint{f' REFERENCES t{i - 1} (id)' if i else ''});\n"
        f"CREATE INDEX t{i}_created ON t{i} (created);\n" for i in range(first, last))


def schema_file(ctx: Context) -> None:
    for count in ctx.sizes["schema"]:
        schema_of(ctx, count, idle=count == ctx.sizes["schema"][0])


def schema_of(ctx: Context, count: int, idle: bool) -> None:
    root = ctx.work / f"schema-{count}"
    migrations = root / "migrations"
    migrations.mkdir(parents=True)
    for n, first in enumerate(range(0, count, 500), start=1):  # a transaction's locks hold some hundred tables
        (migrations / f"V{n:03d}-tables-up.sql").write_text(schema_tables(first, min(first + 500, count)))
    server = PostgresServer(options=DURABLE).start()
    try:
        dbs = PostgresDatabases(server)
        db = dbs.fresh()
        urls = env(POSTGRES_URL=dbs.url(db), DBINIT_MIGRATIONS=str(migrations))
        run_process(dbinit("migrate"), urls)  # the schema, and its record
        pg_dump = [str(server.bindir / "pg_dump"), "--schema-only", "-h", "127.0.0.1", "-p", str(server.port),
                   "-U", "postgres", "-f", str(root / "dump.sql"), db]

        def fixed(name: str, command: list[str], run_env: dict[str, str], note: str = "") -> Contender:
            return Contender(name, lambda: same_target(lambda: run_process(command, run_env)), note)

        floor = "pg_dump --schema-only"
        contenders = [fixed(floor, pg_dump, env(PGPASSWORD=server.password)),
                      fixed("dbinit schema", dbinit("schema", "--dir", str(root / "schema")), urls),
                      fixed("dbinit check --drift", dbinit("check", "--drift"), urls),
                      fixed("dbinit wait", dbinit("wait"), urls, "a dbinit process that describes nothing: Python, "
                            "psycopg, one connection")]
        ctx.log(f"schema: describe {count} tables")
        results = play(contenders, ctx.rounds, ctx.log)
        quiet = {}
        if idle:
            runs = [fixed(f"dbinit migrate, nothing pending, DBINIT_DRIFT={mode}", dbinit("migrate"),
                          {**urls, "DBINIT_DRIFT": mode}) for mode in ("off", "fail")]
            ctx.log("schema: nothing pending, with and without the drift check")
            quiet = play(runs, ctx.rounds, ctx.log)
    finally:
        server.remove()
    ctx.record(results, f"schema of {count} tables")
    mine, dump, start = (results[n].median for n in ("dbinit schema", floor, "dbinit wait"))
    ctx.out(f"## The schema of {count} tables (identity key, check, default, index, foreign key each)", "",
            *table(results, floor), "",
            goal("dbinit schema against pg_dump --schema-only", mine / dump, 1.0),
            goal("the description alone (dbinit schema less dbinit wait) against pg_dump", (mine - start) / dump, 1.0),
            "")
    if quiet:
        off, fail = (quiet[f"dbinit migrate, nothing pending, DBINIT_DRIFT={mode}"].median for mode in ("off", "fail"))
        ctx.out("### Nothing pending, with and without the drift check", "",
                *table(quiet, "dbinit migrate, nothing pending, DBINIT_DRIFT=off"), "",
                goal("the drift check's cost when nothing is pending", fail / off, 1.05), "")


# ---------------------------------------------------------------- wait latency

def answers(kind: str, server) -> bool:
    """The server answers a real query (what an application needs), tried with the real client."""
    try:
        if kind == "postgres":
            import psycopg

            with psycopg.connect(server.url(), connect_timeout=1) as c:
                c.execute("SELECT 1")
        elif kind == "redis":
            server.client().ping()
        else:
            with server.driver() as d, d.session() as s:  # not execute_query: it retries with backoff
                s.run("RETURN 1").consume()
        return True
    except Exception:
        return False


def wait_contender(kind: str, name: str, command, note: str = "") -> Contender:
    """The tool starts first and waits; the server starts 2 s later; this process asks it every 5 ms.
    The measurement is the tool's exit minus the server's first answer (negative: it left too early)."""
    server_class = {"postgres": PostgresServer, "redis": RedisServer, "neo4j": Neo4jServer}[kind]

    def prepare():
        server = server_class()

        def action() -> Run:
            done: list[Run] = []
            ended: list[float] = []

            def tool() -> None:
                done.append(run_process(*command(server)))
                ended.append(time.perf_counter())
            thread = threading.Thread(target=tool)
            thread.start()
            time.sleep(2)
            server.start(wait=False)
            while not answers(kind, server):
                time.sleep(0.005)
            answered = time.perf_counter()
            thread.join(120)
            if not done:
                raise RuntimeError(f"{name} did not finish")
            return Run(ended[0] - answered, done[0].rss_mb)
        return action, server.remove
    return Contender(name, prepare, note)


def tcp_loop(port: int) -> list[str]:
    """What wait-for-it.sh does under bash: try to open the port, sleep a second, again."""
    return ["bash", "-c", f"until (echo -n > /dev/tcp/127.0.0.1/{port}) >/dev/null 2>&1; do sleep 1; done"]


def wait_latency(ctx: Context) -> None:
    ctx.out("## Wait latency: from the database's first answer to the tool's exit", "",
            "The tool starts first; the server 2 s later. A negative time: the tool exited before the database "
            "answered a query (the port was open, the database not ready).", "")
    for kind, title, variables in (
            ("postgres", "PostgreSQL", lambda s: {"POSTGRES_URL": s.url()}),
            ("redis", "Redis", lambda s: {"REDIS_URL": s.url()}),
            ("neo4j", "Neo4j", lambda s: {"NEO4J_URI": s.uri(), "NEO4J_AUTH": f"neo4j/{s.password}"})):
        contenders = [
            wait_contender(kind, "dbinit wait", lambda s: (dbinit("wait"), env(DBINIT_WAIT_TIMEOUT="120",
                                                                               **variables(s)))),
            wait_contender(kind, "TCP-port loop", lambda s: (tcp_loop(s.port), env()), note="as wait-for-it.sh"),
        ]
        if kind == "postgres":
            contenders.append(wait_contender(kind, "dbmate wait", lambda s: (
                [str(PEERS / "dbmate"), "--url", s.url() + "?sslmode=disable", "--wait-timeout", "120s", "wait"],
                env())))
        ctx.log(f"wait latency: {title}")
        results = play(contenders, ctx.rounds, ctx.log)
        ctx.record(results, f"wait, {title}")
        lines = table(results, "dbinit wait")
        ctx.out(f"### {title}", "", *[line.replace("median s", "median s after the first answer") for line in lines],
                "", goal("dbinit wait, median", results["dbinit wait"].median * 1000, 150, " ms"))
        honest = [r for r in results.values() if r.name != "dbinit wait" and r.median >= 0]
        for early in (r for r in results.values() if r.median < 0):
            ctx.out(f"- {early.name} exited {-early.median:.2f} s (median) before the database answered a query")
        if honest:
            ahead = results["dbinit wait"].median <= min(r.median for r in honest)
            ctx.out(f"- ahead of every peer that waits for a real answer: {'yes' if ahead else 'NO'}")
        ctx.out("")


# ---------------------------------------------------------------- growth

def growth(ctx: Context) -> None:
    ctx.out("## Growth: dbinit on PostgreSQL (fsync on) at 10 to 10,000 migrations", "",
            "| migrations | apply median s | ms per migration | nothing pending median s | ms per applied migration |",
            "|---:|---:|---:|---:|---:|")
    server = PostgresServer(options=DURABLE).start()
    per_migration = []
    try:
        dbs = PostgresDatabases(server)
        for count in ctx.sizes["growth"]:
            s = PostgresSet(ctx.work / f"growth-{count}", count)
            ctx.log(f"growth: {count}")
            applied = play([dbs.tools(s)["dbinit"]], ctx.rounds, ctx.log)["dbinit migrate"]
            db = dbs.fresh()
            run_env = env(POSTGRES_URL=dbs.url(db), DBINIT_MIGRATIONS=str(s.dbinit))
            run_process(dbinit("migrate"), run_env)
            still = play([Contender("dbinit migrate", lambda: same_target(lambda: run_process(dbinit("migrate"),
                                                                                              run_env)))],
                         ctx.rounds, ctx.log)["dbinit migrate"]
            dbs.drop(db)
            per_migration.append((count, applied.median / count, still.median))
            ctx.out(f"| {count} | {applied.median:.3f} | {applied.median / count * 1000:.2f} | {still.median:.3f} | "
                    f"{still.median / count * 1000:.3f} |")
    finally:
        server.remove()
    ctx.out("")
    (small, small_each, _), (large, large_each, large_idle) = per_migration[-2], per_migration[-1]
    ctx.out(goal(f"apply time per migration at {large} against {small}", large_each / small_each, 1.25),
            goal(f"nothing pending over {large} applied", large_idle, 1.0, " s"), "")


# ---------------------------------------------------------------- the run

# ---------------------------------------------------------------- fleets

FLEET_FILES = 20


def fleet(ctx: Context) -> None:
    """Tenant schemas × 20 files on one PostgreSQL (fsync on): dbinit's fleet against a serial loop of
    each peer over the schemas, as their users write it (docs/guides/tenants.md), then again with
    nothing pending. The peers' loop is a shell `for` over the schemas, the schema in the URL's
    search_path, where each keeps its own history table."""
    tenants, root = ctx.sizes["fleet"], ctx.work / "fleet"
    s = PostgresSet(root, FLEET_FILES)
    names = [f"tenant_{n:05d}" for n in range(1, tenants + 1)]
    (root / "empty").mkdir()
    floor_file = root / "floor.sql"
    floor_file.write_text("".join(f"SET search_path = {n};\n" + s.commit_each.read_text() for n in names))
    server = PostgresServer(options=DURABLE).start()
    try:
        dbs = PostgresDatabases(server)

        def fresh() -> str:
            db = dbs.fresh()
            server.psql("".join(f"CREATE SCHEMA {n};" for n in names), dbname=db)
            return db

        def loop(db: str, command: str) -> list[str]:
            """A shell loop over the schemas, `command` with $URL set to each one's."""
            return ["bash", "-c", f'for s in {" ".join(names)}; do URL="{dbs.url(db)}?sslmode=disable&search_path=$s"; '
                                  f'{command} >/dev/null || exit 1; done']

        peers = {"dbmate up, a loop over the schemas": lambda db: loop(
                     db, f'{PEERS / "dbmate"} --no-dump-schema --url "$URL" -d {s.dbmate / "db" / "migrations"} up'),
                 "golang-migrate up, a loop over the schemas": lambda db: loop(
                     db, f'{PEERS / "migrate"} -path {s.golang_migrate} -database "$URL" up')}

        def mine(db: str, parallel: int, drift: str = "off") -> tuple[list[str], dict[str, str]]:
            return dbinit("migrate"), env(POSTGRES_URL=dbs.url(db), DBINIT_MIGRATIONS=str(root / "empty"),
                                          DBINIT_TENANTS=",".join(names), DBINIT_TENANT_MIGRATIONS=str(s.dbinit / "postgres"),
                                          DBINIT_PARALLEL=str(parallel), DBINIT_TENANT_DRIFT=drift)

        def fresh_contender(name: str, made, note: str = "") -> Contender:
            def prepare():
                db = fresh()
                command, run_env = made(db)
                return lambda: run_process(command, run_env), lambda: dbs.drop(db)
            return Contender(name, prepare, note)

        floor = "psql, one session, a commit a file"
        contenders = [
            fresh_contender(floor, lambda db: (dbs.psql(db, "-f", str(floor_file)), env(PGPASSWORD=server.password)),
                            "the server's own work"),
            *(fresh_contender(f"dbinit migrate, DBINIT_PARALLEL={p}", lambda db, p=p: mine(db, p)) for p in (2, 4, 8)),
            fresh_contender("dbinit migrate, DBINIT_PARALLEL=4, each tenant's schema recorded",
                            lambda db: mine(db, 4, "warn"), "DBINIT_TENANT_DRIFT=warn"),
            *(fresh_contender(name, lambda db, c=c: (c(db), env(PGPASSWORD=server.password))) for name, c in peers.items()),
        ]
        ctx.log(f"fleet: {tenants} schemas × {FLEET_FILES} files")
        results = play(contenders, ctx.rounds, ctx.log)
        ctx.record(results, "fleet apply")
        best = min((r for r in results.values() if r.name.startswith("dbinit")), key=lambda r: r.median)
        fastest_loop = min((results[name] for name in peers), key=lambda r: r.median)
        ctx.out(f"## A fleet: {tenants} tenant schemas × {FLEET_FILES} migrations (table, row, index), fsync on", "",
                *table(results, floor), "",
                goal(f"{best.name} against {fastest_loop.name}", best.median / fastest_loop.median, 0.33), "")

        ctx.log("fleet: nothing pending")
        kept = {}
        for name, made in [("dbinit migrate, DBINIT_PARALLEL=8", lambda db: mine(db, 8)),
                           *((n, lambda db, c=c: (c(db), env(PGPASSWORD=server.password))) for n, c in peers.items())]:
            db = fresh()
            command, run_env = made(db)
            run_process(command, run_env)  # applied once; the measured runs find nothing pending
            kept[name] = Contender(name, lambda command=command, run_env=run_env: same_target(
                lambda: run_process(command, run_env)))
        idle_results = play(list(kept.values()), ctx.rounds, ctx.log)
        ctx.record(idle_results, "fleet, nothing pending")
        mine_idle = idle_results["dbinit migrate, DBINIT_PARALLEL=8"]
        ctx.out(f"### The same {tenants} tenants with nothing pending", "",
                *table(idle_results, "dbinit migrate, DBINIT_PARALLEL=8"), "",
                goal(f"dbinit, {tenants} tenants with nothing pending", mine_idle.median, 2.0, " s"), "")
    finally:
        server.remove()


def nothing_pending(ctx: Context, runs: dict[str, dict[str, str]], recorded: str, heading: str, claim: str,
                    limit: float) -> None:
    """Start to exit of `dbinit migrate` with nothing pending in each environment of `runs`, interleaved;
    the goal: the second's median over the first's."""
    contenders = [Contender(name, lambda e=e: same_target(lambda: run_process(dbinit("migrate"), e)))
                  for name, e in runs.items()]
    results = play(contenders, ctx.rounds, ctx.log)
    ctx.record(results, recorded)
    first, second = runs
    ctx.out(heading, "", *table(results, first), "", goal(claim, results[second].median / results[first].median, limit),
            "")


# ---------------------------------------------------------------- migration sets that live for years

def long_lived(ctx: Context) -> None:
    """A project three years old (600 files, some 2 MiB, tables made, grown, renamed and dropped):
    a new database from every file against one from the checkpoint; then start to exit with
    nothing pending from the files as a 2 MiB archive against the same files in a folder."""
    count, root = ctx.sizes["longlived"], ctx.work / "longlived"
    files, checkpointed = root / "files", root / "checkpointed"
    write_long_lived(files, count)
    shutil.copytree(files, checkpointed)
    archive = root / "migrations.tar.gz"
    run_process(dbinit("archive", str(archive)), env(DBINIT_MIGRATIONS=str(files)))
    server = PostgresServer(options=DURABLE).start()
    try:
        dbs = PostgresDatabases(server)
        run_process(dbinit("checkpoint"), env(POSTGRES_URL=dbs.url("postgres"), DBINIT_MIGRATIONS=str(checkpointed)))
        floor_file = root / "commit-each.sql"
        floor_file.write_text("".join(f"BEGIN;\n{p.read_text()}COMMIT;\n" for p in sorted(files.glob("*.sql"))))
        migrate = lambda folder: lambda db: env(POSTGRES_URL=dbs.url(db), DBINIT_MIGRATIONS=str(folder))  # noqa: E731
        floor = "psql, a commit a file"
        (checkpoint,) = checkpointed.glob("*-checkpoint.sql")
        contenders = [dbs.contender(floor, lambda db: [dbs.psql(db, "-f", str(floor_file))], "the server's own work"),
                      dbs.contender("psql -1 -f the checkpoint", lambda db: [dbs.psql(db, "-1", "-f", str(checkpoint))],
                                    "the server's own work for the schema alone"),
                      dbs.contender("dbinit migrate, every file", lambda db: [dbinit("migrate")],
                                    environment=migrate(files)),
                      dbs.contender("dbinit migrate, from the checkpoint", lambda db: [dbinit("migrate")],
                                    environment=migrate(checkpointed))]
        ctx.log(f"longlived: a new database from {count} files or from their checkpoint")
        results = play(contenders, ctx.rounds, ctx.log)
        ctx.record(results, "long-lived set, new database")
        every, fast = results["dbinit migrate, every file"], results["dbinit migrate, from the checkpoint"]
        ctx.out(f"## A project three years old: a new database from {count} files or from their checkpoint", "",
                *table(results, floor), "",
                goal("dbinit from the checkpoint against every file", fast.median / every.median, 0.1), "")

        db = dbs.fresh()
        run_process(dbinit("migrate"), migrate(files)(db))
        ctx.log("longlived: nothing pending, from a folder and from an archive")
        size = sum(p.stat().st_size for p in files.glob("*.sql"))
        nothing_pending(ctx, {"dbinit migrate, the files in a folder": migrate(files)(db),
                              "dbinit migrate, the files as a .tar.gz": env(POSTGRES_URL=dbs.url(db),
                                                                             DBINIT_MIGRATIONS=str(archive))},
                        "long-lived set, nothing pending",
                        f"### Start to exit with nothing pending: {count} files ({size / 2**20:.1f} MiB) in a folder, "
                        f"or as one {archive.stat().st_size / 1024:.0f} KiB archive",
                        "the archive against the folder", 1.25)
    finally:
        server.remove()


# ---------------------------------------------------------------- OpenTelemetry

def telemetry(ctx: Context) -> None:
    """Start to exit with nothing pending on the three databases, with OpenTelemetry off and on
    (sending the trace and metrics to a real collector, tests/otelcol)."""
    from collector import Collector

    count, root = ctx.sizes["telemetry"], ctx.work / "telemetry"
    pg_set = PostgresSet(root / "postgres", count)
    graph = Neo4jSet(root / "neo4j", count, statements=neo4j_light)
    write_redis(pg_set.dbinit, count)
    shutil.copytree(graph.dbinit / "neo4j", pg_set.dbinit / "neo4j")
    postgres, neo4j, redis = PostgresServer(options=DURABLE).start(), Neo4jServer(quick_jit=False).start(), \
        RedisServer().start()
    collector = Collector().start()
    try:
        urls = env(POSTGRES_URL=PostgresDatabases(postgres).url("postgres"), NEO4J_URI=neo4j.uri(),
                   NEO4J_AUTH=f"neo4j/{neo4j.password}", REDIS_URL=redis.url(), DBINIT_MIGRATIONS=str(pg_set.dbinit))
        run_process(dbinit("migrate"), urls)
        ctx.log(f"telemetry: nothing pending on three databases ({count} files each), OpenTelemetry off and on")
        nothing_pending(ctx, {"dbinit migrate, OpenTelemetry off": urls, "dbinit migrate, sending to a collector":
                              {**urls, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}},
                        "OpenTelemetry, nothing pending",
                        f"## OpenTelemetry: start to exit with nothing pending on three databases ({count} files each)",
                        "sending the trace and metrics against not", 1.10)
    finally:
        collector.stop()
        for server in (postgres, neo4j, redis):
            server.remove()


SECTIONS = {"postgres": postgres_apply, "neo4j": neo4j_apply, "idle": idle, "schema": schema_file, "wait": wait_latency,
            "growth": growth, "fleet": fleet, "longlived": long_lived, "telemetry": telemetry}
FULL = {"postgres": 1000, "neo4j": 300, "idle": 1000, "schema": [1000, 5000], "growth": [10, 100, 1000, 10000],
        "fleet": 1000, "longlived": 600, "telemetry": 300}
SMOKE = {"postgres": 5, "neo4j": 3, "idle": 5, "schema": [5], "growth": [2, 4], "fleet": 5, "longlived": 10,
         "telemetry": 3}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    pg = subprocess.run([sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))[-1], "--version"],
                        capture_output=True, text=True).stdout.strip()
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Linux {platform.release()}; "
            f"Python {platform.python_version()}; {pg}; Redis {redis.removeprefix('v=')}; Neo4j Community 5.26 "
            f"(embedded, tests/neo4j-launcher)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--smoke", action="store_true", help="tiny sets, one round, RESULTS.md left alone")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is not met, naming each")
    args = parser.parse_args()
    chosen = args.sections.split(",")
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    ctx = Context(rounds=1 if args.smoke else args.rounds, work=Path(tempfile.mkdtemp(prefix="dbinit-bench-")),
                  sizes=SMOKE if args.smoke else FULL)
    started = time.monotonic()
    command = "bench/run.sh " + " ".join(sys.argv[1:])
    ctx.out("# dbinit against its peers", "",
            f"{datetime.date.today().isoformat()}, `{command.strip()}`, {ctx.rounds} rounds, contenders in "
            "rotating order, every measurement a whole process from start to exit.", "",
            f"Machine: {machine()}.", "",
            "Peers: " + "; ".join(f"{k} {v}" for k, v in VERSIONS.items()) + ". dbinit runs as in its image "
            "(the `lint` extra is not installed there: `DBINIT_LINT=off`).", "")
    try:
        for name in chosen:
            SECTIONS[name](ctx)
        ctx.out("## Peak resident memory (median over rounds, largest of a contender's sections)", "",
                "| contender — where | MB |", "|---|---:|",
                *[f"| {k} | {v:.0f} |" for k, v in sorted(ctx.rss.items(), key=lambda kv: kv[1])], "")
        jvm = [v for k, v in ctx.rss.items() if k.startswith(("Flyway", "neo4j-migrations"))]
        all_three = ctx.rss.get("dbinit migrate, all three databases — apply for the idle section")
        if all_three is not None:
            ctx.out(goal("dbinit, all three databases", all_three, 100, " MB"))
            if jvm:
                ctx.out(f"- below every JVM peer (smallest {min(jvm):.0f} MB): {'yes' if all_three < min(jvm) else 'NO'}")
        ctx.out("", f"Took {(time.monotonic() - started) / 60:.1f} minutes.")
    finally:
        shutil.rmtree(ctx.work, ignore_errors=True)
    if not args.smoke and chosen == list(SECTIONS):
        findings = (ROOT / "bench" / "findings.md").read_text()  # the analysis, kept by hand
        (ROOT / "bench" / "RESULTS.md").write_text("\n".join(ctx.lines) + "\n" + findings)
    unmet = [line for line in ctx.lines if line.endswith("— NOT met")]
    if args.check and unmet:
        print(f"bench: {len(unmet)} goal(s) not met:", *unmet, sep="\n", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
