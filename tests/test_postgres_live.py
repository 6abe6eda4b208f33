"""Migrating a PostgreSQL that serves traffic: a migration never holds the application's queries
behind its lock queue for longer than the lock timeout, and a failed CONCURRENTLY build is cleaned
up. Real sessions: a long transaction, a loop of readers, dbinit and plain psql side by side."""
import subprocess
import threading
import time

import psycopg

from conftest import run_dbinit, start_dbinit


class Readers:
    """A loop of reads on a table from its own connection, noting the slowest."""

    def __init__(self, url: str, table: str):
        self.url, self.table, self.worst, self.count = url, table, 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.is_set():
                start = time.monotonic()
                conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()
                self.worst = max(self.worst, time.monotonic() - start)
                self.count += 1
                time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)


def hold_lock_for(url: str, seconds: float, table: str = "accounts") -> tuple[threading.Thread, list[int]]:
    """A session idle in a transaction that wrote to `table`, for `seconds` (a stuck request, a
    long report): its lock conflicts with any ALTER TABLE."""
    pid: list[int] = []
    ready = threading.Event()

    def hold() -> None:
        with psycopg.connect(url, application_name="long-report") as conn:
            pid.append(conn.info.backend_pid)
            conn.execute(f"UPDATE {table} SET balance = balance WHERE id = 1")
            ready.set()
            time.sleep(seconds)
            conn.commit()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    ready.wait(10)
    return thread, pid


def make_accounts(pg) -> None:
    pg.sql("CREATE TABLE accounts (id int PRIMARY KEY, balance int); "
           "INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 1000) g")


def test_a_blocked_alter_retries_with_short_lock_waits_so_readers_never_stall_and_psql_would(pg, migrations,
                                                                                             postgres_server):
    make_accounts(pg)
    migrations.write("V001-add-currency-up.sql", "ALTER TABLE accounts ADD COLUMN currency text;\n")
    hold_s, lock_s = 8.0, 0.5

    holder, pid = hold_lock_for(pg.url, hold_s)
    with Readers(pg.url, "accounts") as with_dbinit:
        result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                            DBINIT_PG_LOCK_TIMEOUT=str(lock_s))
    holder.join()
    assert result.returncode == 0, result.stderr
    assert f"gave up waiting {lock_s:g} s for a lock (attempt 1 of 11); blocked by pid {pid[0]}" in result.stderr
    assert "application 'long-report', idle in transaction" in result.stderr
    assert pg.sql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'currency'") == "1"
    # A reader waits at most one of dbinit's lock waits (0.5 s), behind psql's ALTER the whole hold
    # (8 s): half the hold is far from both, and from a loaded machine's noise.
    assert with_dbinit.worst < hold_s / 2, with_dbinit.worst

    pg.sql("ALTER TABLE accounts DROP COLUMN currency")
    holder, _ = hold_lock_for(pg.url, hold_s)
    with Readers(pg.url, "accounts") as with_psql:
        subprocess.run([str(postgres_server.bindir / "psql"), pg.url, "-Xqc",
                        "ALTER TABLE accounts ADD COLUMN currency text"], check=True, capture_output=True)
    holder.join()
    assert with_psql.worst > hold_s - 2, with_psql.worst  # every reader queued behind the waiting ALTER
    print(f"\nreaders' worst latency: with dbinit {with_dbinit.worst:.2f} s ({with_dbinit.count} reads), "
          f"with psql {with_psql.worst:.2f} s ({with_psql.count} reads); lock held {hold_s} s")


def test_when_the_retries_run_out_the_migration_fails_naming_the_blocker_and_nothing_is_applied(pg, migrations):
    make_accounts(pg)
    bad = migrations.write("V001-add-currency-up.sql", "ALTER TABLE accounts ADD COLUMN currency text;\n")
    holder, pid = hold_lock_for(pg.url, 8)
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        DBINIT_PG_LOCK_TIMEOUT="0.3", DBINIT_PG_LOCK_RETRIES="1")
    holder.join()
    assert result.returncode == 1, result.stderr
    assert f"{bad}: gave up waiting for a lock 2 times" in result.stderr and f"blocked by pid {pid[0]}" in result.stderr
    assert "nothing of this migration was applied" in result.stderr
    assert pg.sql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'currency'") == "0"
    assert pg.sql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "0"


def test_a_statement_timeout_bounds_a_slow_statement(pg, migrations):
    migrations.write("V001-slow-up.sql", "SELECT pg_sleep(60);\n")
    started = time.monotonic()
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        DBINIT_PG_STATEMENT_TIMEOUT="0.5")
    assert result.returncode == 1 and "SQLSTATE 57014" in result.stderr and "statement timeout" in result.stderr
    assert time.monotonic() - started < 20  # the 0.5 s bound, far from the minute the statement would take


def test_a_failed_concurrent_index_build_leaves_an_invalid_index_that_the_next_run_drops_and_builds_again(pg, migrations):
    pg.sql("CREATE TABLE users (id int, email text); INSERT INTO users VALUES (1, 'a'), (2, 'a')")
    migrations.write("V001-unique-email-up.sql", "-- dbinit: no-transaction\n"
                                                 "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);\n")
    failed = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    assert failed.returncode == 1 and "23505" in failed.stderr
    assert pg.sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email'::regclass") == "f"
    pg.sql("UPDATE users SET email = 'b' WHERE id = 2")  # a person fixes the data
    assert run_dbinit("repair", "--migrations", str(migrations.path), POSTGRES_URL=pg.url).returncode == 0
    fixed = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    assert fixed.returncode == 0, fixed.stderr
    assert 'index "users_email" is INVALID, left by a build that failed; dropping it' in fixed.stderr
    assert pg.sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email'::regclass") == "t"


def test_a_concurrent_index_build_waiting_on_a_long_transaction_retries_then_succeeds(pg, migrations):
    make_accounts(pg)
    migrations.write("V001-index-up.sql", "-- dbinit: no-transaction\n"
                                          "CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_balance ON accounts (balance);\n")
    holder, pid = hold_lock_for(pg.url, 3)
    proc = start_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        DBINIT_PG_LOCK_TIMEOUT="0.5")
    out, err = proc.communicate(timeout=60)
    holder.join()
    assert proc.returncode == 0, err
    assert "gave up waiting 0.5 s for a lock" in err
    assert pg.sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'accounts_balance'::regclass") == "t"
