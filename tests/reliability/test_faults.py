"""Exactly once under racing, killed, paused and interrupted runners and databases that go away,
on all three real databases. Every test ends with the same invariant (fleet.assert_consistent)."""
import random
import signal
import time
from types import SimpleNamespace

import pytest

from failure_modes import check
from conftest import Result, run_dbinit
from fleet import SOAK, Fleet, finish, wait_for_line
from servers import wait_for


@pytest.fixture
def fleet(migrations, pg, neo4j_db, redis_db):
    return Fleet(migrations, pg, neo4j_db, redis_db)


def test_ten_runners_started_together_apply_fifty_migrations_per_database_exactly_once(fleet):
    fleet.write(50)
    runners = [fleet.start() for _ in range(10 * SOAK)]
    results = [finish(p) for p in runners]
    assert [code for code, _ in results] == [0] * len(runners), [err[-2000:] for code, err in results if code]
    assert fleet.assert_consistent(complete=True) == {"postgres": 50, "neo4j": 50, "redis": 50}
    assert sum(err.count(" applied ") for _, err in results) == 150  # each file logged once, by one runner


def test_runners_killed_at_random_moments_leave_no_duplicate_and_no_gap_and_a_fresh_run_converges(fleet):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    fleet.write(40, pg_sleep=0.02)
    mid_run = 0
    for _ in range(20 * SOAK):
        before = sum(fleet.assert_consistent().values())
        if before == 3 * fleet.count:  # all done: give the next runner work to be killed in
            fleet.write(40, pg_sleep=0.02)
        runner = fleet.start()
        time.sleep(rng.uniform(0.2, 4.0))
        runner.kill()
        runner.wait()
        fleet.settle()
        after = sum(fleet.assert_consistent().values())  # holds at whatever moment the kill came
        mid_run += before < after < 3 * fleet.count
    code, err = finish(fleet.start())
    assert code == 0, f"seed {seed}: {err[-3000:]}"
    assert fleet.assert_consistent(complete=True)
    assert mid_run >= 3, f"seed {seed}: only {mid_run} kills landed while migrations were being applied"


@pytest.mark.parametrize("db", ["neo4j", "redis"])
def test_a_runner_paused_past_its_lease_writes_nothing_more_and_exits_75(db, migrations, request):
    server = request.getfixturevalue({"neo4j": "neo4j_db", "redis": "redis_db"}[db])
    fleet = Fleet(migrations, **{db: server})
    fleet.write(60 if db == "neo4j" else 1500)
    paused = fleet.start()
    wait_for_line(paused, "applied ")
    paused.send_signal(signal.SIGSTOP)
    try:
        before = fleet.assert_consistent()[db]
        time.sleep(float(fleet.env["DBINIT_LOCK_LEASE"]) + 1)  # the lease runs out
        other = run_dbinit("migrate", "--migrations", str(migrations.path), timeout=300, **fleet.env)
        assert other.returncode == 0, other.stderr
        assert fleet.assert_consistent(complete=True)
    finally:
        paused.send_signal(signal.SIGCONT)
    code, err = finish(paused, 60)
    check(Result(code, "", err), "a runner paused past its lock's lease (PostgreSQL's lock has one behind a pooler)",
          db)
    assert fleet.assert_consistent(complete=True)  # the resumed runner wrote nothing more
    assert 0 < before < fleet.count


def test_a_runner_behind_a_pooler_paused_past_its_postgres_lease_writes_nothing_and_exits_75(migrations, pg,
                                                                                            tmp_path):
    """PostgreSQL's lock is a lease behind a transaction pooler (a lease row; its session lock
    cannot run out: the test below). A paused runner's open transaction keeps that row locked, so it
    is paused where none is open: in the before-migrate hook, under the lock, before the first file."""
    fleet = Fleet(migrations, postgres=pg)
    fleet.env["DBINIT_PG_POOLER"] = "transaction"
    fleet.write(3)
    entered, go = tmp_path / "entered", tmp_path / "go"
    paused = fleet.start(DBINIT_BEFORE_MIGRATE=f"touch {entered}; while [ ! -f {go} ]; do sleep 0.05; done")
    wait_for(entered.exists, 60, "the hook never ran")
    paused.send_signal(signal.SIGSTOP)
    try:
        go.touch()  # the hook ends; the runner, stopped, does not go on
        wait_for(lambda: pg.sql("SELECT count(*) FROM dbinit.dbinit_lock WHERE expires < now()") == "1", 30,
                 "the lease")
        other = run_dbinit("migrate", "--migrations", str(migrations.path), **fleet.env)
        assert other.returncode == 0, other.stderr
        assert fleet.assert_consistent(complete=True)
    finally:
        paused.send_signal(signal.SIGCONT)
    code, err = finish(paused, 60)
    check(Result(code, "", err), "a runner paused past its lock's lease (PostgreSQL's lock has one behind a pooler)",
          "postgres")
    assert fleet.assert_consistent(complete=True)  # the resumed runner wrote nothing


