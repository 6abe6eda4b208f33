"""The migration lock: a session advisory lock on the migrating session, or, behind a
transaction-mode pooler, a lock row with a fenced lease."""
from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql as pgsql

from ...errors import ConfigError, LockLost
from ...files import Migration
from ...sql import parse

TABLE = "dbinit_schema_history"
LOCK_TABLE = "dbinit_lock"  # the lock row used behind a transaction-mode pooler


class Locking:
    """Mixed into PostgresBackend: uses its conn, owner, schema, pooled, lease_s, _open and
    _lock_table_made."""

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
            if self.conn.info.server_version >= 140000:
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
        if not self._lock_table_made:  # once per run, not on every poll of the lock
            try:
                with self.conn.transaction():
                    self.conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                    self.conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (name text PRIMARY KEY, "
                                      "owner text NOT NULL, expires timestamptz NOT NULL)")
            except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject, psycopg.errors.DuplicateTable):
                pass  # racing runners created it first
            self._lock_table_made = True
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
