"""Releases, not single migrations: expand before the new version starts, contract after it rolled
out (post-deploy), roll back from the previous image's files with the down scripts kept in the
history, migrate in steps (--to). Real servers throughout."""
import itertools
import json
import shutil
import subprocess
import threading
import time

import jsonschema
import psycopg

from conftest import run_dbinit
from dbinit import report as report_module
from servers import wait_for
from test_postgres_inputs import pg_dump

SCHEMA = json.loads((report_module.Path(report_module.__file__).parent / "report.schema.json").read_text())

RELEASE_1 = {
    "V1-accounts-up.sql": "CREATE TABLE accounts (id int PRIMARY KEY, fullname text NOT NULL DEFAULT '');\n"
                          "INSERT INTO accounts VALUES (1, 'Ada Lovelace'), (2, 'Alan Turing');\n",
    "V1-accounts-down.sql": "DROP TABLE accounts;\n",
}
RELEASE_2 = {
    **RELEASE_1,
    # expand: the new column, filled, while release 1 still reads and writes fullname
    "V2-display-name-up.sql": "ALTER TABLE accounts ADD COLUMN display_name text;\n"
                              "UPDATE accounts SET display_name = fullname;\n",
    "V2-display-name-down.sql": "ALTER TABLE accounts DROP COLUMN display_name;\n",
    # contract: once no instance of release 1 is left
    "V3-drop-fullname-up.sql": "-- dbinit: post-deploy\nALTER TABLE accounts DROP COLUMN fullname;\n",
    "V3-drop-fullname-down.sql": "ALTER TABLE accounts ADD COLUMN fullname text NOT NULL DEFAULT '';\n"
                                 "UPDATE accounts SET fullname = coalesce(display_name, '');\n",
}


def strip_keys(dump: str) -> str:
    """pg_dump's output without the random key of its \\restrict lines."""
    return "\n".join(line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


def schema(pg) -> str:
    return strip_keys(pg_dump(pg.server, pg.dbname, "--schema-only"))


def image(tmp_path, name, files):
    """A migrations directory as an image of that release holds it."""
    directory = tmp_path / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    for file, text in files.items():
        (directory / file).write_text(text)
    return directory


def dbinit(pg, directory, *args, **env):
    return run_dbinit(*args, "--migrations", str(directory), POSTGRES_URL=pg.url, **env)


class Release1Traffic:
    """Release 1's own queries in a loop, as its instances send them while release 2 rolls out."""

    ids = itertools.count(100)

    def __init__(self, url):
        self.url, self.failures, self.queries = url, [], 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                n = next(self.ids)
                try:
                    conn.execute("SELECT id, fullname FROM accounts ORDER BY id").fetchall()
                    conn.execute("INSERT INTO accounts (id, fullname) VALUES (%s, %s)", (n, f"user {n}"))
                    self.queries += 2
                except psycopg.Error as e:
                    self.failures.append(f"{type(e).__name__}: {e}")
                time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)


def test_release_2_rolls_out_without_breaking_release_1_and_rolls_back_from_release_1s_files(pg, tmp_path):
    assert dbinit(pg, image(tmp_path, "release-1", RELEASE_1), "migrate").returncode == 0
    release_1_schema = schema(pg)
    release_2 = image(tmp_path, "release-2", RELEASE_2)
    with Release1Traffic(pg.url) as traffic:
        deploy = dbinit(pg, release_2, "migrate")  # the initContainer of release 2's pods
        assert deploy.returncode == 0, deploy.stderr
        assert "applied V2 display-name" in deploy.stderr
        assert "left for the post-deploy run (dbinit migrate --post-deploy): V3 drop-fullname" in deploy.stderr
        served = traffic.queries
        wait_for(lambda: traffic.queries > served + 20, 30, "release 1 served nothing")  # the rollout: it still serves
        # every release-2 replica runs the same migrate: nothing pending, nothing out of order
        assert dbinit(pg, release_2, "migrate").returncode == 0
        assert dbinit(pg, release_2, "check").returncode == 0
    assert traffic.queries > 20 and traffic.failures == []

    report = tmp_path / "post-deploy.json"
    contract = dbinit(pg, release_2, "migrate", "--post-deploy", DBINIT_REPORT=str(report))
    assert contract.returncode == 0, contract.stderr
    assert pg.sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' "
                  "AND column_name = 'fullname'") == "0"
    document = json.loads(report.read_text())
    jsonschema.validate(document, SCHEMA)
    assert [(a["version"], a["phase"]) for a in document["databases"]["postgres"]["applied"]] == [("V3", "post-deploy")]

    # helm rollback: the previous image, which has only release 1's files
    report = tmp_path / "rollback.json"
    back = dbinit(pg, image(tmp_path, "release-1", RELEASE_1), "rollback", DBINIT_REPORT=str(report))
    assert back.returncode == 0, back.stderr
    assert back.stderr.index("reverted V3 drop-fullname") < back.stderr.index("reverted V2 display-name")
    assert schema(pg) == release_1_schema
    assert pg.sql("SELECT version FROM dbinit.dbinit_schema_history") == "1"
    document = json.loads(report.read_text())
    jsonschema.validate(document, SCHEMA)
    assert document["command"] == "rollback"
    assert [(r["version"], r["script"]) for r in document["databases"]["postgres"]["reverted"]] == [
        ("V3", "V3-drop-fullname-down.sql (kept in the history)"),
        ("V2", "V2-display-name-down.sql (kept in the history)")]
    with Release1Traffic(pg.url) as traffic:
        wait_for(lambda: traffic.queries > 10 or traffic.failures, 30, "release 1 served nothing")
    assert traffic.queries > 10 and traffic.failures == []
    assert pg.sql("SELECT fullname FROM accounts WHERE id = 1") == "Ada Lovelace"
    again = dbinit(pg, image(tmp_path, "release-1", RELEASE_1), "rollback")
    assert again.returncode == 0 and "nothing to revert" in again.stderr


