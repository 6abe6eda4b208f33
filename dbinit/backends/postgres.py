"""PostgreSQL: history table, session advisory lock, one transaction per migration."""
from __future__ import annotations

import hashlib
import time

import psycopg
from ..errors import AuthRefused, ConfigError, MigrationFailed, NotReady
from ..files import Migration, Statement
from ..plan import Applied
from ..settings import PostgresSettings
from ..sql import SqlScript, parse
from .base import Backend, owner_id

TABLE = "dbinit_schema_history"
# libpq's connection errors carry no SQLSTATE: classify the server's words, transient ones first.
_TRANSIENT = ("resolve host", "translate host name", "connection refused", "starting up", "shutting down",
              "not accepting connections", "recovery", "timeout expired", "closed the connection", "no such file",
              "too many", "could not receive", "terminating connection", "connection reset", "network is unreachable")
_AUTH = ("password authentication failed", "no pg_hba.conf entry", "authentication failed", "permission denied",
         "password is required", "no password supplied", 'role "')
_CONFIG = ('database "', "ssl", "certificate", "invalid", "unsupported", "gssapi")

COLUMNS = "version, description, script, checksum, applied_at, execution_ms, success, applied_by"


def classify_connect_error(e: psycopg.Error, where: str) -> Exception:
    """Wrong credentials and bad settings fail at once; anything else is worth another try."""
    text = str(e).strip()
    said = text.rsplit("failed: ", 1)[-1].lower()  # the server's or libpq's words, not the host name
    if isinstance(e, psycopg.ProgrammingError):
        return ConfigError(f"postgres: bad connection settings for {where}: {text}")
    if any(s in said for s in _TRANSIENT):
        return NotReady(f"postgres: {text.splitlines()[-1]}")
    if any(s in said for s in _AUTH):
        return AuthRefused(f"postgres: authentication refused at {where}: {text}")
    if any(s in said for s in _CONFIG):
        return ConfigError(f"postgres: {text} ({where})")
    return NotReady(f"postgres: {text.splitlines()[-1] if text else type(e).__name__}")


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, settings: PostgresSettings):
        self.settings = settings
        self.owner = owner_id()
        self.conn: psycopg.Connection | None = None
        self._lock_conn: psycopg.Connection | None = None
        self._lock_key: int | None = None

    def _open(self, timeout: float) -> psycopg.Connection:
        # client_encoding: a legacy SQL_ASCII database would otherwise hand back bytes, not text.
        kwargs = {"connect_timeout": max(2, int(timeout)), "application_name": f"dbinit {self.owner}"[:63],
                  "autocommit": True, "client_encoding": "utf8"}
        if self.settings.password is not None:
            from psycopg.conninfo import conninfo_to_dict

            if "password" not in conninfo_to_dict(self.settings.conninfo):
                kwargs["password"] = self.settings.password
        return psycopg.connect(self.settings.conninfo, **kwargs)

    def connect(self, timeout: float) -> None:
        try:
            conn = self._open(timeout)
            conn.execute("SELECT 1")
        except psycopg.Error as e:
            raise classify_connect_error(e, self.settings.display()) from None
        self.conn = conn

    def close(self) -> None:
        for conn in (self.conn, self._lock_conn):
            if conn is not None:
                conn.close()
        self.conn = self._lock_conn = None

    # Locking: a session advisory lock on a connection of its own, keyed by database + schema +
    # table so that two applications sharing a server do not block each other.
    def try_lock(self) -> bool:
        if self._lock_conn is None:
            self._lock_conn = self._open(10)
            db, schema = self._lock_conn.execute("SELECT current_database(), current_schema()").fetchone()
            digest = hashlib.sha256(f"{db}.{schema}.{TABLE}".encode()).digest()
            self._lock_key = int.from_bytes(digest[:8], "big", signed=True)
        return self._lock_conn.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key,)).fetchone()[0]

    def lock_holder(self) -> str:
        row = self._lock_conn.execute(
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
        if self._lock_conn is not None and not self._lock_conn.closed:
            self._lock_conn.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key,))

    def history(self) -> list[Applied]:
        if self.conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()[0] is None:
            return []
        rows = self.conn.execute(f"SELECT {COLUMNS} FROM {TABLE}").fetchall()
        return [Applied(*row) for row in rows]

    def prepare(self) -> None:
        self.conn.execute(f"""CREATE TABLE IF NOT EXISTS {TABLE} (
            version text PRIMARY KEY,
            description text NOT NULL,
            script text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            execution_ms integer NOT NULL,
            success boolean NOT NULL,
            applied_by text NOT NULL)""")

    def _insert(self, conn, migration: Migration, ms: int, success: bool) -> Applied:
        row = conn.execute(
            f"INSERT INTO {TABLE} ({COLUMNS}) VALUES (%s, %s, %s, %s, now(), %s, %s, %s) RETURNING {COLUMNS}",
            (migration.version, migration.description, migration.script, migration.checksum, ms, success, self.owner),
        ).fetchone()
        return Applied(*row)

    def _run(self, migration: Migration, script: SqlScript, done: list[Statement]) -> None:
        for stmt in script.statements:
            try:
                self.conn.execute(stmt.text.encode())
            except psycopg.Error as e:
                raise self._failure(migration, stmt, e, done, script.transactional) from None
            done.append(stmt)

    def _failure(self, migration: Migration, stmt: Statement, e: psycopg.Error, done: list[Statement],
                 transactional: bool) -> MigrationFailed:
        diag = e.diag
        line = stmt.line
        position = diag.statement_position
        if position:
            line += stmt.text[: int(position) - 1].count("\n")
        message = diag.message_primary or str(e)
        detail = f"SQLSTATE {e.sqlstate}: {message}" if e.sqlstate else message
        for extra in (diag.message_detail, diag.message_hint):
            if extra:
                detail += f" ({extra})"
        if transactional:
            detail += "; the migration was rolled back"
        elif done:
            detail += f"; {len(done)} earlier statement(s) of this no-transaction migration stay committed, " \
                      "it is marked failed until 'dbinit repair'"
        return MigrationFailed(self.name, migration.path, f"{detail} (statement: {stmt.text.splitlines()[0][:120]})", line)

    def apply(self, migration: Migration) -> Applied:
        script = parse(migration)
        start = time.perf_counter()
        done: list[Statement] = []
        if script.transactional:
            with self.conn.transaction():
                self._run(migration, script, done)
                return self._insert(self.conn, migration, _ms(start), True)
        try:
            self._run(migration, script, done)
        except MigrationFailed:
            self._insert(self.conn, migration, _ms(start), False)
            raise
        return self._insert(self.conn, migration, _ms(start), True)

    def revert(self, migration: Migration, down: Migration) -> None:
        """Run a down script and remove the migration's history row, in one transaction where allowed."""
        script = parse(down)
        if script.transactional:
            with self.conn.transaction():
                self._run(down, script, [])
                self.forget(migration.version)
        else:
            self._run(down, script, [])
            self.forget(migration.version)

    def record(self, applied: Applied) -> None:
        self.conn.execute(
            f"INSERT INTO {TABLE} ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (applied.version, applied.description, applied.script, applied.checksum, applied.applied_at,
             applied.execution_ms, applied.success, self.owner),
        )

    def set_checksum(self, version: str, checksum: str) -> None:
        self.conn.execute(f"UPDATE {TABLE} SET checksum = %s WHERE version = %s", (checksum, version))

    def forget(self, version: str) -> None:
        self.conn.execute(f"DELETE FROM {TABLE} WHERE version = %s", (version,))


def _ms(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)
