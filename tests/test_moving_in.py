"""Moving in from golang-migrate, dbmate and Flyway, on real projects' sets and with the peers
themselves (installed by bench/peers.sh, as the benchmarks run them): `dbinit import` converts the
folder with no hand edit, a database the peer migrated is refused until `baseline --from` adopts
it, a new migration then applies alone, and a database dbinit builds from the imported files has
the schema the peer built (pg_dump --schema-only, history tables aside)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

import failure_modes
from conftest import ROOT, run_dbinit
from test_postgres_inputs import pg_dump

REALSETS = Path(__file__).parent / "realsets"
PEERS = ROOT / ".tools" / "peers" / "bin"
JVM = ROOT / "bench" / "peers" / "target"


def peer(*command: str, **env: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert done.returncode == 0, done.stdout + done.stderr


def golang_migrate(pg, folder: Path) -> None:
    peer(str(PEERS / "migrate"), "-path", str(folder), "-database", pg.url + "?sslmode=disable", "up")


def dbmate(pg, folder: Path) -> None:
    peer(str(PEERS / "dbmate"), "--no-dump-schema", "--url", pg.url + "?sslmode=disable", "-d", str(folder), "up")


def flyway(pg, folder: Path) -> None:
    # Flyway's own lock holds a transaction that CREATE INDEX CONCURRENTLY would wait for forever.
    peer("java", "-cp", f"{JVM / 'peers-1.jar'}:{JVM / 'lib'}/*", "peers.FlywayMigrate",
         f"jdbc:postgresql://127.0.0.1:{pg.server.port}/{pg.dbname}", "postgres", pg.server.password, str(folder),
         FLYWAY_POSTGRESQL_TRANSACTIONAL_LOCK="false")


def realset(name: str, into: Path) -> Path:
    """A copy of a real project's folder, its migration files only."""
    into.mkdir(parents=True)
    for path in (REALSETS / name).glob("*.sql"):
        shutil.copy(path, into / path.name)
    return into


def schema_of(pg, *history: str) -> str:
    """pg_dump's schema of the database without the tools' own history tables and dbinit's schema."""
    excluded = [f"--exclude-table={t}" for t in history] + ["--exclude-schema=dbinit"]
    dump = pg_dump(pg.server, pg.dbname, "--schema-only", "--no-owner", *excluded)
    return re.sub(r"^\\(un)?restrict \S+$", "", dump, flags=re.MULTILINE)  # a random key in each dump


def built_by_dbinit(pg, folder: Path) -> str:
    """The schema dbinit builds from `folder` in a new database beside `pg`."""
    server, name = pg.server, pg.dbname + "_dbinit"
    built = type("Db", (), {"server": server, "dbname": name, "url": server.url(dbname=name)})
    server.psql(f"CREATE DATABASE {name}")
    try:
        fresh = dbinit(built, folder, "migrate")
        assert fresh.returncode == 0, fresh.stderr
        return schema_of(built)
    finally:
        server.psql(f"DROP DATABASE {name} WITH (FORCE)")


def dbinit(pg, folder: Path, *args: str, **env: str):
    return run_dbinit(*args, "--migrations", str(folder), POSTGRES_URL=pg.url, DBINIT_LINT="off", **env)


def adopt_and_extend(pg, folder: Path, tool: str, versions: int, table: str, next_version: str) -> None:
    """The peer's database: refused by migrate and check, naming the command, with nothing run;
    adopted by baseline --from (status tells baselined from applied); then a new file applies alone."""
    for command in ("migrate", "check"):
        refused = dbinit(pg, folder, command)
        assert refused.returncode == 78, refused.stderr
        assert f"dbinit baseline --from {tool}" in refused.stderr and table in refused.stderr
        assert "Nothing was run" in refused.stderr
    assert pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NULL") == "t"
    unadopted = dbinit(pg, folder, "status")  # every file Pending, and why they are not
    assert unadopted.returncode == 0 and "WARN postgres: public." \
        in unadopted.stderr and f"dbinit baseline --from {tool}" in unadopted.stderr, unadopted.stderr
    adopted = dbinit(pg, folder, "baseline", "--from", tool)
    assert adopted.returncode == 0, adopted.stderr
    assert adopted.stderr.count("postgres: baselined ") == versions
    assert "checksum differs" not in adopted.stderr  # Flyway's checksums: each file is the one Flyway ran
    status = dbinit(pg, folder, "status")
    assert status.stdout.count("| Baselined |") == versions and "| Pending " not in status.stdout, status.stdout
    made = dbinit(pg, folder, "new", "postgres", "add widgets")
    assert made.returncode == 0, made.stderr
    up = Path(made.stdout.split()[0])
    assert re.fullmatch(rf"V{next_version}\d*-add-widgets-up\.sql", up.name), up.name
    up.write_text("CREATE TABLE widgets (id bigint PRIMARY KEY);\n")
    applied = dbinit(pg, folder, "migrate")
    assert applied.returncode == 0, applied.stderr
    assert f"up to date: 1 applied, {versions} already applied" in applied.stderr
    assert pg.sql("SELECT to_regclass('widgets') IS NOT NULL") == "t"


