"""PostgreSQL: history table, session advisory lock, one transaction per migration."""
from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql as pgsql
from .. import log
from ..errors import AuthRefused, ConfigError, ConnectionLost, DbinitError, LockLost, MigrationFailed, NotReady
from ..files import Migration, Statement
from ..plan import Applied
from ..settings import PostgresSettings
from ..sql import SqlScript, SqlStatement, parse
from .base import Backend, owner_id

TABLE = "dbinit_schema_history"
LOCK_TABLE = "dbinit_lock"  # the lock row used behind a transaction-mode pooler
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout ran out (or NOWAIT)
# libpq's connection errors carry no SQLSTATE: classify the server's words, transient ones first.
_TRANSIENT = ("resolve host", "translate host name", "connection refused", "starting up", "shutting down",
              "not accepting connections", "recovery", "timeout expired", "closed the connection", "no such file",
              "too many", "could not receive", "terminating connection", "connection reset", "network is unreachable")
_AUTH = ("password authentication failed", "no pg_hba.conf entry", "authentication failed", "permission denied",
         "password is required", "no password supplied", 'role "')
_STANDBY = ("read-only", "hot standby", "in recovery")
_CONFIG = ('database "', "ssl", "certificate", "invalid", "unsupported", "gssapi")

COLUMNS = "version, description, script, checksum, applied_at, execution_ms, success, applied_by"


def classify_connect_error(e: psycopg.Error, where: str) -> Exception:
    """Wrong credentials and bad settings fail at once; anything else is worth another try."""
    text = str(e).strip()
    said = text.rsplit("failed: ", 1)[-1].lower()  # the server's or libpq's words, not the host name
    if isinstance(e, psycopg.ProgrammingError):
        return ConfigError(f"postgres: bad connection settings for {where}: {text}")
    if any(s in said for s in _STANDBY):
        return NotReady(f"postgres: only a standby answered ({said.strip()}); waiting for a primary at {where}")
    if any(s in said for s in _TRANSIENT):
        return NotReady(f"postgres: {text.splitlines()[-1]}")
    if any(s in said for s in _AUTH):
        return AuthRefused(f"postgres: authentication refused at {where}: {text}")
    if any(s in said for s in _CONFIG):
        return ConfigError(f"postgres: {text} ({where})")
    return NotReady(f"postgres: {text.splitlines()[-1] if text else type(e).__name__}")


