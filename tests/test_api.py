"""dbinit as a library and as a pytest plugin, against the harness's real servers."""
import logging
import subprocess
import sys
import threading
import time

import pytest

import dbinit
from conftest import ROOT
from dbinit import log, settings


def write_pair(migrations) -> None:
    migrations.write("V1-accounts-up.sql", "CREATE TABLE accounts (id int);\n")
    migrations.write("V2-balance-up.sql", "ALTER TABLE accounts ADD COLUMN balance int;\n")
    migrations.write("V1-flags.redis", "SET feature:x on\n")


def test_migrate_returns_what_it_applied_per_database_and_a_second_call_applies_nothing(pg, redis_db, migrations):
    write_pair(migrations)
    result = dbinit.migrate(migrations.path, postgres_url=pg.url, redis_url=redis_db.url())
    postgres = result.databases["postgres"]
    assert [a.version for a in postgres.applied] == ["1", "2"] and all(a.execution_ms >= 0 for a in postgres.applied)
    assert [a.version for a in result.databases["redis"].applied] == ["1"] and result.up_to_date
    again = dbinit.migrate(migrations.path, postgres_url=pg.url, redis_url=redis_db.url())
    assert again.databases["postgres"].applied == [] and again.databases["postgres"].already_applied == ["V1", "V2"]
    assert dbinit.check(migrations.path, postgres_url=pg.url, redis_url=redis_db.url()).up_to_date


def test_a_call_masks_its_own_secrets_in_what_it_raises_and_forgets_them_when_it_returns(pg, migrations):
    """An application's process makes many calls: each masks its own values (PostgreSQL quotes the
    bad value in its message), and none is kept to mask words in the application's later lines."""
    migrations.write("V1-token-up.sql", "SELECT '${token}'::int;\n")
    with pytest.raises(dbinit.MigrationFailed) as failed:
        dbinit.migrate(migrations.path, postgres_url=pg.url, placeholders={"token": "tok-7Hq-first"})
    assert "invalid input syntax for type integer" in str(failed.value)
    assert "tok-7Hq-first" not in str(failed.value) and log.MASK in str(failed.value)
    assert log.redact("the token tok-7Hq-first") == "the token tok-7Hq-first"  # forgotten with the call
    settings.load({"POSTGRES_URL": pg.url, "DBINIT_PLACEHOLDER_WORD": "password"})  # loaded by hand, not run
    assert log.redact("a password") == "a password"


def test_check_and_status_report_pending_work_without_changing_anything(pg, migrations):
    write_pair(migrations)
    (migrations.path / "V1-flags.redis").unlink()
    checked = dbinit.check(migrations.path, postgres_url=pg.url)
    assert not checked.up_to_date and checked.databases["postgres"].pending == ["V1", "V2"]
    assert dbinit.status(migrations.path, postgres_url=pg.url).databases["postgres"].pending == ["V1", "V2"]
    assert pg.sql("SELECT to_regclass('accounts') IS NULL AND to_regnamespace('dbinit') IS NULL") == "t"


def test_post_deploy_migrations_are_deferred_until_asked_for(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int, legacy text);\n")
    assert dbinit.migrate(migrations.path, postgres_url=pg.url).databases["postgres"].applied
    migrations.write("V2-drop-legacy-up.sql", "-- dbinit: post-deploy\nALTER TABLE a DROP COLUMN legacy;\n")
    deploy = dbinit.migrate(migrations.path, postgres_url=pg.url).databases["postgres"]
    assert deploy.applied == [] and deploy.pending == [] and deploy.deferred == ["V2"]
    assert dbinit.check(migrations.path, postgres_url=pg.url).up_to_date
    after = dbinit.migrate(migrations.path, postgres_url=pg.url, post_deploy=True).databases["postgres"]
    assert [a.version for a in after.applied] == ["2"] and after.deferred == []


def test_a_failing_migration_raises_the_typed_error_naming_file_and_line_and_logs_to_the_dbinit_logger(
        pg, migrations, caplog):
    bad = migrations.write("V1-bad-up.sql", "CREATE TABLE a (id int);\nINSERT INTO nowhere VALUES (1);\n")
    with caplog.at_level(logging.INFO, logger="dbinit"), pytest.raises(dbinit.MigrationFailed) as failed:
        dbinit.migrate(migrations.path, postgres_url=pg.url)
    assert failed.value.path == bad and failed.value.line == 2 and failed.value.exit_code == 1
    assert any(r.name == "dbinit" and "ready after" in r.getMessage() for r in caplog.records)


def test_the_environment_is_read_only_when_asked(pg, migrations, monkeypatch):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    monkeypatch.setenv("POSTGRES_URL", pg.url)
    with pytest.raises(dbinit.ConfigError, match="postgres is not configured"):
        dbinit.migrate(migrations.path)
    assert dbinit.migrate(migrations.path, from_environment=True).databases["postgres"].applied


def test_two_calls_at_once_in_one_process_share_nothing_and_apply_each_migration_once(pg, migrations):
    for n in range(1, 21):
        migrations.write(f"V{n}-m{n}-up.sql", f"CREATE TABLE IF NOT EXISTS marks (n int);\nINSERT INTO marks VALUES ({n});\n")
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(dbinit.migrate(migrations.path, postgres_url=pg.url)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(len(r.databases["postgres"].applied) for r in results) == [0, 20]
    assert pg.sql("SELECT count(*), count(DISTINCT n) FROM marks") == "20|20"


def test_wait_raises_not_ready_at_its_deadline():
    started = time.monotonic()
    with pytest.raises(dbinit.NotReady):
        dbinit.wait(redis_url="redis://127.0.0.1:1/0", timeout=1)
    assert time.monotonic() - started < 10  # at its deadline, not after another wait of its own


PLUGIN_TESTS = '''
import psycopg

def test_the_session_was_migrated_before_the_first_test(dbinit_result):
    assert [a.version for a in dbinit_result.databases["postgres"].applied] == ["1", "2"]

def test_a_fresh_migrated_database_for_this_module(dbinit_postgres_url, dbinit_postgres_factory):
    with psycopg.connect(dbinit_postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM dbinit.dbinit_schema_history").fetchone()[0] == 2
        conn.execute("INSERT INTO accounts VALUES (1, 10)")
    other = dbinit_postgres_factory()
    with psycopg.connect(other) as conn:  # each database is a separate copy
        assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0
'''


def test_the_pytest_plugin_migrates_once_and_hands_out_fresh_databases(pytester, pg, migrations, monkeypatch):
    write_pair(migrations)
    (migrations.path / "V1-flags.redis").unlink()
    pytester.makepyfile(test_app=PLUGIN_TESTS)
    monkeypatch.setenv("POSTGRES_URL", pg.url)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("--dbinit-migrations", str(migrations.path), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert pg.sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'dbinit_%'") == "0"  # all dropped


def test_the_pytest_plugin_is_off_unless_configured(pytester):
    pytester.makepyfile(test_app="def test_nothing(dbinit_result):\n    assert dbinit_result is None\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_whole_package_passes_mypy_strict():
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental",
                             "dbinit"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_fleet_s_settings_are_refused_rather_than_running_the_shared_part_alone(pg, migrations):
    migrations.write("V001-registry-up.sql", "CREATE TABLE tenants (name text);\n")
    with pytest.raises(dbinit.ConfigError, match="the Python API runs one target"):
        dbinit.migrate(migrations.path, postgres_url=pg.url, env={"DBINIT_TENANTS": "acme"})
    assert pg.sql("SELECT to_regclass('tenants') IS NULL") == "t"
