"""`dbinit create`, `dbinit drop` and DBINIT_CREATE_DATABASE against real servers: a missing database
made on request only, a drop refused unless the database is named twice, and every refusal leaves
the server as it was."""
import itertools
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import run_dbinit, start_dbinit, unique

_names = itertools.count(1)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def missing(postgres_server):
    """The URL of a database the server has not got (dropped afterwards if a test made it)."""
    name = f"fresh_{os.getpid()}_{next(_names)}"
    yield name, postgres_server.url(dbname=name)
    postgres_server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def exists(server, name: str) -> bool:
    return server.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == "1"


def test_create_makes_a_missing_postgres_database_and_then_says_it_is_there(postgres_server, missing, migrations):
    name, url = missing
    first = run_dbinit("create", POSTGRES_URL=url)
    assert first.returncode == 0, first.stderr
    assert f"postgres: created the database {name}" in first.stderr
    assert exists(postgres_server, name)
    migrations.write("V001-t-up.sql", "CREATE TABLE t (id int);")
    assert run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=url).returncode == 0
    again = run_dbinit("create", POSTGRES_URL=url)
    assert again.returncode == 0, again.stderr
    assert "created" not in again.stderr and f"postgres: the database {name} is there" in again.stderr
    assert postgres_server.psql("SELECT count(*) FROM t", dbname=name) == "0"  # untouched


def test_migrate_refuses_a_missing_database_at_once_and_says_how_to_make_it(postgres_server, missing, migrations):
    name, url = missing
    migrations.write("V001-t-up.sql", "CREATE TABLE t (id int);")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=url, DBINIT_WAIT_TIMEOUT="30")
    assert result.returncode == 78, result.stderr
    assert f'database "{name}" does not exist' in result.stderr and "dbinit create" in result.stderr
    assert "SQLSTATE 3D000" in result.stderr
    assert not exists(postgres_server, name)


@pytest.mark.parametrize("how", [{"DBINIT_CREATE_DATABASE": "true"}, {"flag": "--create-database"}],
                         ids=["variable", "flag"])
def test_migrate_with_the_setting_makes_the_missing_database_then_applies(postgres_server, missing, migrations, how):
    name, url = missing
    migrations.write("V001-t-up.sql", "CREATE TABLE t (id int);")
    flags = [how.pop("flag")] if "flag" in how else []
    result = run_dbinit("migrate", *flags, "--migrations", str(migrations.path), POSTGRES_URL=url, **how)
    assert result.returncode == 0, result.stderr
    assert f"created the database {name}" in result.stderr and "applied V001 t" in result.stderr
    assert postgres_server.psql("SELECT count(*) FROM t", dbname=name) == "0"


def test_replicas_racing_to_make_the_same_database_all_succeed(postgres_server, missing, migrations):
    name, url = missing
    migrations.write("V001-t-up.sql", "CREATE TABLE t (id int);")
    procs = [start_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=url,
                          DBINIT_CREATE_DATABASE="true") for _ in range(5)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0] * 5, "\n".join(err for _, err in results)
    assert sum("applied V001" in err for _, err in results) == 1


def test_a_role_that_may_not_create_databases_is_77_and_nothing_is_made(postgres_server, missing):
    name, _ = missing
    role = unique("plain")
    postgres_server.psql(f"CREATE ROLE {role} LOGIN PASSWORD 'plain-pw-3Kd' NOCREATEDB")
    url = f"postgresql://{role}:plain-pw-3Kd@127.0.0.1:{postgres_server.port}/{name}"
    result = run_dbinit("create", POSTGRES_URL=url)
    assert result.returncode == 77, result.stderr
    assert f"may not create the database {name}" in result.stderr and "CREATEDB" in result.stderr
    assert not exists(postgres_server, name)


def test_a_role_that_does_not_own_the_database_may_not_drop_it_77_and_it_stays(postgres_server, missing):
    name, url = missing
    assert run_dbinit("create", POSTGRES_URL=url).returncode == 0
    role = unique("plain")
    postgres_server.psql(f"CREATE ROLE {role} LOGIN PASSWORD 'plain-pw-3Kd' NOCREATEDB")
    result = run_dbinit("drop", "postgres", "--confirm", name,
                        POSTGRES_URL=f"postgresql://{role}:plain-pw-3Kd@127.0.0.1:{postgres_server.port}/{name}")
    assert result.returncode == 77, result.stderr
    assert f"may not drop the database {name}" in result.stderr and "only its owner or a superuser may" in result.stderr
    assert "CREATEDB" not in result.stderr and exists(postgres_server, name)