def test_a_neo4j_runner_paused_with_a_transaction_open_finds_it_ended_by_the_new_holder_and_exits_75(
        migrations, neo4j_db):
    """A runner taking over an expired lease terminates what the old holder left open on the
    server. Resumed, the old holder's next word to that transaction (here its history write) is
    refused as terminated: that is the lost lock (75), not a query the server refused (1).
    (PostgreSQL's sibling cannot happen: an open transaction keeps the lease row locked, and no
    runner takes over until it ends; Redis keeps no transaction open between commands.)"""
    fleet = Fleet(migrations, neo4j=neo4j_db)
    fleet.write(1)
    # 16M rows filtered: a second or more on the server, so a poll every 50 ms sees it running.
    migrations.write("2025-01-01-002-mark.cypher", "CREATE (:Mark {n: 2});\nUNWIND range(1, 4000) AS a "
                     "UNWIND range(1, 4000) AS b WITH a, b WHERE a * b = -1 RETURN count(*) AS slow;\n")
    fleet.count = 2
    paused = fleet.start()
    wait_for_line(paused, "applied ")  # the first file; the second's transaction comes next

    with neo4j_db.driver() as driver:
        def runners_statements() -> list[str]:
            return [r["q"] for r in driver.execute_query(
                "SHOW TRANSACTIONS YIELD currentQuery AS q, metaData WHERE metaData.dbinit IS NOT NULL "
                "RETURN q").records]

        wait_for(lambda: any("AS slow" in q for q in runners_statements()), 30, "the slow statement never ran")
        paused.send_signal(signal.SIGSTOP)
        try:
            # The statement ends on the server; its transaction stays open, waiting for the runner.
            wait_for(lambda: runners_statements() == [""], 60, "the statement never ended")
            wait_for(lambda: driver.execute_query("MATCH (l:__DbinitLock) WHERE l.expires < timestamp() "
                                                  "RETURN count(l) AS n").records[0]["n"] == 1, 30, "the lease")
            other = run_dbinit("migrate", "--migrations", str(migrations.path), timeout=120, **fleet.env)
            assert other.returncode == 0, other.stderr
            assert fleet.assert_consistent(complete=True)
            assert [r["status"] for r in driver.execute_query(  # the old holder's, ended by the new one
                "SHOW TRANSACTIONS YIELD status, metaData WHERE metaData.dbinit IS NOT NULL RETURN status").records
            ] == ["Terminated with reason: Status.Code[Neo.ClientError.Transaction.Terminated]"]
        finally:
            paused.send_signal(signal.SIGCONT)
    code, err = finish(paused, 60)
    check(Result(code, "", err), "a runner paused past its lock's lease (PostgreSQL's lock has one behind a pooler)",
          "neo4j")
    assert fleet.assert_consistent(complete=True)


def test_a_paused_postgres_holder_keeps_its_lock_and_others_give_up_naming_it(migrations, pg):
    """Postgres' lock dies with its session, not with a lease: a paused holder still holds it,
    so no other runner may start; once resumed, the holder finishes."""
    fleet = Fleet(migrations, postgres=pg)
    fleet.write(30, pg_sleep=0.05)
    paused = fleet.start()
    wait_for_line(paused, "applied ")
    paused.send_signal(signal.SIGSTOP)
    try:
        other = run_dbinit("migrate", "--migrations", str(migrations.path), **{**fleet.env, "DBINIT_LOCK_TIMEOUT": "2"})
        assert other.returncode == 75, other.stderr
        assert "held by dbinit " in other.stderr
        fleet.assert_consistent()
    finally:
        paused.send_signal(signal.SIGCONT)
    assert finish(paused, 60)[0] == 0
    assert fleet.assert_consistent(complete=True)


# (file, text that runs for a minute after leaving mark 2, the same file made quick)
LONG = {
    "postgres": ("V002-long-up.sql", "INSERT INTO marks VALUES (2);\nSELECT pg_sleep(60);\n",
                 "INSERT INTO marks VALUES (2);\n"),
    "neo4j": ("2025-01-01-002-long.cypher", "CREATE (:Mark {n: 2});\nUNWIND range(1, 30000) AS a "
              "UNWIND range(1, 30000) AS b WITH a, b WHERE a * b = -1 CREATE (:Never);\n", "CREATE (:Mark {n: 2});\n"),
}


