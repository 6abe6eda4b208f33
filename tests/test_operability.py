"""For people who read results rather than logs: `check` and `wait --migrated` without the lock,
the JSON run report (validated against its schema) and the Kubernetes termination message."""
import json
import time
from pathlib import Path

import jsonschema

from conftest import GATE, ROOT, run_dbinit, start_dbinit
from fleet import finish, wait_for_line

SCHEMA = json.loads((ROOT / "dbinit" / "report.schema.json").read_text())


def dbinit(pg, migrations, *args, **env):
    return run_dbinit(*args, "--migrations", str(migrations.path), POSTGRES_URL=pg.url, **env)


def test_check_is_0_when_up_to_date_3_listing_what_is_pending_and_65_for_an_edited_file(pg, migrations):
    first = migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    pending = dbinit(pg, migrations, "check")
    assert pending.returncode == 3 and "pending: V1 a" in pending.stderr
    assert pg.sql("SELECT to_regnamespace('dbinit') IS NULL AND to_regclass('a') IS NULL") == "t"  # wrote nothing
    assert dbinit(pg, migrations, "migrate").returncode == 0
    assert dbinit(pg, migrations, "check").returncode == 0
    first.write_text("CREATE TABLE a (id bigint);\n")
    assert dbinit(pg, migrations, "check").returncode == 65


def test_check_needs_no_lock_while_another_runner_holds_it(pg, migrations):
    migrations.write("V1-slow-up.sql", GATE)
    with pg.gate():
        holder = start_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
        pg.await_statement(GATE)
        checked = dbinit(pg, migrations, "check")
        assert holder.poll() is None  # answered while the holder still held the lock
    assert checked.returncode == 3, checked.stderr
    assert finish(holder)[0] == 0