def test_a_golang_migrate_project_of_115_versions_moves_in_without_a_hand_edit(pg, tmp_path):
    peer_folder = realset("firefly", tmp_path / "peer")
    golang_migrate(pg, peer_folder)
    folder = realset("firefly", tmp_path / "migrations")
    imported = run_dbinit("import", "golang-migrate", "--migrations", str(folder))
    assert imported.returncode == 0, imported.stderr
    assert not list(folder.glob("*.up.sql")), "the golang-migrate files stay beside dbinit's"
    assert len(list(folder.glob("V*-up.sql"))) == 115
    assert "000001_create_messages_table.up.sql -> V000001-create-messages-table-up.sql" in imported.stdout
    # Two down files of the project do not parse; import says so rather than guessing.
    assert re.search(r"000042_rename_tokenaccount_to_tokenbalance.down.sql: does not parse", imported.stdout)
    assert re.search(r"000070_add_subscriptions_filters.down.sql: does not parse", imported.stdout)

    assert built_by_dbinit(pg, folder) == schema_of(pg, "public.schema_migrations")
    adopt_and_extend(pg, folder, "golang-migrate", 115, "schema_migrations", "000118")


def test_a_flyway_project_with_a_dotted_version_moves_in_renumbered(pg, tmp_path):
    peer_folder = realset("conductor", tmp_path / "peer")
    flyway(pg, peer_folder)
    folder = tmp_path / "migrations"
    imported = run_dbinit("import", "flyway", str(peer_folder), "--migrations", str(folder))
    assert imported.returncode == 0, imported.stderr
    names = sorted(p.name for p in folder.iterdir())
    assert names[12] == "V013-workflow-index-columns-up.sql" and len(names) == 18, names
    assert (folder / names[12]).read_text().startswith("-- Flyway version 13.1 (V13.1__workflow_index_columns.sql)")
    assert (folder / "V009-indexing-index-fix-up.sql").read_text().startswith("-- dbinit: no-transaction\n-- Flyway")
    assert sorted(p.name for p in peer_folder.iterdir()) == sorted(p.name for p in (REALSETS / "conductor").glob("*.sql"))

    assert built_by_dbinit(pg, folder) == schema_of(pg, "public.flyway_schema_history")
    adopt_and_extend(pg, folder, "flyway", 18, "flyway_schema_history", "019")


def test_a_dbmate_project_moves_in_from_its_own_folder_and_env_file(pg, tmp_path):
    """dbmate's folder (db/migrations) and the project's .env as they are, but for the server's URL."""
    project = tmp_path / "project"
    shutil.copytree(REALSETS / "haskell-boilerplate" / "db", project / "db")
    env_file = (REALSETS / "haskell-boilerplate" / ".env.default").read_text()
    env_file = re.sub(r"DATABASE_URL=\S+", f"DATABASE_URL={pg.url}", env_file)  # its password the one here too
    (project / ".env").write_text(re.sub(r"POSTGRES_PASSWORD=\S+", f"POSTGRES_PASSWORD={pg.server.password}", env_file))
    dbmate(pg, project / "db" / "migrations")
    imported = run_dbinit("import", "dbmate", cwd=project)
    assert imported.returncode == 0, imported.stderr
    folder = project / "migrations"
    assert sorted(p.name for p in folder.iterdir()) == [
        "V20200104122356-create-trigger-down.sql", "V20200104122356-create-trigger-up.sql",
        "V20200112080004-create-users-down.sql", "V20200112080004-create-users-up.sql"]
    assert (folder / "V20200112080004-create-users-down.sql").read_text() == "drop table users;\n"
    assert "db/migrations is left as it was" in imported.stdout

    assert built_by_dbinit(pg, folder) == schema_of(pg, "public.schema_migrations")
    refused = run_dbinit("migrate", cwd=project)  # DATABASE_URL from the project's .env, as dbmate reads it
    assert refused.returncode == 78 and "dbinit baseline --from dbmate" in refused.stderr, refused.stderr
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    adopt_and_extend(pg, folder, "dbmate", 2, "schema_migrations", stamp[:10])


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


