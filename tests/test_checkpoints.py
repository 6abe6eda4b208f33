"""Checkpoints: a database with no history gets the schema as of a version in one file, then only
the files after it, and ends with the schema every file gives; a database with history never runs
one. Each decision (status, down, rollback after a squash, out of order, repeatable and post-deploy
files, placeholders, the integrity file, baseline, --to) has its test, on real servers."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import failure_modes
from conftest import run_dbinit, write_files

SET = {
    "V001-users-up.sql": "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);\n"
                         "INSERT INTO users (name) VALUES ('seeded by a file');\n",
    "V001-users-down.sql": "DROP TABLE users;\n",
    "V002-orders-up.sql": "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\n"
                          "CREATE INDEX orders_user ON orders (user_id);\n",
    "V002-orders-down.sql": "DROP TABLE orders;\n",
    "V003-legacy-up.sql": "ALTER TABLE users ADD COLUMN legacy text;\n",
    "V004-drop-legacy-up.sql": "-- dbinit: post-deploy\nALTER TABLE users DROP COLUMN legacy;\n",
    "V005-status-up.sql": "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';\n",
    "V005-status-down.sql": "ALTER TABLE orders DROP COLUMN status;\n",
    "R-order-totals.sql": "CREATE OR REPLACE VIEW order_totals AS SELECT user_id, count(*) AS n FROM orders "
                          "GROUP BY user_id;\n",
}


def dbinit(*args: str, **env: str):
    return run_dbinit(*args, DBINIT_LINT="off", **env)


def written(tmp_path: Path, files: dict[str, str]) -> Path:
    return write_files(tmp_path / "migrations", files)


def schema_of(env: dict, directory: Path) -> str:
    result = run_dbinit("schema", "--dir", str(directory), DBINIT_ALLOW_EMPTY="true", **env)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.split()[0]).read_text(encoding="utf-8")


def statuses(env: dict, migrations: Path) -> dict[str, str]:
    result = dbinit("status", "--format", "json", "--migrations", str(migrations), **env)
    assert result.returncode == 0, result.stderr
    return {m["version"]: m["status"] for db in json.loads(result.stdout)["databases"].values()
            for m in db["migrations"]}


def digest(env: dict, migrations: Path) -> str:
    result = dbinit("status", "--format", "json", "--migrations", str(migrations), **env)
    assert result.returncode == 0, result.stderr
    (db,) = json.loads(result.stdout)["databases"].values()
    return db["schema"]["digest"]


@pytest.fixture
def other_pg(pg):
    """A second empty database on the same server."""
    name = f"{pg.dbname}_other"
    pg.server.psql(f"CREATE DATABASE {name}")
    yield pg.server.url(dbname=name)
    pg.server.psql(f"DROP DATABASE {name} WITH (FORCE)")


def test_a_new_database_from_the_checkpoint_and_later_files_is_the_one_every_file_makes(pg, other_pg, tmp_path):
    migrations = written(tmp_path, SET)
    made = dbinit("checkpoint", "--to", "V004", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert made.returncode == 0, made.stderr
    checkpoint = migrations / "V004-schema-checkpoint.sql"
    assert made.stdout.split() == [str(checkpoint)]
    assert "making the scratch database dbinit_checkpoint_" in made.stderr
    assert "dbinit_checkpoint_" not in pg.server.psql("SELECT string_agg(datname, ',') FROM pg_database")  # dropped
    assert pg.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"  # the configured one untouched

    every = dbinit("migrate", "--migrations", str(migrations), POSTGRES_URL=other_pg, DBINIT_CHECKPOINTS="ignore")
    assert every.returncode == 0, every.stderr
    fresh = dbinit("migrate", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert fresh.returncode == 0, fresh.stderr
    assert "applied V004 schema (checkpoint: the schema as of V004, in place of 4 file(s))" in fresh.stderr
    assert "applied V001" not in fresh.stderr and "applied V005 status" in fresh.stderr
    assert "applied R-order-totals" in fresh.stderr  # repeatable files run after the checkpoint

    assert schema_of({"POSTGRES_URL": pg.url}, tmp_path / "a") == schema_of({"POSTGRES_URL": other_pg}, tmp_path / "b")
    assert digest({"POSTGRES_URL": pg.url}, migrations) == digest({"POSTGRES_URL": other_pg}, migrations)
    assert statuses({"POSTGRES_URL": pg.url}, migrations) == {
        "V001": "Checkpoint", "V002": "Checkpoint", "V003": "Checkpoint", "V004": "Checkpoint", "V005": "Applied",
        "R-order-totals": "Applied"}
    assert set(statuses({"POSTGRES_URL": other_pg}, migrations).values()) == {"Applied"}
    # The checkpoint's record, and one for each file it stands for: made by it, not run.
    assert pg.sql("SELECT string_agg(version || ':' || script || ':' || baselined, ',' ORDER BY version) "
                  "FROM dbinit.dbinit_schema_history") == (
        "1:V004-schema-checkpoint.sql:true,2:V004-schema-checkpoint.sql:true,3:V004-schema-checkpoint.sql:true,"
        "4:V004-schema-checkpoint.sql:false,5:V005-status-up.sql:false,R-order-totals:R-order-totals.sql:false")
    # Data a file wrote is not schema: the checkpoint has none of it.
    assert pg.sql("SELECT count(*) FROM users") == "0"

    again = dbinit("migrate", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert again.returncode == 0 and "up to date: 0 applied, 6 already applied" in again.stderr, again.stderr
    assert dbinit("check", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0


def test_checkpoint_check_passes_while_the_files_make_it_and_names_the_line_once_they_do_not(pg, tmp_path):
    migrations = written(tmp_path, SET)
    assert dbinit("checkpoint", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    checkpoint = migrations / "V005-schema-checkpoint.sql"
    # Versions only: repeatable files run after a checkpoint, on every database, and are not in it.
    assert "CREATE TABLE public.orders" in checkpoint.read_text() and "order_totals" not in checkpoint.read_text()
    ok = dbinit("checkpoint", "--check", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert ok.returncode == 0, ok.stderr
    assert f"{checkpoint} is what the files up to V005 make" in ok.stderr

    (migrations / "V002-orders-up.sql").write_text(SET["V002-orders-up.sql"] + "CREATE TABLE audit (id int);\n")
    changed = dbinit("checkpoint", "--check", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert changed.returncode == 65, changed.stderr
    assert "V005-schema-checkpoint.sql" in changed.stderr and "CREATE TABLE public.audit" in changed.stderr
    assert "write it again with dbinit checkpoint" in changed.stderr


def test_a_database_with_history_never_runs_a_checkpoint_that_appears_later(pg, tmp_path):
    early = {k: v for k, v in SET.items() if k.startswith(("V001", "V002"))}
    migrations = written(tmp_path, early)
    assert dbinit("migrate", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    written(tmp_path, SET)
    assert dbinit("checkpoint", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    later = dbinit("migrate", "--post-deploy", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert later.returncode == 0, later.stderr
    assert "checkpoint" not in later.stderr and "applied V003 legacy" in later.stderr
    assert pg.sql("SELECT count(*) FROM dbinit.dbinit_schema_history WHERE script LIKE '%checkpoint%'") == "0"
    assert pg.sql("SELECT count(*) FROM users") == "1"  # its files ran, the seeded row with them


def test_down_is_refused_below_a_checkpoint_and_reverts_above_it(pg, tmp_path):
    migrations = written(tmp_path, SET)
    assert dbinit("checkpoint", "--to", "V002", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    assert dbinit("migrate", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    before = pg.sql("SELECT string_agg(version, ',' ORDER BY version) FROM dbinit.dbinit_schema_history")

    refused = dbinit("down", "--to", "V001", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert refused.returncode == 65, refused.stderr
    assert "came from the checkpoint V002-schema-checkpoint.sql" in refused.stderr
    assert "Nothing was reverted" in refused.stderr
    assert pg.sql("SELECT string_agg(version, ',' ORDER BY version) FROM dbinit.dbinit_schema_history") == before
    assert pg.sql("SELECT to_regclass('public.orders') IS NOT NULL") == "t"

    above = dbinit("down", "--to", "V004", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert above.returncode == 0, above.stderr
    assert pg.sql("SELECT count(*) FROM information_schema.columns "
                  "WHERE table_name = 'orders' AND column_name = 'status'") == "0"


def test_files_squashed_into_a_checkpoint_are_neither_missing_nor_rolled_back(pg, tmp_path):
    """A database migrated file by file, then the files up to a checkpoint deleted: nothing is
    missing, migrate warns of nothing, and rollback reverts none of them."""
    migrations = written(tmp_path, SET)
    assert dbinit("migrate", "--post-deploy", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    assert dbinit("checkpoint", "--to", "V004", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    for name in SET:
        if name.startswith(("V001", "V002", "V003", "V004")):
            (migrations / name).unlink()
    assert set(statuses({"POSTGRES_URL": pg.url}, migrations).values()) == {"Applied"}
    quiet = dbinit("migrate", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert quiet.returncode == 0 and "missing" not in quiet.stderr, quiet.stderr
    rollback = dbinit("rollback", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert rollback.returncode == 0, rollback.stderr
    assert pg.sql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "6"


def test_a_file_added_below_the_checkpoint_later_is_out_of_order(pg, tmp_path):
    migrations = written(tmp_path, {k: v for k, v in SET.items() if not k.startswith(("V003", "V004"))})
    assert dbinit("checkpoint", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    assert dbinit("migrate", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    written(tmp_path, {"V003-legacy-up.sql": SET["V003-legacy-up.sql"]})
    refused = dbinit("migrate", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert refused.returncode == 65 and "V003 is pending but older than the newest applied" in refused.stderr
    allowed = dbinit("migrate", "--out-of-order", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert allowed.returncode == 0 and "applied V003 legacy" in allowed.stderr, allowed.stderr


def test_migrate_to_a_version_below_the_newest_checkpoint_starts_from_an_older_one_or_the_files(pg, tmp_path):
    migrations = written(tmp_path, SET)
    for version in ("V002", "V005"):
        assert dbinit("checkpoint", "--to", version, "--migrations", str(migrations),
                      POSTGRES_URL=pg.url).returncode == 0
    dry = dbinit("migrate", "--dry-run", "--to", "V003", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert dry.returncode == 0, dry.stderr
    assert "would apply V002 schema (checkpoint: the schema as of V002, in place of 2 file(s))" in dry.stderr
    assert "would apply V003 legacy" in dry.stderr and "V005" not in dry.stderr
    newest = dbinit("migrate", "--dry-run", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert "would apply V005 schema (checkpoint" in newest.stderr and "V002 schema" not in newest.stderr


def test_the_checkpoint_is_in_the_integrity_file_and_an_edit_of_it_is_refused(pg, tmp_path):
    migrations = written(tmp_path, SET)
    assert dbinit("hash", "--migrations", str(migrations)).returncode == 0
    assert dbinit("checkpoint", "--to", "V004", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    assert "V004-schema-checkpoint.sql " in (migrations / "dbinit.sum").read_text()  # kept current, as new does
    checkpoint = migrations / "V004-schema-checkpoint.sql"
    checkpoint.write_text(checkpoint.read_text() + "CREATE TABLE sneaked (id int);\n")
    refused = dbinit("migrate", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert refused.returncode == 65 and "V004-schema-checkpoint.sql" in refused.stderr, refused.stderr
    assert pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NULL") == "t"


def test_a_checkpoint_would_hold_a_secret_placeholder_value_so_none_is_written(pg, tmp_path):
    migrations = written(tmp_path, {"V001-t-up.sql": "CREATE TABLE t (api text DEFAULT '${api_key}');\n"})
    refused = dbinit("checkpoint", "--migrations", str(migrations), POSTGRES_URL=pg.url,
                     DBINIT_PLACEHOLDER_API_KEY="s3cr3t-value-42")
    assert refused.returncode == 78, refused.stderr
    assert "holds the value of ${api_key}, which is a secret" in refused.stderr
    assert "s3cr3t-value-42" not in refused.stderr
    assert not list(migrations.glob("*checkpoint*"))


def test_baseline_on_a_database_a_checkpoint_made_records_only_what_it_did_not_cover(pg, tmp_path):
    migrations = written(tmp_path, {k: v for k, v in SET.items() if not k.startswith(("V005", "R-"))})
    assert dbinit("checkpoint", "--to", "V003", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    assert dbinit("migrate", "--to", "V003", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    written(tmp_path, {"V005-status-up.sql": SET["V005-status-up.sql"]})
    done = dbinit("baseline", "--to", "V005", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert done.returncode == 0, done.stderr
    assert "baselined V004" in done.stderr and "baselined V005" in done.stderr and "baselined V001" not in done.stderr
    assert statuses({"POSTGRES_URL": pg.url}, migrations) == {
        "V001": "Checkpoint", "V002": "Checkpoint", "V003": "Checkpoint", "V004": "Baselined", "V005": "Baselined"}


@pytest.mark.parametrize("name, text, says", [
    ("V002-again-checkpoint.sql", "SELECT 1;\n", "duplicate checkpoint V002: also V002-again-checkpoint.sql"),
    ("V003-later-checkpoint.sql", "-- dbinit: post-deploy\nSELECT 1;\n", "a checkpoint cannot be post-deploy"),
    ("V004-broken-checkpoint.sql", "CREATE TABLE (;\n", "V004-broken-checkpoint.sql"),
])
def test_bad_checkpoint_files_are_refused_before_anything_runs(pg, tmp_path, name, text, says):
    migrations = written(tmp_path, {**SET, "V002-schema-checkpoint.sql": "SELECT 1;\n", name: text})
    refused = dbinit("migrate", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert refused.returncode == 65, refused.stderr
    assert says in refused.stderr
    assert pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NULL") == "t"


def test_checkpoint_to_a_version_no_file_has_is_a_usage_error(pg, tmp_path):
    migrations = written(tmp_path, SET)
    refused = dbinit("checkpoint", "--to", "V009", "--migrations", str(migrations), POSTGRES_URL=pg.url)
    assert refused.returncode == 64 and "postgres has no migration V9 among the files (the newest is V005)" \
        in refused.stderr, refused.stderr
    assert not list(migrations.glob("*checkpoint*"))


NEO4J_SET = {
    "2025-01-10-001-people.cypher": "CREATE CONSTRAINT person_id FOR (p:Person) REQUIRE p.id IS UNIQUE;\n"
                                    "CREATE (:Person {id: 1, name: 'seeded'});\n",
    "2025-01-10-002-names.cypher": "CREATE INDEX person_name FOR (p:Person) ON (p.name);\n",
    "2025-01-11-001-drop-names.cypher": "DROP INDEX person_name;\nCREATE TEXT INDEX person_name_text FOR (p:Person) "
                                        "ON (p.name);\n",
    "2025-01-12-001-orders.cypher": "CREATE CONSTRAINT order_id FOR (o:Order) REQUIRE o.id IS UNIQUE;\n",
}


def test_neo4j_from_the_checkpoint_and_later_files_is_the_graph_schema_every_file_makes(neo4j_db, tmp_path):
    env = {"NEO4J_URI": neo4j_db.uri(), "NEO4J_AUTH": f"neo4j/{neo4j_db.password}"}
    migrations = written(tmp_path, NEO4J_SET)
    made = dbinit("checkpoint", "--to", "2025-01-11-001", "--migrations", str(migrations), **env)
    assert made.returncode == 0, made.stderr
    checkpoint = migrations / "2025-01-11-001-schema.checkpoint.cypher"
    assert made.stdout.split() == [str(checkpoint)]
    assert "person_name_text" in checkpoint.read_text() and "person_name`" not in checkpoint.read_text()

    # Community has one database: the scratch one it ran in is the configured one, and now has a history.
    twice = dbinit("checkpoint", "--migrations", str(migrations), **env)
    failure_modes.check(twice, "a checkpoint of a database whose only database is not empty", "neo4j")

    neo4j_db.reset()
    every = dbinit("migrate", "--migrations", str(migrations), DBINIT_CHECKPOINTS="ignore", **env)
    assert every.returncode == 0, every.stderr
    from_files = schema_of(env, tmp_path / "a")
    neo4j_db.reset()
    fresh = dbinit("migrate", "--migrations", str(migrations), **env)
    assert fresh.returncode == 0, fresh.stderr
    assert "applied 2025-01-11-001 schema (checkpoint" in fresh.stderr
    assert "applied 2025-01-12-001 orders" in fresh.stderr
    assert schema_of(env, tmp_path / "b") == from_files
    assert statuses(env, migrations) == {"2025-01-10-001": "Checkpoint", "2025-01-10-002": "Checkpoint",
                                         "2025-01-11-001": "Checkpoint", "2025-01-12-001": "Applied"}
    down = dbinit("down", "--to", "2025-01-10-001", "--migrations", str(migrations), **env)
    assert down.returncode == 65 and "came from the checkpoint 2025-01-11-001-schema.checkpoint.cypher" in down.stderr
    assert statuses(env, migrations)["2025-01-11-001"] == "Checkpoint"  # nothing reverted
    check = dbinit("checkpoint", "--check", "--migrations", str(migrations), **env)
    assert check.returncode == 78  # it too needs an empty database to make the schema in


def test_redis_files_have_no_checkpoint_and_run_as_ever(pg, redis_db, tmp_path):
    migrations = written(tmp_path, {"V001-users-up.sql": SET["V001-users-up.sql"],
                                    "V001-flag.redis": "SET feature:new on\n"})
    made = dbinit("checkpoint", "--migrations", str(migrations), POSTGRES_URL=pg.url, REDIS_URL=redis_db.url())
    assert made.returncode == 0, made.stderr
    assert "redis: has no checkpoints: its files write data, which a schema cannot hold" in made.stderr
    assert [Path(p).name for p in made.stdout.split()] == ["V001-schema-checkpoint.sql"]
    assert redis_db.client().get("feature:new") is None  # nothing ran on Redis


def test_copying_a_checkpoint_beside_other_files_keeps_every_name_valid(tmp_path):
    """validate reads a checkpoint as it reads any file: its statements by the real parser."""
    migrations = written(tmp_path, SET)
    shutil.copy(migrations / "V002-orders-up.sql", migrations / "V002-orders-checkpoint.sql")
    ok = dbinit("validate", "--migrations", str(migrations))
    assert ok.returncode == 0, ok.stderr


def test_the_lint_leaves_a_checkpoint_alone_and_reads_the_files_after_it(pg, tmp_path):
    """A checkpoint runs only on a database with no history: no table is in use, so an index built
    without CONCURRENTLY there (on a table the baseline script made, say) is no finding; the same
    statement in a later file still is."""
    migrations = written(tmp_path, {"V001-t-up.sql": "CREATE TABLE t (id int);\n",
                                    "V001-schema-checkpoint.sql": "CREATE INDEX t_id ON public.t (id);\n",
                                    "V002-i-up.sql": "CREATE INDEX t_id2 ON t (id);\n"})
    said = run_dbinit("validate", "--migrations", str(migrations))
    assert said.returncode == 0, said.stderr
    assert "V002-i-up.sql:1: require-concurrent-index-creation" in said.stderr
    assert "checkpoint.sql:1: require-concurrent-index-creation" not in said.stderr


def test_a_checkpoint_among_a_fleet_s_tenants_files_is_refused(pg, tmp_path):
    """A checkpoint names the schema it was made in: a tenant schema's would be another's."""
    shared = written(tmp_path, {"V001-registry-up.sql": "CREATE TABLE registry (name text);\n"})
    tenant_files = tmp_path / "tenant-migrations"
    tenant_files.mkdir()
    (tenant_files / "V001-items-up.sql").write_text("CREATE TABLE items (id int);\n")
    (tenant_files / "V001-schema-checkpoint.sql").write_text("CREATE TABLE public.items (id int);\n")
    refused = dbinit("migrate", "--migrations", str(shared), POSTGRES_URL=pg.url, DBINIT_TENANTS="acme,globex")
    assert refused.returncode == 65, refused.stderr
    assert "V001-schema-checkpoint.sql: a checkpoint among a fleet's tenants' files" in refused.stderr
    assert pg.sql("SELECT count(*) FROM pg_namespace WHERE nspname IN ('acme', 'globex', 'dbinit_acme')") == "0"
