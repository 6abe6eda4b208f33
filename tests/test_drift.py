"""Drift: a change made by hand since dbinit last recorded a schema is reported, naming each object
added, removed or changed, on every database; what is not a change of schema never is."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from conftest import ROOT, run_dbinit, unique
from targets import PostgresTarget

SETS = Path(__file__).parent / "schemas"


def drift_of(env: dict, migrations: Path, *extra: str) -> tuple[int, dict]:
    """`dbinit check --drift --format json`: its exit code and the schema part of its document."""
    result = run_dbinit("check", "--drift", "--format", "json", "--migrations", str(migrations), *extra, **env)
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, json.loads((ROOT / "dbinit" / "status.schema.json").read_text()))
    return result.returncode, document["databases"][next(iter(document["databases"]))]["schema"]


def changes(schema: dict) -> set[tuple[str, str, str]]:
    return {(c["kind"], c["name"], c["change"]) for c in schema["changes"]}


# ---------------------------------------------------------------- PostgreSQL: every kind of object

@pytest.fixture(scope="module")
def migrated_template(postgres_server, tmp_path_factory):
    """A database migrated with the every-kind set by dbinit (so its schema is recorded), to clone."""
    migrations = tmp_path_factory.mktemp("every") / "migrations"
    migrations.mkdir()
    (migrations / "V001-every-kind-up.sql").write_text((SETS / "every-kind.sql").read_text())
    template = unique("drift_template")
    postgres_server.psql(f"CREATE DATABASE {template}")
    result = run_dbinit("migrate", "--migrations", str(migrations),
                        POSTGRES_URL=postgres_server.url(dbname=template))
    assert result.returncode == 0, result.stderr
    yield migrations, template
    postgres_server.psql(f"DROP DATABASE {template} WITH (FORCE)")


@pytest.fixture
def recorded_pg(pg, migrated_template):
    """A fresh copy of the migrated database, its schema recorded; (target, migrations)."""
    migrations, template = migrated_template
    pg.server.psql(f"DROP DATABASE {pg.dbname}")
    pg.server.psql(f"CREATE DATABASE {pg.dbname} TEMPLATE {template}")
    return PostgresTarget(pg), migrations


HAND_CHANGES = {
    "index added": ("CREATE INDEX by_hand ON customers (created)", {("index", "public.by_hand", "added")}),
    "index dropped": ("DROP INDEX events_kind", {("index", "public.events_kind", "removed")}),
    "table added": ("CREATE TABLE by_hand (id int)", {("table", "public.by_hand", "added")}),
    "column added": ("ALTER TABLE scratch ADD COLUMN at timestamptz", {("table", "public.scratch", "changed")}),
    "default dropped": ("ALTER TABLE customers ALTER COLUMN mood DROP DEFAULT", {("table", "public.customers", "changed")}),
    "column type changed": ("ALTER TABLE scratch ALTER COLUMN k TYPE varchar(10)", {("table", "public.scratch", "changed")}),
    "row security off": ("ALTER TABLE billing.invoices DISABLE ROW LEVEL SECURITY",
                         {("table", "billing.invoices", "changed")}),
    "constraint dropped": ("ALTER TABLE customers DROP CONSTRAINT name_not_blank",
                           {("constraint", "public.customers.name_not_blank", "removed"),
                            ("comment", "table constraint name_not_blank on public.customers", "removed")}),
    "NOT VALID constraint validated": ("ALTER TABLE billing.invoices VALIDATE CONSTRAINT total_capped",
                                       {("constraint", "billing.invoices.total_capped", "changed")}),
    "foreign key dropped": ("ALTER TABLE billing.lines DROP CONSTRAINT lines_invoice",
                            {("foreign key", "billing.lines.lines_invoice", "removed")}),
    "function replaced": ("CREATE OR REPLACE FUNCTION customer_count() RETURNS bigint LANGUAGE sql STABLE AS "
                          "'SELECT 42::bigint'", {("function", "public.customer_count()", "changed")}),
    "procedure dropped": ("DROP PROCEDURE forget", {("function", "public.forget(IN who bigint)", "removed")}),
    "view replaced": ("CREATE OR REPLACE VIEW happy_customers AS SELECT id, name, mood FROM customers WHERE mood = 'ok' "
                      "WITH LOCAL CHECK OPTION", {("view", "public.happy_customers", "changed")}),
    "trigger disabled": ("ALTER TABLE customers DISABLE TRIGGER customers_touch",
                         {("trigger", "public.customers.customers_touch", "changed")}),
    "trigger added": ("CREATE TRIGGER by_hand BEFORE INSERT ON scratch FOR EACH ROW EXECUTE FUNCTION touch()",
                      {("trigger", "public.scratch.by_hand", "added")}),
    "sequence changed": ("ALTER SEQUENCE countdown INCREMENT BY -2", {("sequence", "public.countdown", "changed")}),
    "enum value added": ("ALTER TYPE mood ADD VALUE 'ecstatic'", {("type", "public.mood", "changed")}),
    "domain check added": ("ALTER DOMAIN positive_money ADD CONSTRAINT capped CHECK (VALUE < 10000000)",
                           {("type", "public.positive_money", "changed")}),
    "policy dropped": ("DROP POLICY no_big ON billing.invoices", {("policy", "billing.invoices.no_big", "removed")}),
    "comment changed": ("COMMENT ON TABLE customers IS 'changed by hand'",
                        {("comment", "table public.customers", "changed")}),
    "extension added": ("CREATE EXTENSION hstore", {("extension", "hstore", "added")}),
    "schema added": ("CREATE SCHEMA scratchpad", {("schema", "scratchpad", "added")}),
    "materialized view dropped": ("DROP MATERIALIZED VIEW billing.monthly",
                                  {("view", "billing.monthly", "removed"), ("index", "billing.monthly_month", "removed"),
                                   ("comment", "materialized view billing.monthly", "removed")}),
}


@pytest.mark.parametrize("case", HAND_CHANGES)
def test_a_change_by_hand_is_drift_naming_the_object(recorded_pg, case):
    target, migrations = recorded_pg
    statement, expected = HAND_CHANGES[case]
    assert drift_of(target.env, migrations)[1]["state"] == "as_recorded"
    target.by_hand(statement)
    code, schema = drift_of(target.env, migrations)
    assert (code, schema["state"]) == (4, "drifted")
    assert changes(schema) == expected


def test_a_partition_detached_by_hand_is_drift(recorded_pg):
    target, migrations = recorded_pg
    target.by_hand("ALTER TABLE events DETACH PARTITION events_rest")
    code, schema = drift_of(target.env, migrations)
    assert code == 4 and ("table", "public.events_rest", "changed") in changes(schema)


NOT_DRIFT = {
    "new rows": "INSERT INTO customers (email, name) VALUES ('a@example.com', 'Ada')",
    "a sequence moved on": "SELECT setval('countdown', -500), nextval('billing.invoice_numbers')",
    "vacuum and analyze": "VACUUM ANALYZE customers",
    "a materialized view refreshed": "REFRESH MATERIALIZED VIEW billing.monthly",
    "dbinit's own objects": "CREATE INDEX history_by_date ON dbinit.dbinit_schema_history (applied_at)",
    "a temporary table": "CREATE TEMPORARY TABLE t (id int)",
}


@pytest.mark.parametrize("case", NOT_DRIFT)
def test_what_is_not_a_change_of_schema_is_not_drift(recorded_pg, case):
    target, migrations = recorded_pg
    target.by_hand(NOT_DRIFT[case])
    code, schema = drift_of(target.env, migrations)
    assert (code, schema["state"], schema["changes"]) == (0, "as_recorded", [])


def test_a_pending_migration_is_not_drift(recorded_pg, tmp_path):
    target, migrations = recorded_pg
    later = tmp_path / "later"
    later.mkdir()
    for f in migrations.iterdir():
        (later / f.name).write_text(f.read_text())
    (later / "V002-more-up.sql").write_text("CREATE TABLE more (id int);\n")
    code, schema = drift_of(target.env, later)
    assert (code, schema["state"]) == (3, "as_recorded")  # pending, and the schema is as recorded


def test_an_index_still_building_is_not_drift(recorded_pg, pg):
    """CREATE INDEX CONCURRENTLY waiting for a writer: the index is in the catalog, not built yet."""
    target, migrations = recorded_pg
    psql = [str(pg.server.bindir / "psql"), "-h", str(pg.server.sockets), "-p", str(pg.server.port), "-U",
            "postgres", "-d", pg.dbname, "-XAtq", "-v", "ON_ERROR_STOP=1"]
    writer = subprocess.Popen(psql, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    writer.stdin.write("BEGIN;\nINSERT INTO scratch VALUES ('k', '{}');\nSELECT 'open';\n")
    writer.stdin.flush()
    assert writer.stdout.readline().strip() == "open"
    builder = subprocess.Popen([*psql, "-c", "CREATE INDEX CONCURRENTLY building ON scratch (k)"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            if pg.sql("SELECT count(*) FROM pg_stat_progress_create_index WHERE phase LIKE 'waiting for writers%'") == "1":
                break
            subprocess.run(["sleep", "0.05"])
        assert pg.sql("SELECT count(*) FROM pg_class WHERE relname = 'building'") == "1"
        code, schema = drift_of(target.env, migrations)
        assert (code, schema["state"]) == (0, "as_recorded")
    finally:
        writer.stdin.write("COMMIT;\n")
        writer.stdin.close()
        writer.wait(timeout=30)
        builder.wait(timeout=30)
    code, schema = drift_of(target.env, migrations)  # built, by hand: now it is drift
    assert code == 4 and changes(schema) == {("index", "public.building", "added")}


# ---------------------------------------------------------------- every database

# For each database: a migration that makes schema, changes by hand that are drift (the object they
# name), ones that are not, and how to make the record look written by another major version.
SCHEMAS = {
    "postgres": {
        "migration": "CREATE TABLE t (id int, name text);\nCREATE INDEX t_name ON t (name);\n",
        "drift": {"index added": ("CREATE INDEX by_hand ON t (id)", ("index", "public.by_hand", "added")),
                  "index dropped": ("DROP INDEX t_name", ("index", "public.t_name", "removed")),
                  "table changed": ("ALTER TABLE t ADD COLUMN c int", ("table", "public.t", "changed"))},
        "not drift": {"data": "INSERT INTO t VALUES (1, 'a')",
                      "dbinit's own": "UPDATE dbinit.dbinit_schema_history SET applied_by = 'someone else'"},
        "older server": "UPDATE dbinit.dbinit_schema_record SET description = replace(description, "
                        "'\"server\": \"PostgreSQL ', '\"server\": \"PostgreSQL 1')",
    },
    "neo4j": {
        "migration": "CREATE INDEX t_name FOR (t:T) ON (t.name);\nCREATE CONSTRAINT t_id FOR (t:T) REQUIRE t.id IS UNIQUE;\n",
        "drift": {"index added": ("CREATE INDEX by_hand FOR (t:T) ON (t.born)", ("index", "by_hand", "added")),
                  "index dropped": ("DROP INDEX t_name", ("index", "t_name", "removed")),
                  "constraint dropped": ("DROP CONSTRAINT t_id", ("constraint", "t_id", "removed")),
                  "constraint added": ("CREATE CONSTRAINT by_hand FOR (t:T) REQUIRE t.code IS UNIQUE",
                                       ("constraint", "by_hand", "added"))},
        "not drift": {"data": "CREATE (:T {id: 1, name: 'a'})",
                      "dbinit's own": "MATCH (m:__DbinitMigration) SET m.applied_by = 'someone else'"},
        "older server": "MATCH (s:__DbinitSchema) WHERE s.description IS NOT NULL "
                        "SET s.description = replace(s.description, '\"server\": \"Neo4j ', '\"server\": \"Neo4j 1')",
    },
    "redis": {
        "migration": 'FUNCTION LOAD "#!lua name=app\\nredis.register_function(\'one\', function() return 1 end)"\n',
        "drift": {"library added": ('FUNCTION LOAD "#!lua name=by_hand\\nredis.register_function(\'two\', function() '
                                    'return 2 end)"', ("function library", "by_hand", "added")),
                  "library replaced": ('FUNCTION LOAD REPLACE "#!lua name=app\\nredis.register_function(\'one\', '
                                       'function() return 11 end)"', ("function library", "app", "changed")),
                  "library deleted": ("FUNCTION DELETE app", ("function library", "app", "removed"))},
        "not drift": {"data": "SET some:key 1", "dbinit's own": "HSET dbinit:schema note someone-else"},
        "older server": None,  # set by _age_redis_record: a JSON field in a hash
    },
}


def _case(target, migrations) -> Path:
    migrations.write(target.name(1, "schema"), SCHEMAS[target.db]["migration"])
    result = run_dbinit("migrate", "--migrations", str(migrations.path), **target.env)
    assert result.returncode == 0, result.stderr
    return migrations.path


def _target(request, db: str):
    from targets import Neo4jTarget, RedisTarget

    return {"postgres": lambda: PostgresTarget(request.getfixturevalue("pg")),
            "neo4j": lambda: Neo4jTarget(request.getfixturevalue("neo4j_db")),
            "redis": lambda: RedisTarget(request.getfixturevalue("redis_db"))}[db]()


@pytest.mark.parametrize("db, case", [(db, case) for db, s in SCHEMAS.items() for case in s["drift"]])
def test_each_database_names_what_was_changed_by_hand(request, migrations, db, case):
    target = _target(request, db)
    path = _case(target, migrations)
    statement, expected = SCHEMAS[target.db]["drift"][case]
    target.by_hand(statement)
    code, schema = drift_of(target.env, path)
    assert (code, schema["state"], changes(schema)) == (4, "drifted", {expected})


@pytest.mark.parametrize("case", ["data", "dbinit's own"])
def test_on_each_database_data_and_dbinits_own_objects_are_not_drift(target, migrations, case):
    path = _case(target, migrations)
    target.by_hand(SCHEMAS[target.db]["not drift"][case])
    code, schema = drift_of(target.env, path)
    assert (code, schema["state"]) == (0, "as_recorded")


def test_on_each_database_a_pending_migration_is_not_drift(target, migrations):
    path = _case(target, migrations)
    migrations.write(target.name(2, "more"), SCHEMAS[target.db]["migration"].replace("t_name", "t_other")
                     .replace("name=app", "name=other").replace("CREATE TABLE t ", "CREATE TABLE t2 ")
                     .replace(" ON t ", " ON t2 ").replace("t_id", "t_other_id"))
    code, schema = drift_of(target.env, path)
    assert (code, schema["state"]) == (3, "as_recorded")


def _hand_change(target) -> tuple[str, str, str]:
    statement, expected = next(iter(SCHEMAS[target.db]["drift"].values()))
    target.by_hand(statement)
    return expected


def test_migrate_warns_of_drift_applies_and_keeps_reporting_it_until_accepted(target, migrations, tmp_path):
    path = _case(target, migrations)
    kind, name, change = _hand_change(target)
    migrations.write(target.name(2, "more"), target.counting(2))
    report = tmp_path / "report.json"
    result = run_dbinit("migrate", "--migrations", str(path), DBINIT_REPORT=str(report), **target.env)
    assert result.returncode == 0, result.stderr
    assert f"WARN {target.db}: the schema drifted from the one recorded" in result.stderr
    assert f"{kind} {name} {change}" in result.stderr and target.count(2) == 1
    document = json.loads(report.read_text())
    jsonschema.validate(document, json.loads((ROOT / "dbinit" / "report.schema.json").read_text()))
    assert document["databases"][target.db]["drift"]["changes"] == [{"kind": kind, "name": name, "change": change}]
    # The run recorded what it applied, and kept the change by hand as drift.
    code, schema = drift_of(target.env, path)
    assert (code, changes(schema)) == (4, {(kind, name, change)})
    assert schema["reason"] == f"migrate: {'2025-01-01-002' if target.db == 'neo4j' else 'V002'}"

    accepted = run_dbinit("accept", "--reason", "added during incident 42", "--by", "alice", "--migrations", str(path),
                          **target.env)
    assert accepted.returncode == 0, accepted.stderr
    code, schema = drift_of(target.env, path)
    assert (code, schema["state"], schema["recorded_by"], schema["reason"]) == (
        0, "as_recorded", "alice", "accepted: added during incident 42")


def test_with_drift_fail_migrate_applies_nothing(target, migrations):
    path = _case(target, migrations)
    kind, name, change = _hand_change(target)
    migrations.write(target.name(2, "more"), target.counting(2))
    history = target.history()
    result = run_dbinit("migrate", "--migrations", str(path), DBINIT_DRIFT="fail", **target.env)
    assert result.returncode == 4, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "ERROR" in last and f"{kind} {name} {change}" in last and "nothing was applied" in last
    assert target.count(2) == 0 and target.history() == history


def test_with_drift_off_migrate_neither_looks_nor_records(target, migrations):
    path = _case(target, migrations)
    _hand_change(target)
    _, before = drift_of(target.env, path)
    migrations.write(target.name(2, "more"), target.counting(2))
    result = run_dbinit("migrate", "--migrations", str(path), DBINIT_DRIFT="off", **target.env)
    assert result.returncode == 0 and "drift" not in result.stderr and target.count(2) == 1
    _, after = drift_of(target.env, path)
    assert (after["recorded_at"], after["reason"]) == (before["recorded_at"], before["reason"])  # no record made


def test_with_nothing_pending_migrate_never_reads_the_schema(target, migrations):
    path = _case(target, migrations)
    _hand_change(target)
    result = run_dbinit("migrate", "--migrations", str(path), DBINIT_DRIFT="fail", **target.env)
    assert result.returncode == 0, result.stderr
    assert "schema" not in result.stderr.replace(target.name(1, "schema"), "")


def _age_record(target) -> None:
    """The record as a server of another major version would have written it."""
    statement = SCHEMAS[target.db]["older server"]
    if statement is not None:
        target.by_hand(statement)
        return
    client = target.server.client()
    record = json.loads(client.hget("dbinit:schema", "record"))
    record["server"] = "Redis 1" + record["server"].split()[-1]
    client.hset("dbinit:schema", "record", json.dumps(record))


def test_a_record_by_another_major_version_cannot_be_compared_and_is_not_drift(target, migrations):
    path = _case(target, migrations)
    _hand_change(target)
    _age_record(target)
    result = run_dbinit("check", "--drift", "--migrations", str(path), **target.env)
    assert result.returncode == 0, result.stderr
    assert "cannot compare the schema with the one recorded" in result.stderr and "record again" in result.stderr
    code, schema = drift_of(target.env, path)
    assert (code, schema["state"], schema["changes"]) == (0, "cannot_compare", [])


def test_accept_says_why_it_is_refused(target, migrations):
    path = _case(target, migrations)
    result = run_dbinit("accept", "--reason", " ", "--migrations", str(path), **target.env)
    assert result.returncode == 64 and "--reason says why" in result.stderr
    result = run_dbinit("accept", "--reason", "x", "postgress", "--migrations", str(path), **target.env)
    assert result.returncode == 64 and "no database 'postgress'" in result.stderr


# ---------------------------------------------------------------- the run's other paths

def test_status_shows_each_schema_under_its_table(recorded_pg):
    target, migrations = recorded_pg
    target.by_hand("CREATE INDEX by_hand ON customers (created)")
    result = run_dbinit("status", "--migrations", str(migrations), **target.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith(
        "postgres schema: the schema drifted from the one recorded ") and "index public.by_hand added" in result.stdout


def test_a_rotated_placeholder_value_is_not_drift(pg, migrations):
    migrations.write("V001-greeting-up.sql", "CREATE TABLE t (id int);\nCOMMENT ON TABLE t IS 'made by ${owner}';\n")
    env = {"POSTGRES_URL": pg.url}
    assert run_dbinit("migrate", "--migrations", str(migrations.path), DBINIT_PLACEHOLDER_OWNER="a", **env).returncode == 0
    code, schema = drift_of(env, migrations.path, "--placeholder", "owner=b")
    assert (code, schema["state"]) == (0, "as_recorded")


def test_down_and_rollback_record_the_schema_they_leave(pg, migrations):
    migrations.write("V001-t-up.sql", "CREATE TABLE t (id int);\n")
    migrations.write("V002-u-up.sql", "CREATE TABLE u (id int);\n")
    migrations.write("V002-u-down.sql", "DROP TABLE u;\n")
    env = {"POSTGRES_URL": pg.url}
    assert run_dbinit("migrate", "--migrations", str(migrations.path), **env).returncode == 0
    assert run_dbinit("down", "--to", "V1", "--migrations", str(migrations.path), **env).returncode == 0
    code, schema = drift_of(env, migrations.path)
    assert (code, schema["state"], schema["reason"]) == (3, "as_recorded", "down: V002")
