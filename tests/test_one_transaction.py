"""DBINIT_PG_TRANSACTION=all: every pending PostgreSQL file of a run in one transaction, all or
nothing (dbmate's --single-transaction, Flyway's group, Atlas's --tx-mode all), on a real server;
the proof that it is one is the history rows' xmin, the id of the transaction that wrote them."""
from __future__ import annotations

import json
import re
import threading

import psycopg

import failure_modes
from conftest import run_dbinit, start_dbinit
from fleet import finish, wait_for_line

ALL = {"DBINIT_PG_TRANSACTION": "all", "DBINIT_LINT": "off"}


def twelve(migrations, failing: int | None = None) -> None:
    for i in range(1, 13):
        body = f"CREATE TABLE t{i} (id int);\nINSERT INTO t{i} VALUES ({i});\n"
        if i == failing:
            body = f"CREATE TABLE t{i} (id int);\nINSERT INTO t{i} VALUES ('not a number');\n"
        migrations.write(f"V{i:03d}-t{i}-up.sql", body)


def transactions(pg) -> list[str]:
    """The transaction that wrote each history row, in version order."""
    return pg.sql("SELECT string_agg(xmin::text, ',' ORDER BY version COLLATE \"C\") FROM dbinit.dbinit_schema_history"
                  ).split(",")


def test_twelve_files_commit_in_one_transaction_and_the_report_says_so(pg, migrations, redis_db, tmp_path):
    twelve(migrations)
    migrations.write("V001-flag.redis", "SET flag on\n")
    report = tmp_path / "report.json"
    done = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url, REDIS_URL=redis_db.url(),
                      DBINIT_REPORT=str(report), **ALL)
    assert done.returncode == 0, done.stderr
    assert "applying 12 file(s) in one transaction: V001 to V012" in done.stderr
    assert re.search(r"applied V012 t12 \(\d+ ms\)", done.stderr)  # the contract's line, as per file
    assert len(set(transactions(pg))) == 1 and len(transactions(pg)) == 12
    databases = json.loads(report.read_text())["databases"]
    assert databases["postgres"]["one_transaction"] is True and len(databases["postgres"]["applied"]) == 12
    assert databases["redis"]["one_transaction"] is False  # Redis cannot join it: each file is its own MULTI


def test_the_eleventh_of_twelve_failing_leaves_nothing_of_the_first_ten_and_no_history(pg, migrations, tmp_path):
    twelve(migrations, failing=11)
    report = tmp_path / "report.json"
    failed = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        DBINIT_REPORT=str(report), **ALL)
    assert failed.returncode == 1, failed.stderr
    assert "V011-t11-up.sql:2: SQLSTATE 22P02: invalid input syntax for type integer" in failed.stderr, failed.stderr
    assert "rolled back, and with it the 11 other file(s) of this transaction: none is applied" in failed.stderr
    assert pg.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"
    assert pg.sql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "0"
    assert json.loads(report.read_text())["databases"]["postgres"]["applied"] == []

    # Per file (the default), the first ten stay.
    again = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url, DBINIT_LINT="off")
    assert again.returncode == 1
    assert pg.sql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "10"


def test_each_file_s_record_has_its_own_duration_not_the_transaction_s_so_far(pg, migrations):
    migrations.write("V001-a-up.sql", "CREATE TABLE a (id int);\n")
    migrations.write("V002-slow-up.sql", "SELECT pg_sleep(1);\n")
    migrations.write("V003-b-up.sql", "CREATE TABLE b (id int);\n")
    done = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url, **ALL)
    assert done.returncode == 0, done.stderr
    ms = dict(row.split(":") for row in pg.sql(
        "SELECT string_agg(version || ':' || execution_ms, ',') FROM dbinit.dbinit_schema_history").split(","))
    # The sleep is V002's alone: V003, a CREATE TABLE, measured from the transaction's start would be
    # over 1,000 ms too (the bound is the sleep, far above a CREATE TABLE's few ms).
    assert int(ms["2"]) >= 1000 and int(ms["3"]) < 1000, ms


