"""Every way of giving dbinit its settings that the reference lists, each in a real run against a real
server: the command line's flags (and that they win over the environment), the URLs' other names,
libpq's own variables and service file, Neo4j's separate user and password, a session pooler."""
import json
from types import SimpleNamespace

import pytest

from conftest import GATE, run_dbinit, start_dbinit, unique
from fleet import Fleet, finish

NOWHERE = "127.0.0.1:1"  # nothing listens: a setting that pointed here and won would fail the run


def applied(result, db: str, version: str) -> bool:
    return result.returncode == 0 and f"{db}: applied {version}" in result.stderr


def test_the_url_flags_apply_each_database_and_win_over_the_environment(pg, neo4j_db, redis_db, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    migrations.write("2025-01-01-001-a.cypher", "CREATE (:Flagged);\n")
    migrations.write("V1-a.redis", "SET flagged 1\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), "--postgres-url", pg.url,
                        "--neo4j-uri", neo4j_db.uri(), "--redis-url", redis_db.url(),
                        POSTGRES_URL=f"postgresql://postgres:x@{NOWHERE}/x", NEO4J_URI=f"bolt://{NOWHERE}",
                        NEO4J_AUTH=f"neo4j/{neo4j_db.password}", REDIS_URL=f"redis://{NOWHERE}/0",
                        DBINIT_WAIT_TIMEOUT="30")
    assert result.returncode == 0, result.stderr
    for db, version in (("postgres", "V1"), ("neo4j", "2025-01-01-001"), ("redis", "V1")):
        assert applied(result, db, version), result.stderr
    assert pg.sql("SELECT to_regclass('a') IS NOT NULL") == "t" and redis_db.client().get("flagged") == "1"


def test_database_url_is_postgres_url_s_other_name(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), DATABASE_URL=pg.url)
    assert applied(result, "postgres", "V1"), result.stderr
    assert pg.sql("SELECT to_regclass('a') IS NOT NULL") == "t"


def test_libpq_s_variables_name_the_server_and_pgdatabase_the_database(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    server = pg.server
    result = run_dbinit("migrate", "--migrations", str(migrations.path), PGHOST="127.0.0.1", PGPORT=str(server.port),
                        PGUSER=server.user, PGPASSWORD=server.password, PGDATABASE=pg.dbname)
    assert applied(result, "postgres", "V1"), result.stderr
    assert pg.sql("SELECT to_regclass('a') IS NOT NULL") == "t"


def test_a_libpq_service_names_the_server_and_database(pg, migrations, tmp_path):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    services = tmp_path / "pg_service.conf"
    services.write_text(f"[shop]\nhost=127.0.0.1\nport={pg.server.port}\nuser={pg.server.user}\ndbname={pg.dbname}\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), PGSERVICE="shop",
                        PGSERVICEFILE=str(services), PGPASSWORD=pg.server.password)
    assert applied(result, "postgres", "V1"), result.stderr
    assert pg.sql("SELECT to_regclass('a') IS NOT NULL") == "t"


def test_neo4j_username_and_password_apart_and_the_database_named(neo4j_db, migrations):
    """NEO4J_DATABASE names the database every session uses (Community holds one standard database,
    so the name given is the server's only one: another existing database needs Enterprise)."""
    migrations.write("2025-01-01-001-a.cypher", "CREATE (:Named);\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), NEO4J_URI=neo4j_db.uri(),
                        NEO4J_USERNAME="neo4j", NEO4J_PASSWORD=neo4j_db.password, NEO4J_DATABASE="neo4j")
    assert applied(result, "neo4j", "2025-01-01-001"), result.stderr
    with neo4j_db.driver() as driver:
        assert driver.execute_query("MATCH (n:Named) RETURN count(n) AS n", database_="neo4j").records[0]["n"] == 1
    wrong = run_dbinit("migrate", "--migrations", str(migrations.path), NEO4J_URI=neo4j_db.uri(),
                       NEO4J_USERNAME="neo4j", NEO4J_PASSWORD="not-the-password")
    assert wrong.returncode == 77, wrong.stderr


def test_the_lock_timeout_flag_wins_over_the_variable(pg, migrations):
    migrations.write("V1-slow-up.sql", GATE)
    with pg.gate():
        holder = start_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
        pg.await_statement(GATE)
        result = run_dbinit("migrate", "--migrations", str(migrations.path), "--lock-timeout", "1",
                            POSTGRES_URL=pg.url, DBINIT_LOCK_TIMEOUT="600", timeout=60)
    assert result.returncode == 75, result.stderr  # after 1 s: with the variable's 600 s this would hang
    assert "held by dbinit " in result.stderr
    assert finish(holder)[0] == 0


def test_the_log_format_flag_wins_over_the_variable(redis_db):
    result = run_dbinit("wait", "--log-format", "json", REDIS_URL=redis_db.url(), DBINIT_LOG_FORMAT="text")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert any(line["source"] == "redis" and line["message"].startswith("ready after") for line in lines)


def test_the_out_of_order_flag_applies_a_file_older_than_the_newest_applied(pg, migrations):
    migrations.write("V2-b-up.sql", "CREATE TABLE b (id int);\n")
    assert run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url).returncode == 0
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")  # merged from a branch after V2 ran
    refused = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    assert refused.returncode == 65 and "--out-of-order" in refused.stderr, refused.stderr
    assert pg.sql("SELECT to_regclass('a') IS NULL") == "t"
    result = run_dbinit("migrate", "--out-of-order", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    assert applied(result, "postgres", "V1"), result.stderr


def test_wait_create_database_makes_the_missing_database_and_waits_for_it(postgres_server):
    name = unique("made_by_wait")
    try:
        result = run_dbinit("wait", "--create-database", POSTGRES_URL=postgres_server.url(dbname=name))
        assert result.returncode == 0, result.stderr
        assert postgres_server.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == "1"
    finally:
        postgres_server.psql(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture
def session_bouncer(make_server):
    """A PostgreSQL and a PgBouncer in session mode in front of it (a server connection per client)."""
    pg = make_server("postgres").start()
    pg.psql("CREATE DATABASE app")
    pool = make_server("pgbouncer", postgres=pg, pool_mode="session", pool_size=20).start()
    return SimpleNamespace(url=pool.url("app"), sql=lambda q: pg.psql(q, dbname="app"))


def test_racing_runners_behind_a_session_pooler_apply_each_file_once_under_the_session_lock(session_bouncer,
                                                                                            migrations):
    """DBINIT_PG_POOLER=session: the session advisory lock holds, since a client keeps its server
    connection; no lease row is made."""
    fleet = Fleet(migrations, postgres=session_bouncer)
    fleet.env["DBINIT_PG_POOLER"] = "session"
    fleet.write(20)
    results = [finish(p) for p in [fleet.start() for _ in range(5)]]
    assert [code for code, _ in results] == [0] * 5, [err[-1500:] for code, err in results if code]
    assert fleet.assert_consistent(complete=True) == {"postgres": 20}
    assert session_bouncer.sql("SELECT to_regclass('dbinit.dbinit_lock') IS NULL") == "t"
