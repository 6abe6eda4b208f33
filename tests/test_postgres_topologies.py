"""PostgreSQL as production runs it: behind PgBouncer in transaction pooling mode, and a primary
with a streaming standby (pg_basebackup -R), all real processes started by the harness."""
import time
from types import SimpleNamespace

import pytest

from conftest import Result, run_dbinit, start_dbinit
from failure_modes import check
from fleet import Fleet, finish, wait_for_line

POOLED = {"DBINIT_PG_POOLER": "transaction"}


@pytest.fixture
def bouncer(make_server):
    """A PostgreSQL and a PgBouncer in transaction mode in front of it; .db reads behind it."""
    pg = make_server("postgres").start()
    pg.psql("CREATE DATABASE app")
    pool = make_server("pgbouncer", postgres=pg).start()
    pool.db = SimpleNamespace(url=pool.url("app"), sql=lambda q: pg.psql(q, dbname="app"))
    return pool


def test_ten_runners_through_pgbouncer_in_transaction_mode_apply_fifty_migrations_exactly_once(bouncer, migrations):
    fleet = Fleet(migrations, postgres=bouncer.db)
    fleet.env.update(POOLED)
    fleet.write(50)
    results = [finish(p) for p in [fleet.start() for _ in range(10)]]
    assert [code for code, _ in results] == [0] * 10, [err[-1500:] for code, err in results if code]
    assert fleet.assert_consistent(complete=True) == {"postgres": 50}
    assert sum(err.count(" applied ") for _, err in results) == 50
    assert bouncer.db.sql("SELECT count(*) FROM dbinit.dbinit_lock") == "0"  # released


def test_a_runner_killed_behind_pgbouncer_blocks_the_next_run_no_longer_than_its_lease(bouncer, migrations):
    fleet = Fleet(migrations, postgres=bouncer.db)
    fleet.env.update(POOLED)
    fleet.write(40, pg_sleep=0.05)
    runner = fleet.start()
    wait_for_line(runner, "applied ")
    runner.kill()
    runner.wait()
    killed_at = time.monotonic()
    code, err = finish(fleet.start())
    assert code == 0, err
    assert time.monotonic() - killed_at < float(fleet.env["DBINIT_LOCK_LEASE"]) + 8
    assert fleet.assert_consistent(complete=True)


def test_status_baseline_repair_and_down_work_through_pgbouncer(bouncer, migrations):
    env = {"POSTGRES_URL": bouncer.db.url, **POOLED}
    for n in (1, 2, 3):
        migrations.write(f"V{n}-t{n}-up.sql", f"CREATE TABLE t{n} (id int);")
        migrations.write(f"V{n}-t{n}-down.sql", f"DROP TABLE t{n};")
    assert run_dbinit("baseline", "--to", "postgres=V1", "--migrations", str(migrations.path), **env).returncode == 0
    bouncer.db.sql("CREATE TABLE t1 (id int)")
    assert run_dbinit("migrate", "--migrations", str(migrations.path), **env).returncode == 0
    (migrations.path / "V3-t3-up.sql").write_text("CREATE TABLE t3 (id int);\n-- edited\n")
    assert run_dbinit("repair", "--migrations", str(migrations.path), **env).returncode == 0
    down = run_dbinit("down", "--to", "V1", "--migrations", str(migrations.path), **env)
    assert down.returncode == 0, down.stderr
    status = run_dbinit("status", "--migrations", str(migrations.path), **env)
    assert status.stdout.count("Baselined") == 1 and status.stdout.count("Pending") == 2
    assert bouncer.db.sql("SELECT to_regclass('t2') IS NULL AND to_regclass('t1') IS NOT NULL") == "t"


def test_a_no_transaction_file_through_a_transaction_pooler_is_refused_naming_the_way_out(bouncer, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);")
    bad = migrations.write("V2-index-up.sql", "-- dbinit: no-transaction\nCREATE INDEX CONCURRENTLY i ON a (id);")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=bouncer.db.url, **POOLED)
    assert result.returncode == 78 and str(bad) in result.stderr
    assert "pointing at PostgreSQL itself" in result.stderr
    assert bouncer.db.sql("SELECT to_regclass('a') IS NULL") == "t"


@pytest.fixture
def primary_and_standby(make_server):
    primary = make_server("postgres").start()
    standby = make_server("postgres", primary=primary).start()
    return primary, standby


def test_pointed_at_a_standby_alone_dbinit_waits_and_migrates_right_after_promotion(primary_and_standby, migrations):
    primary, standby = primary_and_standby
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);")
    runner = start_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=standby.url(),
                          DBINIT_WAIT_TIMEOUT="60")
    wait_for_line(runner, "only a standby answered", timeout=30)  # its progress line says why it waits
    primary.stop()
    promoted = time.monotonic()
    standby.promote()
    code, err = finish(runner, 60)
    check(Result(code, "", err), "a primary promoted or a failover during the wait", "postgres")
    assert time.monotonic() - promoted < 20  # soon after the promotion, far below the 60 s deadline
    assert standby.psql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "1"


def test_with_both_hosts_listed_standby_first_dbinit_migrates_the_primary(primary_and_standby, migrations):
    primary, standby = primary_and_standby
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);")
    url = f"postgresql://postgres:{primary.password}@127.0.0.1:{standby.port},127.0.0.1:{primary.port}/postgres"
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=url)
    assert result.returncode == 0, result.stderr
    assert primary.psql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "1"


def test_only_a_standby_until_the_deadline_is_69_saying_so(primary_and_standby, migrations):
    _, standby = primary_and_standby
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=standby.url(),
                        DBINIT_WAIT_TIMEOUT="3")
    check(result, "only a standby or replica answers", "postgres")


def test_the_schema_is_recorded_compared_and_accepted_through_pgbouncer(bouncer, migrations):
    env = {"POSTGRES_URL": bouncer.db.url, **POOLED}
    migrations.write("V1-t-up.sql", "CREATE TABLE t (id int);")
    assert run_dbinit("migrate", "--migrations", str(migrations.path), **env).returncode == 0
    assert run_dbinit("check", "--drift", "--migrations", str(migrations.path), **env).returncode == 0
    bouncer.db.sql("CREATE INDEX by_hand ON t (id)")
    drifted = run_dbinit("check", "--drift", "--migrations", str(migrations.path), **env)
    assert drifted.returncode == 4 and "index public.by_hand added" in drifted.stderr
    accepted = run_dbinit("accept", "--reason", "kept", "--migrations", str(migrations.path), **env)
    assert accepted.returncode == 0, accepted.stderr
    assert run_dbinit("check", "--drift", "--migrations", str(migrations.path), **env).returncode == 0