def test_a_dry_run_says_the_files_would_run_in_one_transaction(pg, migrations):
    twelve(migrations)
    dry = run_dbinit("migrate", "--dry-run", "--migrations", str(migrations.path), POSTGRES_URL=pg.url, **ALL)
    assert dry.returncode == 0 and "would apply them in one transaction" in dry.stderr, dry.stderr
    assert pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NULL") == "t"


def test_a_pending_no_transaction_file_is_refused_before_anything_runs(pg, migrations):
    twelve(migrations)
    migrations.write("V013-index-up.sql", "-- dbinit: no-transaction\nCREATE INDEX CONCURRENTLY t1_id ON t1 (id);\n")
    refused = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url, **ALL)
    failure_modes.check(refused, "a no-transaction file pending with every file in one transaction", "postgres")
    assert "V013-index-up.sql:1: is a no-transaction file" in refused.stderr and "nothing was run" in refused.stderr
    assert pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NULL") == "t"
    assert pg.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"


def test_post_deploy_files_are_a_transaction_of_their_own(pg, migrations):
    for i in (1, 2):
        migrations.write(f"V00{i}-t{i}-up.sql", f"CREATE TABLE t{i} (id int, legacy text);\n")
    assert run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url, **ALL).returncode == 0
    migrations.write("V003-t3-up.sql", "CREATE TABLE t3 (id int);\n")
    migrations.write("V004-t4-up.sql", "CREATE TABLE t4 (id int);\n")
    migrations.write("V005-drop-legacy-up.sql", "-- dbinit: post-deploy\nALTER TABLE t1 DROP COLUMN legacy;\n")
    migrations.write("V006-drop-legacy-up.sql", "-- dbinit: post-deploy\nALTER TABLE t2 DROP COLUMN legacy;\n")
    done = run_dbinit("migrate", "--post-deploy", "--migrations", str(migrations.path), POSTGRES_URL=pg.url, **ALL)
    assert done.returncode == 0, done.stderr
    assert "applying 2 file(s) in one transaction: V003 to V004" in done.stderr
    assert "applying 2 file(s) in one transaction: V005 to V006 (post-deploy)" in done.stderr
    first, _, pre3, pre4, post5, post6 = transactions(pg)
    assert pre3 == pre4 != post5 == post6 and first != pre3


def test_the_lock_timeout_and_its_retries_wrap_the_whole_group(pg, migrations):
    pg.sql("CREATE TABLE busy (id int)")
    migrations.write("V001-a-up.sql", "CREATE TABLE a (id int);\n")
    migrations.write("V002-b-up.sql", "CREATE TABLE b (id int);\n")
    migrations.write("V003-busy-up.sql", "ALTER TABLE busy ADD COLUMN note text;\n")
    holder = psycopg.connect(pg.url)
    holder.execute("LOCK TABLE busy IN ACCESS SHARE MODE")  # a long report reading it
    proc = start_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        DBINIT_PG_LOCK_TIMEOUT="0.2", **ALL)
    try:
        seen = wait_for_line(proc, "gave up waiting 0.2 s for a lock (attempt 1 of 11)")
        assert "V001…V003 (3 files in one transaction)" in seen[-1]
        # While it waits, nothing of the group is visible: the two files before were rolled back with it.
        assert pg.sql("SELECT to_regclass('public.a') IS NULL") == "t"
    finally:
        threading.Thread(target=holder.close).start()
    code, err = finish(proc)
    assert code == 0, err
    assert len(set(transactions(pg))) == 1
    assert pg.sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'busy'") == "2"


def test_a_setting_that_is_neither_file_nor_all_is_a_configuration_error(pg, migrations):
    twelve(migrations)
    refused = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                         DBINIT_PG_TRANSACTION="group")
    assert refused.returncode == 78 and "DBINIT_PG_TRANSACTION" in refused.stderr, refused.stderr
    assert pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NULL") == "t"