THREE = {f"V00{i}-step-{i}-up.sql": f"CREATE TABLE t{i} (id int);\n" for i in (1, 2, 3)}


def history(pg) -> list[str]:
    rows = pg.sql("SELECT version || ' ' || baselined FROM dbinit.dbinit_schema_history ORDER BY version::int")
    return rows.split("\n") if rows else []


def test_baseline_takes_its_target_as_down_does_and_the_old_form_still_works_with_a_notice(pg, tmp_path):
    folder = write(tmp_path / "migrations", THREE)
    new_form = dbinit(pg, folder, "baseline", "--to", "postgres=V1")
    assert new_form.returncode == 0, new_form.stderr
    assert "old form" not in new_form.stderr
    bare = dbinit(pg, folder, "baseline", "--to", "V2")  # a bare version, for the database whose versions fit
    assert bare.returncode == 0, bare.stderr
    old_form = dbinit(pg, folder, "baseline", "postgres", "--to", "V3")
    assert old_form.returncode == 0, old_form.stderr
    assert "`baseline postgres --to VERSION` is the old form: dbinit baseline --to postgres=VERSION" in old_form.stderr
    assert history(pg) == ["1 true", "2 true", "3 true"]
    status = dbinit(pg, folder, "status", "--format", "json")
    assert {m["status"] for m in json.loads(status.stdout)["databases"]["postgres"]["migrations"]} == {"Baselined"}


@pytest.mark.parametrize("args, code, says", [
    (["--from", "golang-migrate", "--to", "V1"], 64, "leave out --to"),
    ([], 64, "give --to [DATABASE=]VERSION, or --from TOOL"),
    (["--from", "liquibase"], 64, "invalid choice: 'liquibase'"),
    (["--from", "golang-migrate"], 78, "there is no golang-migrate history in this database"),
    (["--to", "neo4j=2025-01-15-001"], 64, "'neo4j' is not one of postgres"),
])
def test_baseline_refuses_what_it_cannot_do_and_records_nothing(pg, tmp_path, args, code, says):
    folder = write(tmp_path / "migrations", THREE)
    refused = dbinit(pg, folder, "baseline", *args)
    assert refused.returncode == code and says in refused.stderr, refused.stderr
    assert pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NULL") == "t"


GOLANG_MIGRATE_TABLE = "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);"


@pytest.mark.parametrize("row, code, recorded, says", [
    ("(2, false)", 0, ["1 true", "2 true"], "golang-migrate's history public.schema_migrations: at version 2"),
    ("(2, true)", 78, None, "golang-migrate's history is dirty at version 2: that migration failed partway"),
    ("(7, false)", 78, None, "says golang-migrate applied 7, and no file here has that version"),
])
def test_baseline_from_golang_migrate_records_what_its_history_says_or_nothing(pg, tmp_path, row, code, recorded, says):
    pg.sql(f"{GOLANG_MIGRATE_TABLE} INSERT INTO schema_migrations VALUES {row}")
    folder = write(tmp_path / "migrations", THREE)
    done = dbinit(pg, folder, "baseline", "--from", "golang-migrate")
    assert done.returncode == code and says in done.stderr, done.stderr
    if recorded is None:
        assert pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NULL") == "t"
    else:
        assert history(pg) == recorded


def test_baseline_from_dbmate_records_exactly_the_versions_it_applied_out_of_order_too(pg, tmp_path):
    pg.sql("CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);"
           "INSERT INTO schema_migrations VALUES ('1'), ('3')")
    folder = write(tmp_path / "migrations", THREE)
    done = dbinit(pg, folder, "baseline", "--from", "dbmate")
    assert done.returncode == 0, done.stderr
    assert history(pg) == ["1 true", "3 true"]


def test_another_tool_s_history_is_left_alone_when_it_is_another_application_s(pg, tmp_path):
    """Rails keeps a schema_migrations(version) too: DBINIT_PEER_HISTORY=ignore runs the files."""
    pg.sql("CREATE TABLE schema_migrations (version varchar PRIMARY KEY); INSERT INTO schema_migrations VALUES ('1')")
    folder = write(tmp_path / "migrations", THREE)
    assert dbinit(pg, folder, "migrate").returncode == 78
    done = dbinit(pg, folder, "migrate", DBINIT_PEER_HISTORY="ignore")
    assert done.returncode == 0, done.stderr
    assert history(pg) == ["1 false", "2 false", "3 false"]
    again = dbinit(pg, folder, "migrate")  # dbinit's history is there now: the other table is no question
    assert again.returncode == 0, again.stderr


