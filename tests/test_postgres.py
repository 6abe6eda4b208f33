"""PostgreSQL specifics: no-transaction migrations, down, the advisory lock, signals, baseline scripts."""
import hashlib
import signal

from conftest import GATE, run_dbinit, start_dbinit, unique


def migrate(pg, migrations, *args, **env):
    return run_dbinit(*args, "--migrations", str(migrations.path), **{"POSTGRES_URL": pg.url, **env})


def test_the_repositorys_migrations_apply_with_the_baseline_script_and_then_nothing_is_pending(pg, neo4j_db, redis_db):
    env = {"POSTGRES_URL": pg.url, "NEO4J_URI": neo4j_db.uri(), "NEO4J_AUTH": f"neo4j/{neo4j_db.password}",
           "REDIS_URL": redis_db.url()}
    first = run_dbinit("migrate", **env)
    assert first.returncode == 0, first.stderr
    assert pg.sql("SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_archived_sessions_tags'") == "1"
    assert pg.sql("SELECT version FROM dbinit.dbinit_schema_history ORDER BY applied_at, version").split() == ["init", "1"]
    with neo4j_db.driver() as d:
        indexes = {r["name"]: r["state"] for r in d.execute_query("SHOW INDEXES").records}
    assert indexes["product_rating"] == indexes["feeder_rating"] == "ONLINE"
    assert redis_db.client().hget("pconfig:meta", "key-layout") == "2"
    again = run_dbinit("migrate", **env)
    assert again.returncode == 0 and " applied V" not in again.stderr
    status = run_dbinit("status", **env)
    assert status.stdout.count("Applied") == 5 and "Pending" not in status.stdout


def test_history_records_version_description_checksum_time_and_who(pg, migrations):
    migrations.write("V1-create-t-up.sql", "CREATE TABLE t (id int);")
    assert migrate(pg, migrations, "migrate").returncode == 0
    row = pg.sql("SELECT version, description, script, length(checksum), execution_ms >= 0, success, "
                 "applied_by <> '' FROM dbinit.dbinit_schema_history")
    assert row == "1|create-t|V1-create-t-up.sql|64|t|t|t"