class _LockWait(Exception):
    """A statement gave up waiting for a lock; its transaction is rolled back and it may be retried."""


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, settings: PostgresSettings):
        self.settings = settings
        self.owner = owner_id()
        self.conn: psycopg.Connection | None = None
        self._lock_key: int | None = None
        # The history table lives in a schema of its own, so that a migration resetting the
        # application's schema (DROP SCHEMA public CASCADE) cannot take dbinit's history with it;
        # every statement of dbinit's names it, whatever search_path a file sets.
        self.schema = settings.schema
        self.table = f'"{self.schema}".{TABLE}'
        self._reset = "RESET ALL"  # after each file: what it SET for the session never reaches the next
        # Behind a transaction-mode pooler each transaction may run on another server connection:
        # no session advisory lock, no session settings; a lock row with a fenced lease instead.
        self.pooled = settings.pooler == "transaction"
        self.leased = self.pooled
        self._renewer: psycopg.Connection | None = None  # the lease thread's own connection
        self._watcher: psycopg.Connection | None = None  # the progress thread's, opened once a migration runs long

    def _open(self, timeout: float) -> psycopg.Connection:
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
            conn = self._open(timeout)
            standby = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        except psycopg.Error as e:
            raise classify_connect_error(e, self.settings.display()) from None
        if standby:  # never migrate a standby: wait for it to be promoted, or for the deadline
            conn.close()
            raise NotReady(f"postgres: only a standby answered (in recovery) at {self.settings.display()}; "
                           "waiting for a primary")
        self.conn = conn

    def close(self) -> None:
        for conn in (self.conn, self._renewer, self._watcher):
            if conn is not None:
                conn.close()
        self.conn = self._renewer = self._watcher = None

    def describe(self, migration: Migration, elapsed: float) -> tuple[str, dict[str, object]] | None:
        """What pg_stat_activity and the pg_stat_progress_* views say of the migrating session."""
        if self.pooled:  # the session behind the pooler is not ours to name
            return None
        if self._watcher is None:
            self._watcher = self._open(10)
        pid = self.conn.info.backend_pid
        row = self._watcher.execute(
            """SELECT a.state, a.wait_event_type, a.wait_event, pg_blocking_pids(a.pid),
                      coalesce(i.phase, c.phase, v.phase),
                      CASE WHEN i.blocks_total > 0 THEN 100.0 * i.blocks_done / i.blocks_total
                           WHEN i.tuples_total > 0 THEN 100.0 * i.tuples_done / i.tuples_total
                           WHEN c.heap_blks_total > 0 THEN 100.0 * c.heap_blks_scanned / c.heap_blks_total
                           WHEN v.heap_blks_total > 0 THEN 100.0 * v.heap_blks_scanned / v.heap_blks_total END,
                      CASE WHEN i.pid IS NOT NULL THEN 'building index' WHEN c.pid IS NOT NULL THEN c.command
                           WHEN v.pid IS NOT NULL THEN 'vacuuming' END
                 FROM pg_stat_activity a
                 LEFT JOIN pg_stat_progress_create_index i ON i.pid = a.pid
                 LEFT JOIN pg_stat_progress_cluster c ON c.pid = a.pid
                 LEFT JOIN pg_stat_progress_vacuum v ON v.pid = a.pid
                WHERE a.pid = %s""", (pid,)).fetchone()
        if row is None:
            return None
        state, wait_type, wait_event, blockers, phase, percent, work = row
        fields: dict[str, object] = {"pid": pid, "state": state}
        if blockers:
            fields.update(blocking_pid=blockers[0], wait_event=f"{wait_type}: {wait_event}")
            return f"waiting for a lock ({wait_type}: {wait_event}) held by pid {blockers[0]} (pid {pid})", fields
        if work:
            fields.update(phase=phase, percent=None if percent is None else round(float(percent)))
            done = "" if percent is None else f", {float(percent):.0f}%"
            return f'{work}, phase "{phase}"{done} (pid {pid})', fields
        waiting = f", waiting on {wait_type}: {wait_event}" if wait_event else ""
        return f"{state}{waiting} (pid {pid})", fields

    def translate(self, error: Exception) -> DbinitError | None:
        if isinstance(error, psycopg.OperationalError) and (self.conn is None or self.conn.broken or self.conn.closed):
            return ConnectionLost(self.name, _reason(error))
        if isinstance(error, psycopg.Error):
            return DbinitError(f"postgres: the server refused dbinit's own statement: {_describe(error)}")
        return None

    # Locking: a session advisory lock on the very session that runs the migrations, keyed by
    # database + schema + table so that two applications sharing a server do not block each other.
    # The lock is free only when that session ends, which is when its work has stopped: a killed
    # runner's migration is not still running on a second connection while another runner starts.
    def try_lock(self) -> bool:
        if self.pooled:
            return self._take_lock_row()
        if self._lock_key is None:
            digest = hashlib.sha256(f"{self.conn.info.dbname}.{self.schema}.{TABLE}".encode()).digest()
            self._lock_key = int.from_bytes(digest[:8], "big", signed=True)
            if self.conn.info.server_version >= 140000 and not self.pooled:
                # The server abandons (rolls back) a vanished runner's migration within a second,
                # instead of running it to its end before the session, and the lock, are freed.
                self._reset = "RESET ALL; SET client_connection_check_interval = 1000"
                self.conn.execute(self._reset)
        return self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key,)).fetchone()[0]

    def lock_holder(self) -> str:
        if self.pooled:
            row = self.conn.execute(f'SELECT owner, extract(epoch FROM expires - now()) FROM "{self.schema}".{LOCK_TABLE} '
                                    "WHERE name = 'migrations'").fetchone()
            return "nobody (just released)" if row is None else f"{row[0]} (lease ends in {max(0, row[1]):.1f} s)"
        row = self.conn.execute(
            """SELECT a.application_name, a.client_addr, a.pid, now() - a.backend_start
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted
                  AND ((l.classid::bigint << 32) | l.objid::bigint) = %s""",
            (self._lock_key,),
        ).fetchone()
        if row is None:
            return "nobody (just released)"
        app, addr, pid, age = row
        return f"{app or 'an unnamed session'} (pid {pid}{f', from {addr}' if addr else ''}, connected {int(age.total_seconds())} s)"

    def unlock(self) -> None:
        if self.conn is not None and not self.conn.closed:
            if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.conn.rollback()  # an interrupted migration: its transaction goes first
            if self.pooled:
                self.conn.execute(f'DELETE FROM "{self.schema}".{LOCK_TABLE} WHERE name = %s AND owner = %s',
                                  ("migrations", self.owner))
            else:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key,))

    # The pooled lock: one row under a primary key, a lease on the server's clock, renewed from a
    # connection of the lease thread's own. Every migration transaction starts with the fence,
    # which extends the lease only if this runner still holds it and keeps the row locked until
    # COMMIT: a runner taking over an expired lease waits for that transaction to end, and then
    # finds the lease extended.
    def _take_lock_row(self) -> bool:
        table = f'"{self.schema}".{LOCK_TABLE}'
        try:
            with self.conn.transaction():
                self.conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                self.conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (name text PRIMARY KEY, owner text NOT NULL, "
                                  "expires timestamptz NOT NULL)")
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject, psycopg.errors.DuplicateTable):
            pass  # racing runners created it first
        try:
            with self.conn.transaction():
                # Bounded: a paused holder may keep the row locked inside its migration.
                self.conn.execute("SET LOCAL lock_timeout = 2000")
                row = self.conn.execute(
                    f"INSERT INTO {table} AS l VALUES ('migrations', %s, now() + %s * interval '1 millisecond') "
                    "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires "
                    "WHERE l.expires < now() RETURNING owner", (self.owner, self._lease_ms)).fetchone()
        except psycopg.errors.LockNotAvailable:
            return False
        return row is not None

    @property
    def _lease_ms(self) -> int:
        return int(self.lease_s * 1000)

    def renew_lock(self) -> bool:
        if self._renewer is None:
            self._renewer = self._open(10)
        row = self._renewer.execute(
            f'UPDATE "{self.schema}".{LOCK_TABLE} SET expires = now() + %s * interval \'1 millisecond\' '
            "WHERE name = 'migrations' AND owner = %s RETURNING 1", (self._lease_ms, self.owner)).fetchone()
        return row is not None

    def holds_lock(self) -> bool:
        if not self.pooled:
            return True
        row = self.conn.execute(f'SELECT owner = %s AND expires > now() FROM "{self.schema}".{LOCK_TABLE} '
                                "WHERE name = 'migrations'", (self.owner,)).fetchone()
        return bool(row and row[0])

    def _raise_if_fenced(self, error: psycopg.Error) -> None:
        if error.diag.message_hint == "dbinit-fence":
            raise LockLost(self.name, "the lease ran out while this run was stopped or cut off; it is now held by "
                           f"{self._holder_or_unknown()}; the transaction was rolled back") from None

    def _write(self, query: str, params: tuple) -> None:
        """A history write outside a migration (baseline, repair): fenced when the lock is a lease."""
        try:
            with self.conn.transaction():
                if self.pooled:
                    self.conn.execute(self._fence())
                self.conn.execute(query, params)
        except psycopg.Error as e:
            self._raise_if_fenced(e)
            raise

    def precheck(self, migrations: list[Migration]) -> None:
        if self.pooled:
            for m in migrations:
                self._refuse_pooled_no_transaction(m)

    def _refuse_pooled_no_transaction(self, migration: Migration) -> None:
        if not parse(migration).transactional:
            raise ConfigError(f"postgres: {migration.path} is a '-- dbinit: no-transaction' file, which cannot run "
                              "through a transaction-mode pooler (DBINIT_PG_POOLER=transaction): its statements "
                              "would run on different server connections; apply it with POSTGRES_URL pointing at "
                              "PostgreSQL itself and DBINIT_PG_POOLER unset")

    def _fence(self) -> str:
        """The first statement of every write transaction when pooled; empty otherwise."""
        if not self.pooled:
            return ""
        owner = pgsql.Literal(self.owner).as_string(self.conn)
        return (f'DO $fence$ BEGIN UPDATE "{self.schema}".{LOCK_TABLE} SET expires = now() + '
                f"interval '{self._lease_ms} milliseconds' WHERE name = 'migrations' AND owner = {owner} "
                "AND expires > clock_timestamp(); IF NOT FOUND THEN RAISE EXCEPTION "
                "'dbinit: this runner no longer holds the migration lock' USING HINT = 'dbinit-fence'; "
                "END IF; END $fence$;\n")

    def _legacy_table(self) -> str | None:
        """dbinit 0.1 kept its history in the current schema: where it still is, it is read there
        and moved on the next write."""
        row = self.conn.execute("SELECT to_regclass(%s)::text, to_regclass(%s)::text",
                                (self.table, TABLE)).fetchone()
        return row[1] if row[0] is None and row[1] is not None else None

    def history(self) -> list[Applied]:
        table = self.table
        if self.conn.execute("SELECT to_regclass(%s)", (self.table,)).fetchone()[0] is None:
            if (table := self._legacy_table()) is None:
                return []
        rows = self.conn.execute(f"SELECT {COLUMNS} FROM {table}").fetchall()
        return [Applied(*row) for row in rows]

    def prepare(self) -> None:
        self.conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        if (legacy := self._legacy_table()) is not None:
            self.conn.execute(f'ALTER TABLE {legacy} SET SCHEMA "{self.schema}"')
        self.conn.execute(f"""CREATE TABLE IF NOT EXISTS {self.table} (
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

    def _timeouts(self, lock_ms: int, scope: str) -> str:
        """SET statements for the lock timeout of this attempt and the statement timeout, if any,
        then the fence of a pooled lock."""
        text = self._fence() + f"SET {scope} lock_timeout = {lock_ms};\n"
        if self.settings.statement_timeout:
            text += f"SET {scope} statement_timeout = {int(self.settings.statement_timeout * 1000)};\n"
        return text

    def _with_lock_retries(self, migration: Migration, attempt):
        """`attempt(lock_timeout_ms)` until it does not give up on a lock: the transaction waits
        at most the lock timeout, so the application's queries queue behind it no longer than
        that; then it is rolled back, and tried again after a jittered pause with a longer timeout
        (GitLab's with_lock_retries). Each retry names who holds the locks; when the retries run
        out the migration fails with that diagnosis and nothing of it applied."""
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

        base, tries = self.settings.lock_timeout, self.settings.lock_retries + 1

        def lock_ms(n: int) -> int:
            return int(base * min(1.5 ** (n - 1), 4) * 1000)

        def report(state) -> None:
            n = state.attempt_number
            log.warn(self.name, f"{migration.label} {migration.description}: gave up waiting {lock_ms(n) / 1000:g} s "
                     f"for a lock (attempt {n} of {tries}); {self._blockers(migration)}; trying again in "
                     f"{state.next_action.sleep:.1f} s", version=migration.version, attempt=n)

        retrying = Retrying(retry=retry_if_exception_type(_LockWait), stop=stop_after_attempt(tries), reraise=True,
                            wait=wait_exponential_jitter(multiplier=0.5, max=10, jitter=0.5), before_sleep=report)
        try:
            for state in retrying:
                with state:
                    return attempt(lock_ms(state.retry_state.attempt_number))
        except _LockWait:
            raise MigrationFailed(self.name, migration.path, f"gave up waiting for a lock {tries} times (lock timeout "
                                  f"{base:g} s growing to {lock_ms(tries) / 1000:g} s, DBINIT_PG_LOCK_TIMEOUT and "
                                  f"DBINIT_PG_LOCK_RETRIES); {self._blockers(migration)}; nothing of this migration "
                                  "was applied") from None

    def _blockers(self, migration: Migration) -> str:
        """Who holds locks on the tables the migration names, oldest transaction first."""
        from ..sql import relations

        tables = relations(migration.text)
        rows = self.conn.execute(
            """SELECT a.pid, a.usename, a.application_name, a.state,
                      extract(epoch FROM now() - coalesce(a.xact_start, a.query_start))::int,
                      left(split_part(btrim(a.query), E'\n', 1), 100)
                 FROM pg_stat_activity a
                WHERE a.pid <> pg_backend_pid() AND a.pid IN (
                      SELECT l.pid FROM pg_locks l WHERE l.granted
                         AND l.relation IN (SELECT to_regclass(n) FROM unnest(%s::text[]) n))
                ORDER BY a.xact_start NULLS LAST LIMIT 3""", (tables,)).fetchall()
        if not rows:
            return f"no session holds a lock on {', '.join(tables) or 'its tables'} any more"
        return "blocked by " + "; ".join(
            f"pid {pid} (user {user}, application {app or '-'!r}, {state}, transaction open {age} s: {query})"
            for pid, user, app, state, age, query in rows)

    def _one_round_trip(self, migration: Migration, script: SqlScript, tail: pgsql.Composable,
                        lock_ms: int) -> psycopg.Cursor:
        """BEGIN, the statements, `tail` and COMMIT sent as one simple query: one round trip per
        migration. On failure all of it is rolled back and the error names the statement's line."""
        begin = "BEGIN;\n" + self._timeouts(lock_ms, "LOCAL")
        parts, offsets, position = [begin], [], len(begin)
        for stmt in script.statements:
            offsets.append(position)
            parts.append(stmt.text + "\n;\n")  # newline first: a trailing -- comment must not swallow the ;
            position += len(stmt.text) + 3
        parts.append(tail.as_string(self.conn) + ";\nCOMMIT;\n" + self._reset)
        try:
            return self.conn.execute("".join(parts))
        except psycopg.Error as e:
            if self.conn.broken or self.conn.closed:
                raise ConnectionLost(self.name, _reason(e), migration.path,
                                     "a transaction cut off before its COMMIT was rolled back") from None
            if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.conn.execute("ROLLBACK")
            self._raise_if_fenced(e)
            if e.sqlstate == LOCK_NOT_AVAILABLE:
                raise _LockWait() from None
            at = int(e.diag.statement_position or 0) - 1
            for stmt, offset in zip(script.statements, offsets):
                if 0 <= at - offset < len(stmt.text):
                    raise self._failure(migration, stmt, e, [], True, at - offset) from None
            raise self._locate(migration, script, e, lock_ms) from None

    def _locate(self, migration: Migration, script: SqlScript, error: psycopg.Error, lock_ms: int) -> MigrationFailed:
        """An error without a position: run the statements again, one by one, in a transaction
        that is always rolled back (with the same timeouts), to find the one that fails (the
        failure path only)."""
        with self.conn.transaction(force_rollback=True):
            self.conn.execute(self._timeouts(lock_ms, "LOCAL"))
            for stmt in script.statements:
                try:
                    with self.conn.transaction():
                        self.conn.execute(stmt.text)
                except psycopg.Error as e:
                    return self._failure(migration, stmt, e, [], True, e.diag.statement_position and
                                         int(e.diag.statement_position) - 1)
        return MigrationFailed(self.name, migration.path, _describe(error) + "; the migration was rolled back")

    def _run_each(self, migration: Migration, script: SqlScript, done: list[Statement]) -> None:
        """A no-transaction migration: each statement on its own, as psql would run them, each with
        the lock timeout and its own retries."""
        for stmt in script.statements:
            self._with_lock_retries(migration, lambda lock_ms, stmt=stmt: self._run_one(migration, stmt, lock_ms, done))
            done.append(stmt)

    def _run_one(self, migration: Migration, stmt: SqlStatement, lock_ms: int, done: list[Statement]) -> None:
        try:
            self.conn.execute(self._timeouts(lock_ms, "SESSION"))
            self._drop_invalid_index(migration, stmt)
            self._execute(stmt)
        except psycopg.Error as e:
            if self.conn.broken or self.conn.closed:
                raise ConnectionLost(self.name, _reason(e), migration.path,
                                     f"{len(done)} statement(s) of this no-transaction file had run") from None
            if e.sqlstate == LOCK_NOT_AVAILABLE:
                raise _LockWait() from None
            raise self._failure(migration, stmt, e, done, False, e.diag.statement_position and
                                int(e.diag.statement_position) - 1) from None

    def _drop_invalid_index(self, migration: Migration, stmt: SqlStatement) -> None:
        """A CREATE INDEX CONCURRENTLY that failed (deadlock, lock timeout, a duplicate, a kill)
        leaves an INVALID index, which IF NOT EXISTS would keep forever: drop it before building."""
        if stmt.index is None:
            return
        invalid = self.conn.execute("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
                                    (stmt.index,)).fetchone()
        if invalid and invalid[0]:
            log.warn(self.name, f"{migration.path}:{stmt.line}: index {stmt.index} is INVALID, left by a build "
                     "that failed; dropping it to build it again")
            self.conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {stmt.index}")

    def _failure(self, migration: Migration, stmt: Statement, e: psycopg.Error, done: list[Statement],
                 transactional: bool, offset: int | None) -> MigrationFailed:
        line = stmt.line + (stmt.text[:offset].count("\n") if offset else 0)
        detail = _describe(e)
        if transactional:
            detail += "; the migration was rolled back"
        elif done:
            detail += f"; {len(done)} earlier statement(s) of this no-transaction migration stay committed, " \
                      "it is marked failed until 'dbinit repair'"
        return MigrationFailed(self.name, migration.path, f"{detail} (statement: {stmt.text.splitlines()[0][:120]})", line)

    def _execute(self, stmt: SqlStatement) -> psycopg.Cursor:
        """One statement; a COPY … FROM stdin gets its rows through the COPY protocol."""
        if stmt.copy is None:
            return self.conn.execute(stmt.text)
        cursor = self.conn.cursor()
        with cursor.copy(stmt.text) as copy:
            copy.write(stmt.copy)
        return cursor

    def _with_copies(self, migration: Migration, script: SqlScript, lock_ms: int) -> Applied:
        """A file with COPY rows (pg_dump's data) cannot go as one simple query: its statements run
        one by one, still in one transaction with the history row."""
        stmt = script.statements[0]
        try:
            with self.conn.transaction():
                self.conn.execute(self._timeouts(lock_ms, "LOCAL"))
                for stmt in script.statements:
                    self._execute(stmt)
                row = self.conn.execute(self._history_row(migration, True)).fetchone()
        except psycopg.Error as e:
            if self.conn.broken or self.conn.closed:
                raise ConnectionLost(self.name, _reason(e), migration.path,
                                     "a transaction cut off before its COMMIT was rolled back") from None
            self._raise_if_fenced(e)
            if e.sqlstate == LOCK_NOT_AVAILABLE:
                raise _LockWait() from None
            raise self._failure(migration, stmt, e, [], True, e.diag.statement_position and
                                int(e.diag.statement_position) - 1) from None
        self.conn.execute(self._reset)
        return Applied(*row)

    def apply(self, migration: Migration) -> Applied:
        script = parse(migration)
        if script.transactional and script.copies:
            return self._with_lock_retries(migration, lambda ms: self._with_copies(migration, script, ms))
        if script.transactional:
            cursor = self._with_lock_retries(migration, lambda ms: self._one_round_trip(
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
            self.conn.execute(self._reset)
            self.conn.execute(self._history_row(migration, False))
            raise
        applied = Applied(*self.conn.execute(self._history_row(migration, True)).fetchone())
        self.conn.execute(self._reset)
        return applied

    def revert(self, migration: Migration, down: Migration) -> None:
        """Run a down script and remove the migration's history row, in one transaction where allowed."""
        script = parse(down)
        forget = pgsql.SQL("DELETE FROM {} WHERE version = {}").format(pgsql.Identifier(self.schema, TABLE),
                                                                      pgsql.Literal(migration.version))
        if script.transactional:
            self._with_lock_retries(down, lambda ms: self._one_round_trip(down, script, forget, ms))
        else:
            if self.pooled:
                self._refuse_pooled_no_transaction(down)
            self._run_each(down, script, [])
            self.conn.execute(self._reset)
            self.conn.execute(forget)

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


def _reason(e: psycopg.Error) -> str:
    """The server's or libpq's last words on a dead connection."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _describe(e: psycopg.Error) -> str:
    diag = e.diag
    detail = f"SQLSTATE {e.sqlstate}: {diag.message_primary or e}" if e.sqlstate else str(e)
    for extra in (diag.message_detail, diag.message_hint):
        if extra:
            detail += f" ({extra})"
    return detail