def test_drop_needs_the_database_named_twice_and_leaves_it_otherwise(postgres_server, missing):
    name, url = missing
    assert run_dbinit("create", POSTGRES_URL=url).returncode == 0
    for confirm in ([], ["--confirm", "postgres"], ["--confirm", name.upper()]):
        result = run_dbinit("drop", "postgres", *confirm, POSTGRES_URL=url)
        assert result.returncode == 64, result.stderr
        assert exists(postgres_server, name)
    refused = run_dbinit("drop", "postgres", "--confirm", "postgres", POSTGRES_URL=url)
    assert f"--confirm 'postgres' is not the database postgres is set to ({name}); nothing was dropped" in refused.stderr
    dropped = run_dbinit("drop", "postgres", "--confirm", name, POSTGRES_URL=url)
    assert dropped.returncode == 0, dropped.stderr
    assert f"postgres: dropped the database {name}" in dropped.stderr and not exists(postgres_server, name)
    again = run_dbinit("drop", "postgres", "--confirm", name, POSTGRES_URL=url)
    assert again.returncode == 0 and f"there is no database {name}: nothing to drop" in again.stderr


def test_drop_refuses_a_database_in_use_and_leaves_it(postgres_server, missing):
    name, url = missing
    assert run_dbinit("create", POSTGRES_URL=url).returncode == 0
    app = subprocess.Popen([str(postgres_server.bindir / "psql"), url, "-c", "SELECT pg_sleep(30)"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        postgres_server.psql(f"SELECT 1 FROM pg_stat_activity WHERE datname = '{name}'")  # psql is connected
        for _ in range(100):
            if postgres_server.psql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}'") != "0":
                break
        result = run_dbinit("drop", "postgres", "--confirm", name, POSTGRES_URL=url)
        assert result.returncode == 1, result.stderr
        assert f"{name} is in use by other sessions; stop the application first" in result.stderr
        assert "nothing was dropped" in result.stderr and exists(postgres_server, name)
    finally:
        app.kill()
        app.wait()


def test_neo4j_community_cannot_create_or_drop_databases_and_says_so(neo4j_db):
    auth = {"NEO4J_URI": neo4j_db.uri(), "NEO4J_AUTH": f"neo4j/{neo4j_db.password}"}
    there = run_dbinit("create", **auth)
    assert there.returncode == 0, there.stderr
    assert "neo4j: the database neo4j is there" in there.stderr
    create = run_dbinit("create", NEO4J_DATABASE="appgraph", **auth)
    assert create.returncode == 78, create.stderr
    assert "this server cannot create databases (Neo.ClientError.Statement.UnsupportedAdministrationCommand): " \
           "Neo4j Community has one database, neo4j" in create.stderr
    drop = run_dbinit("drop", "neo4j", "--confirm", "neo4j", **auth)
    assert drop.returncode == 78, drop.stderr
    assert "this server cannot drop databases" in drop.stderr
    assert neo4j_db.driver().execute_query("RETURN 1 AS one").records[0]["one"] == 1  # still serving


def test_redis_has_nothing_to_create_or_drop(redis_db):
    create = run_dbinit("create", REDIS_URL=redis_db.url())
    assert create.returncode == 0 and "redis: nothing to create" in create.stderr
    redis_db.client().set("kept", "1")
    drop = run_dbinit("drop", "redis", "--confirm", "0", REDIS_URL=redis_db.url())
    assert drop.returncode == 64 and "Redis has no database dbinit can drop" in drop.stderr
    assert redis_db.client().get("kept") == "1"


def test_drop_of_a_database_that_is_not_configured_is_78():
    result = run_dbinit("drop", "postgres", "--confirm", "app")
    assert result.returncode == 78 and "postgres is not configured" in result.stderr


def test_the_run_report_of_create_is_valid_and_its_schema_knows_every_command(postgres_server, missing, tmp_path):
    import jsonschema

    from dbinit import cli

    schema = json.loads((ROOT / "dbinit" / "report.schema.json").read_text())
    assert set(schema["properties"]["command"]["enum"]) == set(cli.COMMANDS)
    report = tmp_path / "report.json"
    assert run_dbinit("create", POSTGRES_URL=missing[1], DBINIT_REPORT=str(report)).returncode == 0
    document = json.loads(report.read_text())
    jsonschema.validate(document, schema)
    assert document["command"] == "create" and document["exit_code"] == 0