def test_a_bad_peer_history_setting_is_refused(pg, tmp_path):
    folder = write(tmp_path / "migrations", THREE)
    done = dbinit(pg, folder, "migrate", DBINIT_PEER_HISTORY="skip")
    assert done.returncode == 78 and "DBINIT_PEER_HISTORY" in done.stderr, done.stderr


def test_dbmate_s_variables_in_the_env_file_are_honoured_or_answered_never_ignored(tmp_path):
    """The folder dbmate's .env names is the folder dbinit reads (and imports in place); the rest of
    dbmate's variables get a line naming what dbinit reads instead."""
    project = tmp_path / "project"
    write(project / "database" / "sql", {"20240115093000_add_users.sql": "-- migrate:up\nCREATE TABLE users (id int);\n"
                                                                         "-- migrate:down\nDROP TABLE users;\n"})
    (project / ".env").write_text("DBMATE_MIGRATIONS_DIR=./database/sql\nDBMATE_SCHEMA_FILE=./database/schema.sql\n"
                                  "DBMATE_WAIT_TIMEOUT=30s\n")
    before = run_dbinit("validate", cwd=project)  # dbmate's files, not dbinit's yet: the hint says what to run
    assert before.returncode == 65 and "dbinit import dbmate splits them" in before.stderr, before.stderr
    imported = run_dbinit("import", "dbmate", cwd=project)
    assert imported.returncode == 0, imported.stderr
    assert sorted(p.name for p in (project / "database" / "sql").iterdir()) == [
        "V20240115093000-add-users-down.sql", "V20240115093000-add-users-up.sql"]
    validated = run_dbinit("validate", cwd=project)
    assert validated.returncode == 0, validated.stderr
    assert "migrations directory ./database/sql from DBMATE_MIGRATIONS_DIR" in validated.stderr
    assert "WARN dbinit: DBMATE_SCHEMA_FILE is dbmate's and dbinit does not read it: dbinit schema writes the schema " \
           "files into DBINIT_SCHEMA_DIR" in validated.stderr
    assert "WARN dbinit: DBMATE_WAIT_TIMEOUT is dbmate's and dbinit does not read it: DBINIT_WAIT_TIMEOUT" \
        in validated.stderr
    own = run_dbinit("validate", cwd=project, DBINIT_MIGRATIONS=str(tmp_path / "elsewhere"))  # dbinit's own wins
    assert own.returncode == 65 and "elsewhere: migrations directory does not exist" in own.stderr, own.stderr


def neo4j_migrations(server, folder: Path) -> None:
    peer("java", "-cp", f"{JVM / 'peers-1.jar'}:{JVM / 'lib'}/*", "peers.Neo4jMigrationsApply", server.uri(), "neo4j",
         server.password, str(folder))


def graph_of(server) -> tuple[list, list]:
    """Nodes by labels and properties, and the constraints and indexes: all but the tools' own."""
    with server.driver() as d:
        nodes = d.execute_query("MATCH (n) WHERE NOT any(l IN labels(n) WHERE l STARTS WITH '__') "
                                "RETURN labels(n) AS labels, properties(n) AS props").records
        # neo4j-migrations' own: its labels begin with __, its chain's relationships are these two
        schema = d.execute_query("SHOW INDEXES YIELD labelsOrTypes, properties WHERE labelsOrTypes IS NOT NULL AND "
                                 "NOT any(l IN labelsOrTypes WHERE l STARTS WITH '__' OR l IN ['REPEATED', "
                                 "'MIGRATED_TO']) RETURN labelsOrTypes, properties").records
    return sorted(map(repr, (r.data() for r in nodes))), sorted(map(repr, (r.data() for r in schema)))