def test_rollback_over_a_migration_without_a_down_script_stops_before_reverting_anything(pg, tmp_path):
    files = {**RELEASE_2, "V4-no-way-back-up.sql": "CREATE TABLE audit (id int);\n"}
    assert dbinit(pg, image(tmp_path, "release-2", files), "migrate", "--post-deploy").returncode == 0
    before = schema(pg)
    refused = dbinit(pg, image(tmp_path, "release-1", RELEASE_1), "rollback")
    assert refused.returncode == 65, refused.stderr
    assert "V4 (V4-no-way-back-up.sql) has no down file (-down.sql) and no down script kept in the history; nothing " \
           "was reverted" \
        in refused.stderr
    assert "reverted" not in refused.stderr.replace("nothing was reverted", "")
    assert schema(pg) == before


def test_down_reverts_from_the_kept_script_when_the_file_is_gone(pg, tmp_path):
    assert dbinit(pg, image(tmp_path, "release-2", RELEASE_2), "migrate", "--post-deploy").returncode == 0
    back = dbinit(pg, image(tmp_path, "release-1", RELEASE_1), "down", "--to", "V2")
    assert back.returncode == 0, back.stderr
    assert "reverted V3 drop-fullname" in back.stderr and "reverted V2" not in back.stderr
    assert pg.sql("SELECT string_agg(version, ',' ORDER BY version) FROM dbinit.dbinit_schema_history") == "1,2"


def test_migrate_to_a_version_rolls_a_release_out_in_steps(pg, tmp_path):
    release_2 = image(tmp_path, "release-2", RELEASE_2)
    first = dbinit(pg, release_2, "migrate", "--to", "postgres=V1")
    assert first.returncode == 0, first.stderr
    assert pg.sql("SELECT string_agg(version, ',') FROM dbinit.dbinit_schema_history") == "1"
    second = dbinit(pg, release_2, "migrate", "--to", "V2")
    assert second.returncode == 0 and "applied V2 display-name" in second.stderr
    assert pg.sql("SELECT string_agg(version, ',' ORDER BY version) FROM dbinit.dbinit_schema_history") == "1,2"


def test_migrate_to_a_version_that_is_not_a_file_or_is_below_what_is_applied_changes_nothing(pg, tmp_path):
    release_2 = image(tmp_path, "release-2", RELEASE_2)
    nowhere = dbinit(pg, release_2, "migrate", "--to", "V9")
    assert nowhere.returncode == 64 and "--to V9: postgres has no migration V9 among the files" in nowhere.stderr
    assert pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NULL") == "t"
    assert dbinit(pg, release_2, "migrate", "--to", "V2").returncode == 0
    below = dbinit(pg, release_2, "migrate", "--to", "V1")
    assert below.returncode == 64 and "postgres has V2 applied already, above V1" in below.stderr
    assert "dbinit down --to postgres=V1" in below.stderr
    assert pg.sql("SELECT string_agg(version, ',' ORDER BY version) FROM dbinit.dbinit_schema_history") == "1,2"
    ambiguous = dbinit(pg, release_2, "migrate", "--to", "cheese")
    assert ambiguous.returncode == 64 and "give DATABASE=VERSION" in ambiguous.stderr


NEO4J_1 = {"2025-01-01-001-people.cypher": "CREATE (:Person {name: 'Ada'});\n",
           "2025-01-01-001-people.down.cypher": "MATCH (p:Person) DELETE p;\n"}
NEO4J_2 = {**NEO4J_1,
           "2025-02-01-001-person-name.cypher": "CREATE INDEX person_name IF NOT EXISTS FOR (p:Person) ON (p.name);\n",
           "2025-02-01-001-person-name.down.cypher": "DROP INDEX person_name IF EXISTS;\n",
           "2025-02-01-002-people-are-humans.cypher": "// dbinit: post-deploy\nMATCH (p:Person) SET p:Human;\n",
           "2025-02-01-002-people-are-humans.down.cypher": "MATCH (h:Human) REMOVE h:Human;\n"}


