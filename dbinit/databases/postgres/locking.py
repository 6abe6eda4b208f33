"""The migration lock, one of two kinds chosen once: a session advisory lock on the migrating
session, or, behind a transaction-mode pooler, a lock row with a fenced lease."""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql as pgsql

from ...errors import ConfigError
from ...lease import holder
from ...migration import Migration
from .sql import parse

if TYPE_CHECKING:
    from .backend import PostgresBackend

TABLE = "dbinit_schema_history"
LOCK_TABLE = "dbinit_lock"  # the lock row used behind a transaction-mode pooler


class AdvisoryLock:
    """A session advisory lock on the very session that runs the migrations, keyed by database +
    schema + table so that two applications sharing a server do not block each other. The lock is
    free only when that session ends, which is when its work has stopped: a killed runner's
    migration is not still running on a second connection while another runner starts."""

    leased = False
    names_its_session = True  # the migrating session is ours: progress lines may describe it

    def __init__(self, backend: PostgresBackend) -> None:
        self.backend = backend
        self.key: int | None = None

    def _key(self) -> int:
        name = f"{self.backend.connection.info.dbname}.{self.backend.schema}.{TABLE}"
        return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)

    @property
    def shown(self) -> str:
        """The lock as the script before a run shows it."""
        return f"SELECT pg_try_advisory_lock({self._key()}), polled until true; held until the session ends"

    def take(self) -> bool:
        conn = self.backend.connection
        if self.key is None:
            self.key = self._key()
            if conn.info.server_version >= 140000:
                # The server abandons (rolls back) a vanished runner's migration within a second,
                # instead of running it to its end before the session, and the lock, are freed.
                self.backend.reset = "RESET ALL; SET client_connection_check_interval = 1000"
                conn.execute(self.backend.reset)
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        return bool(row and row[0])

    def holder(self) -> str:
        row = self.backend.connection.execute(
            """SELECT a.application_name, a.client_addr, a.pid, now() - a.backend_start
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted
                  AND ((l.classid::bigint << 32) | l.objid::bigint) = %s""",
            (self.key,),
        ).fetchone()
        if row is None:
            return "nobody (just released)"
        app, addr, pid, age = row
        return f"{app or 'an unnamed session'} (pid {pid}{f', from {addr}' if addr else ''}, connected {int(age.total_seconds())} s)"

    def release(self) -> None:
        self.backend.connection.execute("SELECT pg_advisory_unlock(%s)", (self.key,))

    def renew(self) -> bool:
        raise NotImplementedError("a session lock is no lease: nothing renews it")

    def holds(self) -> bool:
        return True

    def fence(self) -> str:
        return ""

    def refuse_no_transaction(self, migration: Migration) -> None:
        """Every file can run on the session that holds the lock."""


class LeaseRowLock:
    """One row under a primary key, a lease on the server's clock, renewed from a connection of
    the lease thread's own. Every migration transaction starts with the fence, which extends the
    lease only if this runner still holds it and keeps the row locked until COMMIT: a runner taking
    over an expired lease waits for that transaction to end, and then finds the lease extended."""

    leased = True
    names_its_session = False  # the session behind the pooler is not ours to name

    def __init__(self, backend: PostgresBackend) -> None:
        self.backend = backend
        self.table = f'"{backend.schema}".{LOCK_TABLE}'
        self._made = False
        self._renewer: psycopg.Connection | None = None  # the lease thread's own connection

    def take(self) -> bool:
        conn = self.backend.connection
        if not self._made:  # once per run, not on every poll of the lock
            try:
                with conn.transaction():
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.backend.schema}"')
                    conn.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (name text PRIMARY KEY, "
                                 "owner text NOT NULL, expires timestamptz NOT NULL)")
            except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject, psycopg.errors.DuplicateTable):
                pass  # racing runners created it first
            self._made = True
        try:
            with conn.transaction():
                # Bounded: a paused holder may keep the row locked inside its migration.
                conn.execute("SET LOCAL lock_timeout = 2000")
                row = conn.execute(
                    f"INSERT INTO {self.table} AS l VALUES ('migrations', %s, now() + %s * interval '1 millisecond') "
                    "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires "
                    "WHERE l.expires < now() RETURNING owner", (self.backend.owner, self.backend.lease_ms)).fetchone()
        except psycopg.errors.LockNotAvailable:
            return False
        return row is not None

    @property
    def shown(self) -> str:
        return (f"INSERT INTO {self.table} ('migrations', <this runner>, a lease of {self.backend.lease_ms} ms), "
                "polled until free or expired; renewed while held")

    def holder(self) -> str:
        row = self.backend.connection.execute(
            f"SELECT owner, extract(epoch FROM expires - now()) * 1000 FROM {self.table} "
            "WHERE name = 'migrations'").fetchone()
        return holder(None, 0) if row is None else holder(row[0], float(row[1]))

    def release(self) -> None:
        self.backend.connection.execute(f"DELETE FROM {self.table} WHERE name = %s AND owner = %s",
                                        ("migrations", self.backend.owner))

    def renew(self) -> bool:
        if self._renewer is None:
            self._renewer = self.backend.open(10)
        row = self._renewer.execute(
            f"UPDATE {self.table} SET expires = now() + %s * interval '1 millisecond' "
            "WHERE name = 'migrations' AND owner = %s RETURNING 1", (self.backend.lease_ms, self.backend.owner)).fetchone()
        return row is not None

    def holds(self) -> bool:
        row = self.backend.connection.execute(f"SELECT owner = %s AND expires > now() FROM {self.table} "
                                              "WHERE name = 'migrations'", (self.backend.owner,)).fetchone()
        return bool(row and row[0])

    def fence(self) -> str:
        """The first statement of every write transaction."""
        owner = pgsql.Literal(self.backend.owner).as_string(self.backend.connection)
        return (f"DO $fence$ BEGIN UPDATE {self.table} SET expires = now() + "
                f"interval '{self.backend.lease_ms} milliseconds' WHERE name = 'migrations' AND owner = {owner} "
                "AND expires > clock_timestamp(); IF NOT FOUND THEN RAISE EXCEPTION "
                "'dbinit: this runner no longer holds the migration lock' USING HINT = 'dbinit-fence'; "
                "END IF; END $fence$;\n")

    def refuse_no_transaction(self, migration: Migration) -> None:
        if not parse(migration).transactional:
            raise ConfigError(f"postgres: {migration.path} is a '-- dbinit: no-transaction' file, which cannot run "
                              "through a transaction-mode pooler (DBINIT_PG_POOLER=transaction): its statements "
                              "would run on different server connections; apply it with POSTGRES_URL pointing at "
                              "PostgreSQL itself and DBINIT_PG_POOLER unset")

    def close(self) -> None:
        if self._renewer is not None:
            self._renewer.close()
            self._renewer = None