def test_a_neo4j_migrations_set_moves_in_dated_the_day_of_the_import(neo4j_db, tmp_path):
    env = {"NEO4J_URI": neo4j_db.uri(), "NEO4J_AUTH": f"neo4j/{neo4j_db.password}"}
    peer_folder = tmp_path / "peer"
    shutil.copytree(REALSETS / "neo4j-migrations-examples", peer_folder)
    neo4j_migrations(neo4j_db, peer_folder)
    by_peer = graph_of(neo4j_db)
    folder = tmp_path / "migrations"
    imported = run_dbinit("import", "neo4j-migrations", str(peer_folder), "--migrations", str(folder))
    assert imported.returncode == 0, imported.stderr
    day = datetime.now().date().isoformat()
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{day}-001-BondTheNameIsBond.cypher", f"{day}-002-BondTheNameIsBondNew.cypher",
        f"{day}-003-BondTheNameIsBondNewNew.cypher", f"{day}-004-Die-halbe-Wahrheit.cypher",
        f"{day}-005-Die-halbe-Wahrheit-neu.cypher", f"{day}-006-Die-halbe-Wahrheit-neu-neu.cypher",
        f"{day}-007-WithCommentAtEnd.cypher"]
    assert (folder / f"{day}-006-Die-halbe-Wahrheit-neu-neu.cypher").read_text().startswith(
        "// neo4j-migrations version 21.1.1 (V021.1.1__Die halbe Wahrheit neu neu.cypher)\n")
    for left in ("afterMigrate.cypher", "beforeMigrate.cypher", "V5001_AlsoNotAMigration.cypher", "LICENSE"):
        assert left.split(".")[0] in imported.stdout or left == "LICENSE", left

    neo4j_db.reset()
    fresh = run_dbinit("migrate", "--migrations", str(folder), **env)
    assert fresh.returncode == 0, fresh.stderr
    assert graph_of(neo4j_db) == by_peer

    neo4j_db.reset()
    neo4j_migrations(neo4j_db, peer_folder)
    for command in ("migrate", "check"):
        refused = run_dbinit(command, "--migrations", str(folder), **env)
        assert refused.returncode == 78, refused.stderr
        assert "dbinit baseline --from neo4j-migrations" in refused.stderr and "Nothing was run" in refused.stderr
    adopted = run_dbinit("baseline", "--from", "neo4j-migrations", "--migrations", str(folder), **env)
    assert adopted.returncode == 0, adopted.stderr
    assert adopted.stderr.count("neo4j: baselined ") == 7
    status = run_dbinit("status", "--migrations", str(folder), **env)
    assert status.stdout.count("| Baselined |") == 7, status.stdout
    made = run_dbinit("new", "neo4j", "add agents index", "--migrations", str(folder))
    path = Path(made.stdout.split()[0])
    assert path.name == f"{day}-008-add-agents-index.cypher", path.name
    path.write_text("CREATE INDEX agent_idx IF NOT EXISTS FOR (n:OtherAgents) ON (n.idx);\n")
    applied = run_dbinit("migrate", "--migrations", str(folder), **env)
    assert applied.returncode == 0, applied.stderr
    assert "up to date: 1 applied, 7 already applied" in applied.stderr


@pytest.mark.parametrize("db", ["postgres", "neo4j"])
def test_a_database_another_tool_migrated_is_refused_before_anything_runs(db, request, tmp_path):
    """The peer's history without the peer: its table (golang-migrate's) or its chain's node
    (neo4j-migrations'), as the peer leaves them."""
    mode = "a database another tool migrated, not yet adopted"
    if db == "postgres":
        pg = request.getfixturevalue("pg")
        pg.sql(f"{GOLANG_MIGRATE_TABLE} INSERT INTO schema_migrations VALUES (1, false)")
        folder = write(tmp_path / "migrations", {"V000001-a-up.sql": "CREATE TABLE a (id int);\n"})
        env = {"POSTGRES_URL": pg.url}
    else:
        server = request.getfixturevalue("neo4j_db")
        with server.driver() as d:
            d.execute_query("CREATE (:__Neo4jMigration {version: 'BASELINE'})-[:MIGRATED_TO]->"
                            "(:__Neo4jMigration {version: '001', description: 'a', type: 'CYPHER'})")
        folder = write(tmp_path / "migrations", {"2025-01-15-001-a.cypher": "// neo4j-migrations version 1 "
                                                 "(V001__a.cypher)\nCREATE (:A);\n"})
        env = {"NEO4J_URI": server.uri(), "NEO4J_AUTH": f"neo4j/{server.password}"}
    refused = run_dbinit("migrate", "--migrations", str(folder), **env)
    failure_modes.check(refused, mode, db)
    adopted = run_dbinit("baseline", "--from", "golang-migrate" if db == "postgres" else "neo4j-migrations",
                         "--migrations", str(folder), **env)
    assert adopted.returncode == 0 and f"{db}: baselined " in adopted.stderr, adopted.stderr
    assert run_dbinit("migrate", "--migrations", str(folder), **env).returncode == 0