def test_wait_migrated_returns_once_another_runner_has_migrated_and_69_at_the_deadline(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    timed_out = dbinit(pg, migrations, "wait", "--migrated", DBINIT_WAIT_TIMEOUT="2")
    assert timed_out.returncode == 69 and "still pending" in timed_out.stderr and "postgres V1" in timed_out.stderr
    waiter = start_dbinit("wait", "--migrated", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                          DBINIT_WAIT_TIMEOUT="60")
    wait_for_line(waiter, "waiting for migrations applied elsewhere; pending: postgres V1")
    assert dbinit(pg, migrations, "migrate").returncode == 0
    migrated = time.monotonic()
    code, err = finish(waiter, 30)
    assert code == 0, err
    # It reads the history every half second: 10 s is far from that and from the 60 s deadline.
    assert time.monotonic() - migrated < 10


def test_the_run_report_of_a_success_says_what_was_applied_and_how_long_everything_took(pg, migrations, tmp_path):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    migrations.write("V2-b-up.sql", "CREATE TABLE b (id int);\n")
    path = tmp_path / "report.json"
    assert dbinit(pg, migrations, "migrate", DBINIT_REPORT=str(path)).returncode == 0
    report = json.loads(path.read_text())
    jsonschema.validate(report, SCHEMA, format_checker=jsonschema.FormatChecker())
    postgres = report["databases"]["postgres"]
    assert [a["version"] for a in postgres["applied"]] == ["V1", "V2"] and postgres["pending"] == []
    assert postgres["wait_s"] >= 0 and postgres["lock_wait_s"] >= 0
    assert report["databases"]["redis"]["status"] == "skipped" and report["exit_code"] == 0 and report["error"] is None


def test_the_run_report_of_a_failure_names_file_line_statement_and_code(pg, migrations, tmp_path):
    bad = migrations.write("V1-bad-up.sql", "CREATE TABLE a (id int);\nINSERT INTO nowhere VALUES (1);\n")
    path = tmp_path / "report.json"
    assert dbinit(pg, migrations, "migrate", DBINIT_REPORT=str(path)).returncode == 1
    report = json.loads(path.read_text())
    jsonschema.validate(report, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert report["meaning"] == "a migration failed"
    assert report["error"] | {"message": ""} == {"type": "MigrationFailed", "message": "", "database": "postgres",
                                                "file": str(bad), "line": 2, "statement": "INSERT INTO nowhere VALUES (1)",
                                                "code": "42P01"}
    assert report["databases"]["postgres"]["pending"] == ["V1"]


def test_a_run_that_fails_on_its_settings_still_writes_its_report(tmp_path):
    path = tmp_path / "report.json"
    result = run_dbinit("migrate", REDIS_URL="http://nope", DBINIT_REPORT=str(path))
    assert result.returncode == 78
    report = json.loads(path.read_text())
    jsonschema.validate(report, SCHEMA)
    assert report["exit_code"] == 78 and "REDIS_URL" in report["error"]["message"]


def test_the_termination_message_says_why_an_init_container_failed(pg, migrations, tmp_path):
    migrations.write("V1-bad-up.sql", "INSERT INTO nowhere VALUES (1);\n")
    message = tmp_path / "termination-log"
    message.write_text("")  # Kubernetes creates it; dbinit writes only where it exists
    assert dbinit(pg, migrations, "migrate", DBINIT_TERMINATION_LOG=str(message)).returncode == 1
    text = message.read_text()
    assert text.startswith("dbinit migrate: exit 1 (a migration failed); 0 applied\n")
    assert "V1-bad-up.sql:1" in text and "42P01" in text and len(text.encode()) <= 4096
    assert pg.server.password not in text
    absent = tmp_path / "absent"
    assert dbinit(pg, migrations, "migrate", DBINIT_TERMINATION_LOG=str(absent)).returncode == 1
    assert not Path(absent).exists()


def test_the_before_migrate_hook_runs_once_among_racing_runners_and_never_when_nothing_is_pending(pg, redis_db,
                                                                                              migrations, tmp_path):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    migrations.write("V1-a.redis", "SET a 1\n")
    runs = tmp_path / "hook-runs"
    hook = f'echo "backing up $DBINIT_PENDING_POSTGRES / $DBINIT_PENDING_REDIS"; echo run >> {runs}'
    env = {"POSTGRES_URL": pg.url, "REDIS_URL": redis_db.url(), "DBINIT_BEFORE_MIGRATE": hook}
    racers = [start_dbinit("migrate", "--migrations", str(migrations.path), **env) for _ in range(5)]
    results = [finish(p) for p in racers]
    assert [code for code, _ in results] == [0] * 5
    assert runs.read_text() == "run\n"
    assert sum("INFO hook: backing up V1 / V1" in err for _, err in results) == 1  # its output in the log
    assert run_dbinit("migrate", "--migrations", str(migrations.path), **env).returncode == 0
    assert runs.read_text() == "run\n"  # nothing pending: no backup on every pod start


def test_a_failing_before_migrate_hook_stops_the_run_with_every_database_unchanged(pg, redis_db, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    migrations.write("V1-a.redis", "SET a 1\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        REDIS_URL=redis_db.url(), DBINIT_BEFORE_MIGRATE="echo 'pg_dump: connection refused'; exit 3")
    assert result.returncode == 1
    assert "pg_dump: connection refused" in result.stderr and "DBINIT_BEFORE_MIGRATE exited with 3" in result.stderr
    assert pg.sql("SELECT to_regclass('a') IS NULL AND to_regnamespace('dbinit') IS NULL") == "t"
    assert redis_db.client().dbsize() == 0


def test_the_after_migrate_hook_runs_once_among_racing_runners_with_what_was_applied(pg, redis_db, migrations,
                                                                                     tmp_path):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    migrations.write("V2-b-up.sql", "CREATE TABLE b (id int);\n")
    migrations.write("V1-a.redis", "SET a 1\n")
    runs = tmp_path / "hook-runs"
    # What the hook sees: the tables are there (it runs after the files), and what was applied.
    hook = (f'psql "$POSTGRES_URL" -Atc "SELECT count(*) FROM pg_tables WHERE tablename IN (\'a\', \'b\')" >> {runs}; '
            f'echo "$DBINIT_APPLIED_POSTGRES / $DBINIT_APPLIED_REDIS / $DBINIT_RUN_ID" >> {runs}')
    env = {"POSTGRES_URL": pg.url, "REDIS_URL": redis_db.url(), "DBINIT_AFTER_MIGRATE": hook}
    reports = [tmp_path / f"report{n}.json" for n in range(5)]
    racers = [start_dbinit("migrate", "--migrations", str(migrations.path), DBINIT_REPORT=str(report), **env)
              for report in reports]
    results = [finish(p) for p in racers]
    assert [code for code, _ in results] == [0] * 5
    applier = [json.loads(r.read_text()) for r in reports if json.loads(r.read_text())["databases"]["postgres"]["applied"]]
    assert len(applier) == 1
    assert runs.read_text() == f"2\nV1 V2 / V1 / {applier[0]['run_id']}\n"
    assert sum("INFO hook: DBINIT_AFTER_MIGRATE finished" in err for _, err in results) == 1
    assert run_dbinit("migrate", "--migrations", str(migrations.path), **env).returncode == 0
    assert runs.read_text().count("\n") == 2  # nothing applied: not run again


def test_a_failing_after_migrate_hook_is_exit_7_and_what_was_applied_stays_applied(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        DBINIT_AFTER_MIGRATE="echo 'GRANT failed: role reporting does not exist'; exit 3")
    assert result.returncode == 7, result.stderr
    assert "GRANT failed: role reporting does not exist" in result.stderr
    assert "DBINIT_AFTER_MIGRATE exited with 3; what was applied stays applied and recorded" in result.stderr
    assert pg.sql("SELECT to_regclass('a') IS NOT NULL AND (SELECT count(*) = 1 FROM dbinit.dbinit_schema_history)") == "t"
    again = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url, DBINIT_AFTER_MIGRATE="true")
    assert again.returncode == 0 and "DBINIT_AFTER_MIGRATE" not in again.stderr  # nothing applied: not run


def test_redis_bgsave_takes_a_snapshot_before_the_first_command(make_server, migrations):
    rd = make_server("redis").start()
    rd.client().set("before", "1")
    migrations.write("V1-a.redis", "SET after 1\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), REDIS_URL=rd.url(), DBINIT_REDIS_BGSAVE="true")
    assert result.returncode == 0, result.stderr
    assert "BGSAVE done" in result.stderr and rd.client().get("after") == "1"
    snapshot = make_server("redis")  # a server started on the dump: it holds the data from before the run
    (snapshot.dir / "dump.rdb").write_bytes((rd.dir / "dump.rdb").read_bytes())
    snapshot.start()
    assert snapshot.client().get("before") == "1" and snapshot.client().get("after") is None


def test_redis_bgsave_refused_is_78_and_a_failed_one_is_1_and_neither_runs_a_command(make_server, migrations):
    rd = make_server("redis").start()
    migrations.write("V1-a.redis", "SET after 1\n")
    rd.client().execute_command("ACL", "SETUSER", "nobackup", "on", ">nobackup-pw-4Rt", "~*", "&*", "+@all", "-bgsave")
    refused = run_dbinit("migrate", "--migrations", str(migrations.path), DBINIT_REDIS_BGSAVE="true",
                         REDIS_URL=f"redis://nobackup:nobackup-pw-4Rt@127.0.0.1:{rd.port}/0")
    assert refused.returncode == 78, refused.stderr
    assert "BGSAVE was refused" in refused.stderr and "unset DBINIT_REDIS_BGSAVE or allow it" in refused.stderr
    (rd.dir / "dump.rdb").mkdir()  # the server writes its snapshot, then cannot move it into place
    failed = run_dbinit("migrate", "--migrations", str(migrations.path), REDIS_URL=rd.url(), DBINIT_REDIS_BGSAVE="true")
    assert failed.returncode == 1, failed.stderr
    assert "BGSAVE failed (rdb_last_bgsave_status:err" in failed.stderr
    assert rd.client().get("after") is None and not rd.client().exists("dbinit:migrations")
