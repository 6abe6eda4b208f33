"""PostgreSQL: history table, the lock, one transaction per migration sent as one round trip."""
from __future__ import annotations

import psycopg
from psycopg import sql as pgsql

from ... import log
from ...contract import Backend, Progress
from ...errors import ConnectionLost, DbinitError, MigrationFailed, NotReady
from ...history import Applied
from ...migration import Migration, Statement
from .activity import Activity
from .lock_waits import LOCK_NOT_AVAILABLE, LockWait, timeouts, with_lock_retries
from .locking import TABLE, AdvisoryLock, LeaseRowLock
from .server_errors import classify_connect_error, describe_error, last_words
from .settings import PostgresSettings
from .sql import SqlScript, SqlStatement, parse

COLUMNS = "version, description, script, checksum, applied_at, execution_ms, success, applied_by"


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, settings: PostgresSettings, lease_s: float):
        super().__init__(lease_s)
        self.settings = settings
        self.conn: psycopg.Connection | None = None
        # The history table lives in a schema of its own, so that a migration resetting the
        # application's schema (DROP SCHEMA public CASCADE) cannot take dbinit's history with it;
        # every statement of dbinit's names it, whatever search_path a file sets.
        self.schema = settings.schema
        self.table = f'"{self.schema}".{TABLE}'
        self.reset = "RESET ALL"  # after each file: what it SET for the session never reaches the next
        # Behind a transaction-mode pooler each transaction may run on another server connection:
        # no session advisory lock, no session settings; a lock row with a fenced lease instead.
        self.locking = LeaseRowLock(self) if settings.pooler == "transaction" else AdvisoryLock(self)
        self.leased = self.locking.leased
        self.activity = Activity(self)

    def open(self, timeout: float) -> psycopg.Connection:
        from psycopg.conninfo import conninfo_to_dict

        # client_encoding: a legacy SQL_ASCII database would otherwise hand back bytes, not text.
        # No server-side prepared statements: a pooler hands each transaction another connection.
        kwargs = {"connect_timeout": max(2, int(timeout)), "application_name": f"dbinit {self.owner}"[:63],
                  "autocommit": True, "client_encoding": "utf8", "prepare_threshold": None}
        given = conninfo_to_dict(self.settings.conninfo)
        if self.settings.password is not None and "password" not in given:
            kwargs["password"] = self.settings.password
        if "," in str(given.get("host", "")) and "target_session_attrs" not in given:
            kwargs["target_session_attrs"] = "read-write"  # of several hosts, migrate the primary
        return psycopg.connect(self.settings.conninfo, **kwargs)

    def connect(self, timeout: float) -> None:
        try:
            conn = self.open(timeout)
            standby = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        except psycopg.Error as e:
            raise classify_connect_error(e, self.settings.display()) from None
        if standby:  # never migrate a standby: wait for it to be promoted, or for the deadline
            conn.close()
            raise NotReady(f"postgres: only a standby answered (in recovery) at {self.settings.display()}; "
                           "waiting for a primary")
        self.conn = conn

    @property
    def connection(self) -> psycopg.Connection:
        """The migrating session (connected: readiness made it)."""
        assert self.conn is not None
        return self.conn

    def close(self) -> None:
        if isinstance(self.locking, LeaseRowLock):
            self.locking.close()
        self.activity.close()
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # The lock, as its kind takes it.
    def try_lock(self) -> bool:
        return self.locking.take()

    def lock_holder(self) -> str:
        return self.locking.holder()

    def renew_lock(self) -> bool:
        return self.locking.renew()

    def holds_lock(self) -> bool:
        return self.locking.holds()

    def unlock(self) -> None:
        if self.conn is not None and not self.conn.closed:
            if self.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.connection.rollback()  # an interrupted migration: its transaction goes first
            self.locking.release()

    def _raise_if_fenced(self, error: psycopg.Error) -> None:
        if error.diag.message_hint == "dbinit-fence":
            raise self.lease_lost("; the transaction was rolled back") from None

    def _write(self, query: str, params: tuple[object, ...]) -> None:
        """A history write outside a migration (baseline, repair): fenced when the lock is a lease."""
        try:
            with self.connection.transaction():
                if fence := self.locking.fence():
                    self.connection.execute(fence)
                self.connection.execute(query, params)
        except psycopg.Error as e:
            self._raise_if_fenced(e)
            raise

    def precheck(self, migrations: list[Migration]) -> None:
        for m in migrations:
            self.locking.refuse_no_transaction(m)

    def describe(self, migration: Migration, elapsed: float) -> Progress:
        """What pg_stat_activity and the pg_stat_progress_* views say of the migrating session."""
        return self.activity.describe()

    def translate(self, error: Exception) -> DbinitError | None:
        if isinstance(error, psycopg.OperationalError) and (self.conn is None or self.conn.broken or self.conn.closed):
            return ConnectionLost(self.name, last_words(error))
        if isinstance(error, psycopg.Error):
            return DbinitError(f"postgres: the server refused dbinit's own statement: {describe_error(error)}")
        return None


    def _legacy_table(self) -> str | None:
        """dbinit 0.1 kept its history in the current schema: where it still is, it is read there
        and moved on the next write."""
        row = self.connection.execute("SELECT to_regclass(%s)::text, to_regclass(%s)::text",
                                (self.table, TABLE)).fetchone()
        return row[1] if row[0] is None and row[1] is not None else None

    def history(self) -> list[Applied]:
        table = self.table
        if self.connection.execute("SELECT to_regclass(%s)", (self.table,)).fetchone()[0] is None:
            if (table := self._legacy_table()) is None:
                return []
        rows = self.connection.execute(f"SELECT {COLUMNS} FROM {table}").fetchall()
        return [Applied(*row) for row in rows]

    def prepare(self) -> None:
        self.connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        if (legacy := self._legacy_table()) is not None:
            self.connection.execute(f'ALTER TABLE {legacy} SET SCHEMA "{self.schema}"')
        self.connection.execute(f"""CREATE TABLE IF NOT EXISTS {self.table} (
            version text PRIMARY KEY,
            description text NOT NULL,
            script text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            execution_ms integer NOT NULL,
            success boolean NOT NULL,
            applied_by text NOT NULL)""")

    def _history_row(self, migration: Migration, success: bool) -> pgsql.Composed:
        # now() is the transaction's start and clock_timestamp() the present: the server measures the run.
        values = pgsql.SQL(", ").join(map(pgsql.Literal, (migration.version, migration.description, migration.script,
                                                          migration.checksum)))
        return pgsql.SQL("INSERT INTO {} ({}) VALUES ({}, now(), (extract(epoch FROM clock_timestamp() - now()) * 1000)"
                         "::int, {}, {}) RETURNING {}").format(
            pgsql.Identifier(self.schema, TABLE), pgsql.SQL(COLUMNS), values, pgsql.Literal(success), pgsql.Literal(self.owner),
            pgsql.SQL(COLUMNS))


    def _one_round_trip(self, migration: Migration, script: SqlScript, tail: pgsql.Composable,
                        lock_ms: int) -> psycopg.Cursor:
        """BEGIN, the statements, `tail` and COMMIT sent as one simple query: one round trip per
        migration. On failure all of it is rolled back and the error names the statement's line."""
        begin = "BEGIN;\n" + timeouts(self, lock_ms, "LOCAL")
        parts, offsets, position = [begin], [], len(begin)
        for stmt in script.statements:
            offsets.append(position)
            parts.append(stmt.text + "\n;\n")  # newline first: a trailing -- comment must not swallow the ;
            position += len(stmt.text) + 3
        parts.append(tail.as_string(self.connection) + ";\nCOMMIT;\n" + self.reset)
        try:
            return self.connection.execute("".join(parts))
        except psycopg.Error as e:
            if self.connection.broken or self.connection.closed:
                raise ConnectionLost(self.name, last_words(e), migration.path,
                                     "a transaction cut off before its COMMIT was rolled back") from None
            if self.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.connection.execute("ROLLBACK")
            self._raise_if_fenced(e)
            if e.sqlstate == LOCK_NOT_AVAILABLE:
                raise LockWait() from None
            at = int(e.diag.statement_position or 0) - 1
            for stmt, offset in zip(script.statements, offsets):
                if 0 <= at - offset < len(stmt.text):
                    raise self._failure(migration, stmt, e, [], True, at - offset) from None
            raise self._locate(migration, script, e, lock_ms) from None

    def _locate(self, migration: Migration, script: SqlScript, error: psycopg.Error, lock_ms: int) -> MigrationFailed:
        """An error without a position: run the statements again, one by one, in a transaction
        that is always rolled back (with the same timeouts), to find the one that fails (the
        failure path only)."""
        with self.connection.transaction(force_rollback=True):
            self.connection.execute(timeouts(self, lock_ms, "LOCAL"))
            for stmt in script.statements:
                try:
                    with self.connection.transaction():
                        self.connection.execute(stmt.text)
                except psycopg.Error as e:
                    return self._failure(migration, stmt, e, [], True, e.diag.statement_position and
                                         int(e.diag.statement_position) - 1)
        return MigrationFailed(self.name, migration.path, describe_error(error) + "; the migration was rolled back")

    def _run_each(self, migration: Migration, script: SqlScript, done: list[Statement]) -> None:
        """A no-transaction migration: each statement on its own, as psql would run them, each with
        the lock timeout and its own retries."""
        for stmt in script.statements:
            with_lock_retries(self, migration, lambda lock_ms, stmt=stmt: self._run_one(migration, stmt, lock_ms, done))
            done.append(stmt)

    def _run_one(self, migration: Migration, stmt: SqlStatement, lock_ms: int, done: list[Statement]) -> None:
        try:
            self.connection.execute(timeouts(self, lock_ms, "SESSION"))
            self._drop_invalid_index(migration, stmt)
            self._execute(stmt)
        except psycopg.Error as e:
            if self.connection.broken or self.connection.closed:
                raise ConnectionLost(self.name, last_words(e), migration.path,
                                     f"{len(done)} statement(s) of this no-transaction file had run") from None
            if e.sqlstate == LOCK_NOT_AVAILABLE:
                raise LockWait() from None
            raise self._failure(migration, stmt, e, done, False, e.diag.statement_position and
                                int(e.diag.statement_position) - 1) from None

    def _drop_invalid_index(self, migration: Migration, stmt: SqlStatement) -> None:
        """A CREATE INDEX CONCURRENTLY that failed (deadlock, lock timeout, a duplicate, a kill)
        leaves an INVALID index, which IF NOT EXISTS would keep forever: drop it before building."""
        if stmt.index is None:
            return
        invalid = self.connection.execute("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
                                    (stmt.index,)).fetchone()
        if invalid and invalid[0]:
            log.warn(self.name, f"{migration.path}:{stmt.line}: index {stmt.index} is INVALID, left by a build "
                     "that failed; dropping it to build it again")
            self.connection.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {stmt.index}")

    def _failure(self, migration: Migration, stmt: Statement, e: psycopg.Error, done: list[Statement],
                 transactional: bool, offset: int | None) -> MigrationFailed:
        line = stmt.line + (stmt.text[:offset].count("\n") if offset else 0)
        detail = describe_error(e)
        if transactional:
            detail += "; the migration was rolled back"
        elif done:
            detail += f"; {len(done)} earlier statement(s) of this no-transaction migration stay committed, " \
                      "it is marked failed until 'dbinit repair'"
        first = stmt.text.splitlines()[0][:120]
        return MigrationFailed(self.name, migration.path, f"{detail} (statement: {first})", line, first, e.sqlstate)

    def _execute(self, stmt: SqlStatement) -> psycopg.Cursor:
        """One statement; a COPY … FROM stdin gets its rows through the COPY protocol."""
        if stmt.copy is None:
            return self.connection.execute(stmt.text)
        cursor = self.connection.cursor()
        with cursor.copy(stmt.text) as copy:
            copy.write(stmt.copy)
        return cursor

    def _with_copies(self, migration: Migration, script: SqlScript, lock_ms: int) -> Applied:
        """A file with COPY rows (pg_dump's data) cannot go as one simple query: its statements run
        one by one, still in one transaction with the history row."""
        stmt = script.statements[0]
        try:
            with self.connection.transaction():
                self.connection.execute(timeouts(self, lock_ms, "LOCAL"))
                for stmt in script.statements:
                    self._execute(stmt)
                row = self.connection.execute(self._history_row(migration, True)).fetchone()
        except psycopg.Error as e:
            if self.connection.broken or self.connection.closed:
                raise ConnectionLost(self.name, last_words(e), migration.path,
                                     "a transaction cut off before its COMMIT was rolled back") from None
            self._raise_if_fenced(e)
            if e.sqlstate == LOCK_NOT_AVAILABLE:
                raise LockWait() from None
            raise self._failure(migration, stmt, e, [], True, e.diag.statement_position and
                                int(e.diag.statement_position) - 1) from None
        self.connection.execute(self.reset)
        return Applied(*row)

    def apply(self, migration: Migration) -> Applied:
        script = parse(migration)
        if script.transactional and script.copies:
            return with_lock_retries(self, migration, lambda ms: self._with_copies(migration, script, ms))
        if script.transactional:
            cursor = with_lock_retries(self, migration, lambda ms: self._one_round_trip(
                migration, script, self._history_row(migration, True), ms))
            row = None
            while True:  # one result each for BEGIN, the statements, the history row and COMMIT
                if cursor.description is not None:
                    row = cursor.fetchone()  # the last one with rows is the history row's RETURNING
                if not cursor.nextset():
                    return Applied(*row)
        done: list[Statement] = []
        try:
            self._run_each(migration, script, done)
        except MigrationFailed:
            self.connection.execute(self.reset)
            self.connection.execute(self._history_row(migration, False))
            raise
        applied = Applied(*self.connection.execute(self._history_row(migration, True)).fetchone())
        self.connection.execute(self.reset)
        return applied

    def revert(self, migration: Migration, down: Migration) -> None:
        """Run a down script and remove the migration's history row, in one transaction where allowed."""
        script = parse(down)
        forget = pgsql.SQL("DELETE FROM {} WHERE version = {}").format(pgsql.Identifier(self.schema, TABLE),
                                                                      pgsql.Literal(migration.version))
        if script.transactional:
            with_lock_retries(self, down, lambda ms: self._one_round_trip(down, script, forget, ms))
        else:
            self.locking.refuse_no_transaction(down)
            self._run_each(down, script, [])
            self.connection.execute(self.reset)
            self.connection.execute(forget)

    def record(self, applied: Applied) -> None:
        self._write(
            f"INSERT INTO {self.table} ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (applied.version, applied.description, applied.script, applied.checksum, applied.applied_at,
             applied.execution_ms, applied.success, self.owner),
        )

    def set_checksum(self, version: str, checksum: str) -> None:
        self._write(f"UPDATE {self.table} SET checksum = %s WHERE version = %s", (checksum, version))

    def forget(self, version: str) -> None:
        self._write(f"DELETE FROM {self.table} WHERE version = %s", (version,))