def test_a_failed_migration_rolls_back_its_earlier_statements(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\nSELECT 1/0;\n")
    result = migrate(pg, migrations, "migrate")
    assert result.returncode == 1
    assert "V1-a-up.sql:3: SQLSTATE 22012: division by zero" in result.stderr
    assert pg.sql("SELECT to_regclass('a') IS NULL") == "t"


def test_the_error_line_comes_from_postgres_error_position(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n\nSELECT id,\n       missing_column\n  FROM a;\n")
    result = migrate(pg, migrations, "migrate")
    assert "V1-a-up.sql:4: SQLSTATE 42703" in result.stderr


def test_create_index_concurrently_works_with_the_directive(pg, migrations):
    migrations.write("V1-t-up.sql", "CREATE TABLE t (id int);")
    migrations.write("V2-idx-up.sql", "-- dbinit: no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n")
    result = migrate(pg, migrations, "migrate")
    assert result.returncode == 0, result.stderr
    assert pg.sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id'::regclass") == "t"


def test_a_failed_no_transaction_migration_is_marked_failed_until_repair(pg, migrations):
    migrations.write("V1-t-up.sql", "CREATE TABLE t (id int);")
    bad = migrations.write("V2-idx-up.sql", "-- dbinit: no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n"
                                           "CREATE INDEX CONCURRENTLY t_x ON t (no_such_column);\n")
    failed = migrate(pg, migrations, "migrate")
    assert failed.returncode == 1 and "V2-idx-up.sql:3" in failed.stderr and "marked failed" in failed.stderr
    assert "Failed" in migrate(pg, migrations, "status").stdout
    refused = migrate(pg, migrations, "migrate")
    assert refused.returncode == 1 and "dbinit repair" in refused.stderr
    bad.write_text("-- dbinit: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_id ON t (id);\n")
    assert migrate(pg, migrations, "repair").returncode == 0
    assert migrate(pg, migrations, "migrate").returncode == 0
    assert pg.sql("SELECT success FROM dbinit.dbinit_schema_history WHERE version = '2'") == "t"


def test_down_runs_down_scripts_newest_first_and_removes_their_history_rows(pg, migrations):
    for n, table in ((1, "a"), (2, "b"), (3, "c")):
        migrations.write(f"V{n}-{table}-up.sql", f"CREATE TABLE {table} (id int);")
        migrations.write(f"V{n}-{table}-down.sql", f"DROP TABLE {table};")
    migrations.write("V3-c-down.sql", "DROP TABLE c;\nINSERT INTO order_log VALUES ('c');")
    migrations.write("V2-b-down.sql", "DROP TABLE b;\nINSERT INTO order_log VALUES ('b');")
    assert migrate(pg, migrations, "migrate").returncode == 0
    pg.sql("CREATE TABLE order_log (t text, at serial)")
    result = migrate(pg, migrations, "down", "--to", "V1")
    assert result.returncode == 0, result.stderr
    assert pg.sql("SELECT string_agg(t, ',' ORDER BY at) FROM order_log") == "c,b"
    assert pg.sql("SELECT version FROM dbinit.dbinit_schema_history") == "1"
    assert pg.sql("SELECT to_regclass('a') IS NOT NULL") == "t"


def test_down_refuses_when_a_migration_has_no_down_file_and_changes_nothing(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);")
    migrations.write("V1-a-down.sql", "DROP TABLE a;")
    migrations.write("V2-b-up.sql", "CREATE TABLE b (id int);")
    assert migrate(pg, migrations, "migrate").returncode == 0
    result = migrate(pg, migrations, "down", "--to", "0")
    assert result.returncode == 65 and "V2 has no down file" in result.stderr
    assert pg.sql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "2"


def test_a_runner_waiting_for_the_lock_names_the_holder_and_gives_up_with_75(pg, migrations):
    migrations.write("V1-slow-up.sql", GATE)
    with pg.gate():
        holder = start_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
        pg.await_statement(GATE)
        result = migrate(pg, migrations, "migrate", DBINIT_LOCK_TIMEOUT="1")
    assert result.returncode == 75, result.stderr
    assert "held by dbinit " in result.stderr and "DBINIT_LOCK_TIMEOUT" in result.stderr
    assert holder.wait(30) == 0


def test_with_nothing_pending_a_runner_does_not_queue_for_the_lock_another_holds(pg, migrations, tmp_path):
    """Every replica of a deploy runs dbinit: once one has migrated, the others only read."""
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);")
    assert migrate(pg, migrations, "migrate").returncode == 0
    newer = tmp_path / "newer"  # the next release, migrating while this one's replicas start
    newer.mkdir()
    (newer / "V1-a-up.sql").write_text("CREATE TABLE a (id int);")
    (newer / "V2-slow-up.sql").write_text(GATE)
    with pg.gate():
        holder = start_dbinit("migrate", "--migrations", str(newer), POSTGRES_URL=pg.url)
        pg.await_statement(GATE)
        result = migrate(pg, migrations, "migrate", DBINIT_LOCK_TIMEOUT="1")
        assert holder.poll() is None  # the holder still held the lock while this replica ran
    assert result.returncode == 0, result.stderr
    assert "up to date: 0 applied, 1 already applied" in result.stderr
    assert holder.wait(30) == 0


def test_two_applications_sharing_a_server_do_not_block_each_other(pg, postgres_server, migrations):
    postgres_server.psql(f"CREATE DATABASE {pg.dbname}_other")
    try:
        migrations.write("V1-slow-up.sql", GATE)
        with pg.gate():
            holder = start_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
            pg.await_statement(GATE)
            other = migrate(pg, migrations, "migrate", POSTGRES_URL=postgres_server.url(dbname=f"{pg.dbname}_other"),
                            DBINIT_LOCK_TIMEOUT="1")
            assert holder.poll() is None  # the other application migrated while this one held its lock
        assert other.returncode == 0, other.stderr
        assert holder.wait(30) == 0
    finally:
        postgres_server.psql(f"DROP DATABASE {pg.dbname}_other WITH (FORCE)")


def test_sigterm_during_a_migration_rolls_it_back_and_releases_the_lock(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);")
    migrations.write("V2-slow-up.sql", "CREATE TABLE b (id int);\nSELECT pg_sleep(30);")
    migrations.write("V3-c-up.sql", "CREATE TABLE c (id int);")
    proc = start_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    pg.await_statement("pg_sleep(30)")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 143
    assert pg.sql("SELECT to_regclass('b') IS NULL") == "t"
    assert pg.sql("SELECT version FROM dbinit.dbinit_schema_history") == "1"
    assert pg.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == "0"
    migrations.write("V2-slow-up.sql", "CREATE TABLE b (id int);")
    assert migrate(pg, migrations, "migrate").returncode == 0


def test_baseline_script_runs_only_on_a_database_without_history(pg, migrations, tmp_path):
    init = tmp_path / "init"
    init.mkdir()
    (init / "postgres-init.sql").write_text("CREATE TABLE base (id int);")
    migrations.write("V1-a-up.sql", "INSERT INTO base VALUES (1);")
    assert migrate(pg, migrations, "migrate").returncode == 0
    (init / "postgres-init.sql").write_text("CREATE TABLE base (id int);\nCREATE TABLE more (id int);")
    assert migrate(pg, migrations, "migrate").returncode == 0
    assert pg.sql("SELECT to_regclass('more') IS NULL") == "t"


def test_a_migration_that_is_only_comments_is_recorded(pg, migrations):
    migrations.write("V1-neo4j-only-up.sql", "-- this release changes only the graph\n")
    assert migrate(pg, migrations, "migrate").returncode == 0
    assert pg.sql("SELECT version FROM dbinit.dbinit_schema_history") == "1"


def test_postgres_sql_that_naive_splitters_break_applies(pg, migrations):
    from test_files import SQL_THAT_NAIVE_SPLITTERS_BREAK

    migrations.write("V1-t-up.sql", "CREATE TABLE t (s text, e text);")
    migrations.write("V2-tricky-up.sql", SQL_THAT_NAIVE_SPLITTERS_BREAK)
    result = migrate(pg, migrations, "migrate")
    assert result.returncode == 0, result.stderr
    assert pg.sql("SELECT count(*) FROM t") == "1"


def test_a_legacy_sql_ascii_database_works(postgres_server, migrations):
    name = unique("legacy_sql_ascii")
    postgres_server.psql(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    try:
        migrations.write("V1-t-up.sql", "CREATE TABLE t (id int);")
        url = postgres_server.url(dbname=name)
        for _ in range(2):
            result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=url)
            assert result.returncode == 0, result.stderr
        assert "Applied" in run_dbinit("status", "--migrations", str(migrations.path), POSTGRES_URL=url).stdout
    finally:
        postgres_server.psql(f"DROP DATABASE {name} WITH (FORCE)")


def test_percent_signs_and_a_trailing_line_comment_on_the_last_statement(pg, migrations):
    migrations.write("V1-t-up.sql", "CREATE TABLE t (n int);\nINSERT INTO t SELECT 10 % 3 -- the remainder, 1")
    result = migrate(pg, migrations, "migrate")
    assert result.returncode == 0, result.stderr
    assert pg.sql("SELECT n FROM t") == "1"


def test_an_error_without_a_position_still_names_its_line(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n\nALTER TABLE no_such_table ADD COLUMN x int;\n")
    result = migrate(pg, migrations, "migrate")
    assert result.returncode == 1
    assert "V1-a-up.sql:3: SQLSTATE 42P01" in result.stderr
    assert pg.sql("SELECT to_regclass('a') IS NULL") == "t"


def test_a_server_message_that_spans_lines_is_still_one_log_line(pg, migrations):
    """One line per event: a log reader (or `tail -1`) has the whole error, whatever the server said."""
    migrations.write("V1-a-up.sql", "DO $$ BEGIN RAISE EXCEPTION E'the first line\\nthe second line'; END $$;\n")
    result = migrate(pg, migrations, "migrate")
    assert result.returncode == 1
    assert "V1-a-up.sql:1: SQLSTATE P0001: the first line the second line" in result.stderr.splitlines()[-1], \
        result.stderr


def test_a_history_table_made_before_the_baselined_column_is_read_then_given_it(pg, migrations):
    """A table of dbinit 0.2 (no column `baselined`): status reads it as it is, and the next run
    that writes adds the column; its rows stay Applied."""
    pg.sql("CREATE SCHEMA dbinit; CREATE TABLE dbinit.dbinit_schema_history (version text PRIMARY KEY, description "
           "text NOT NULL, script text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), "
           "execution_ms integer NOT NULL, success boolean NOT NULL, applied_by text NOT NULL, down_script text);"
           "CREATE TABLE a (id int)")
    a = migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    checksum = hashlib.sha256(a.read_bytes()).hexdigest()
    pg.sql(f"INSERT INTO dbinit.dbinit_schema_history VALUES ('1', 'a', 'V1-a-up.sql', '{checksum}', now(), 3, true, "
           "'host:token', NULL)")
    status = run_dbinit("status", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    assert status.returncode == 0 and "| Applied " in status.stdout, status.stdout + status.stderr
    migrations.write("V2-b-up.sql", "CREATE TABLE b (id int);\n")
    assert run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url).returncode == 0
    assert pg.sql("SELECT string_agg(version || ' ' || baselined, ', ' ORDER BY version) "
                  "FROM dbinit.dbinit_schema_history") == "1 false, 2 false"