def neo4j(server, directory, *args):
    return run_dbinit(*args, "--migrations", str(directory), NEO4J_URI=server.uri(),
                      NEO4J_AUTH=f"neo4j/{server.password}")


def test_neo4j_down_files_revert_with_down_to_and_rollback_from_the_kept_scripts(neo4j_db, tmp_path):
    def scalar(query):
        with neo4j_db.driver() as d:
            return d.execute_query(query).records[0][0]

    assert neo4j(neo4j_db, image(tmp_path, "release-2", NEO4J_2), "migrate").returncode == 0
    assert scalar("MATCH (h:Human) RETURN count(h)") == 1
    down = neo4j(neo4j_db, image(tmp_path, "release-2", NEO4J_2), "down", "--to", "2025-02-01-001")
    assert down.returncode == 0 and "reverted 2025-02-01-002 people-are-humans" in down.stderr, down.stderr
    assert scalar("MATCH (h:Human) RETURN count(h)") == 0
    assert neo4j(neo4j_db, image(tmp_path, "release-2", NEO4J_2), "migrate", "--post-deploy").returncode == 0
    back = neo4j(neo4j_db, image(tmp_path, "release-1", NEO4J_1), "rollback")
    assert back.returncode == 0, back.stderr
    assert back.stderr.index("reverted 2025-02-01-002") < back.stderr.index("reverted 2025-02-01-001 person-name")
    assert scalar("MATCH (h:Human) RETURN count(h)") == 0
    assert scalar("SHOW INDEXES YIELD name WHERE name = 'person_name' RETURN count(*)") == 0
    assert scalar("MATCH (m:__DbinitMigration) RETURN collect(m.version)") == ["2025-01-01-001"]
    assert scalar("MATCH (p:Person) RETURN count(p)") == 1


def test_a_rollback_that_would_need_to_revert_redis_stops_before_reverting_anything(pg, redis_db, tmp_path):
    release_1 = {"V1-accounts-up.sql": RELEASE_1["V1-accounts-up.sql"], "V1-keys.redis": "SET layout 1\n"}
    release_2 = {**release_1, "V2-display-name-up.sql": RELEASE_2["V2-display-name-up.sql"],
                 "V2-display-name-down.sql": RELEASE_2["V2-display-name-down.sql"], "V2-keys.redis": "SET layout 2\n"}
    env = {"POSTGRES_URL": pg.url, "REDIS_URL": redis_db.url()}
    assert run_dbinit("migrate", "--migrations", str(image(tmp_path, "r2", release_2)), **env).returncode == 0
    refused = run_dbinit("rollback", "--migrations", str(image(tmp_path, "r1", release_1)), **env)
    assert refused.returncode == 65, refused.stderr
    assert "Redis migrations are forward-only: V2 keys is applied and cannot be reverted; nothing was reverted" \
        in refused.stderr
    assert pg.sql("SELECT string_agg(version, ',' ORDER BY version) FROM dbinit.dbinit_schema_history") == "1,2"
    assert redis_db.client().get("layout") == "2"


def test_the_script_of_a_dry_run_under_psql_gives_the_schema_migrate_gives(pg, tmp_path):
    assert dbinit(pg, image(tmp_path, "release-1", RELEASE_1), "migrate").returncode == 0
    copy = f"{pg.dbname}_copy"
    pg.server.psql(f"CREATE DATABASE {copy} TEMPLATE {pg.dbname}")
    try:
        release_2 = image(tmp_path, "release-2", RELEASE_2)
        shown = dbinit(pg, release_2, "migrate", "--dry-run", "--script", "--post-deploy")
        assert shown.returncode == 0, shown.stderr
        assert "Lock: SELECT pg_try_advisory_lock(" in shown.stdout and "V1-accounts" not in shown.stdout
        assert shown.stdout.count('INSERT INTO "dbinit"."dbinit_schema_history"') == 2
        assert pg.sql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "1"  # a dry run changes nothing
        script = tmp_path / "release-2.sql"
        script.write_text(shown.stdout)
        subprocess.run([str(pg.server.bindir / "psql"), "-h", str(pg.server.sockets), "-p", str(pg.server.port),
                        "-U", "postgres", "-d", copy, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(script)],
                       check=True, capture_output=True)
        assert dbinit(pg, release_2, "migrate", "--post-deploy").returncode == 0
        copied = pg_dump(pg.server, copy, "--schema-only")
        assert strip_keys(copied) == schema(pg)
        assert pg.server.psql("SELECT string_agg(version || down_script, ',' ORDER BY version) FROM "
                              "dbinit.dbinit_schema_history", dbname=copy) == \
            pg.sql("SELECT string_agg(version || down_script, ',' ORDER BY version) FROM dbinit.dbinit_schema_history")
    finally:
        pg.server.psql(f"DROP DATABASE {copy} WITH (FORCE)")


def test_script_without_dry_run_is_refused(pg, tmp_path):
    refused = dbinit(pg, image(tmp_path, "release-1", RELEASE_1), "migrate", "--script")
    assert refused.returncode == 64 and "use it with --dry-run" in refused.stderr
    assert pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NULL") == "t"