def await_long_statement(db: str, server) -> None:
    """Until the server runs LONG's slow statement (dbinit is inside it, not before it)."""
    if db == "postgres":
        server.await_statement("pg_sleep(60)")
        return
    with server.driver() as driver:
        wait_for(lambda: driver.execute_query("SHOW TRANSACTIONS YIELD currentQuery WHERE currentQuery CONTAINS "
                                              "'CREATE (:Never)' RETURN count(*) AS n").records[0]["n"] > 0,
                 30, "the long statement never ran")


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("db", ["postgres", "neo4j"])
def test_a_signal_mid_migration_rolls_it_back_and_releases_the_lock_at_once(db, sig, code, migrations, request):
    server = request.getfixturevalue({"postgres": "pg", "neo4j": "neo4j_db"}[db])
    fleet = Fleet(migrations, **{db: server})
    fleet.write(1)
    name, slow, quick = LONG[db]
    migrations.write(name, slow)
    runner = fleet.start()
    wait_for_line(runner, "applied ")  # the first file: the precheck, which plans the long one too, is over
    await_long_statement(db, server)
    stopped = time.monotonic()
    runner.send_signal(sig)
    code_seen, err = finish(runner, 10)
    assert code_seen == code, err
    assert "rolled back" in err and "locks released" in err
    assert fleet.assert_consistent() == {db: 1}  # mark 2 was rolled back with its migration
    # The lock is free at once: a runner with no patience for a lock gets it.
    migrations.write(name, quick)
    fleet.count = 2
    again = run_dbinit("migrate", "--migrations", str(migrations.path), **{**fleet.env, "DBINIT_LOCK_TIMEOUT": "0.5"})
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - stopped < 15  # seconds, not the minute the statement would have taken
    assert fleet.assert_consistent(complete=True)


def test_redis_sigterm_between_files_keeps_each_file_whole(migrations, redis_db):
    fleet = Fleet(migrations, redis=redis_db)
    fleet.write(1500)
    runner = fleet.start()
    wait_for_line(runner, "applied ")
    runner.send_signal(signal.SIGTERM)
    assert finish(runner, 10)[0] == 143
    assert not redis_db.client().exists("dbinit:lock")
    assert 0 < fleet.assert_consistent()["redis"] < 1500
    assert run_dbinit("migrate", "--migrations", str(migrations.path), **fleet.env).returncode == 0
    assert fleet.assert_consistent(complete=True)


@pytest.mark.parametrize("db", ["postgres", "redis", "neo4j"])
def test_a_database_restarted_mid_run_is_named_with_the_file_and_reason_and_a_later_run_converges(db, migrations,
                                                                                                  make_server):
    if db == "redis":  # a Redis that keeps its data over a restart, as a production one does
        server = make_server("redis", extra=["--appendonly", "yes", "--appendfsync", "always"]).start()
    else:
        server = make_server(db).start()
    target = server
    if db == "postgres":
        server.psql("CREATE DATABASE app")
        target = SimpleNamespace(url=server.url(dbname="app"), sql=lambda q: server.psql(q, dbname="app"))
    fleet = Fleet(migrations, **{db: target})
    fleet.write({"postgres": 60, "redis": 3000, "neo4j": 60}[db], pg_sleep=0.05)
    runner = fleet.start()
    wait_for_line(runner, "applied ")
    server.restart()
    code, err = finish(runner, 60)
    check(Result(code, "", err), "the connection dropped in the middle of a file", db)
    last = err.strip().splitlines()[-1]
    # Between two files dbinit sends nothing, so the loss is always seen in a file, which it names.
    assert f"ERROR {db}: {db}: the connection was lost while running " in last, err
    assert ("-mark-up.sql: " if db == "postgres" else "-mark.cypher: " if db == "neo4j" else "-mark.redis: ") in last
    assert "Traceback" not in err and "OperationalError" not in err
    fleet.assert_consistent()
    code, err = finish(fleet.start())
    assert code == 0, err
    assert fleet.assert_consistent(complete=True)


def test_a_redis_still_loading_its_data_is_waited_for_before_migrating(migrations, make_server):
    rd = make_server("redis", extra=["--enable-debug-command", "local"]).start()
    rd.restart_loading()
    fleet = Fleet(migrations, redis=rd)
    fleet.write(3)
    result = run_dbinit("migrate", "--migrations", str(migrations.path), **fleet.env)
    assert result.returncode == 0, result.stderr
    assert fleet.assert_consistent(complete=True)
