"""PostgreSQL: the migrating session, the history table in a schema of its own, the lock of the kind
chosen once (locking), files applied in one round trip each (apply)."""
from __future__ import annotations

import os
from typing import Any

import psycopg
from psycopg import sql as pgsql

from ...contract import Backend, Progress
from ...errors import AuthRefused, ConfigError, ConnectionLost, DbinitError, NotReady, Problem
from ...history import AUDIT, Applied
from ...preconditions import Answer, judged
from ...migration import Migration
from ...ports import Endpoint
from ...description import Description, Record
from . import apply as applying
from . import creating
from .activity import Activity
from .apply import AUDITED, BASELINED, COLUMNS, DOWN, audit_values, row_of, stored
from .locking import TABLE, AdvisoryLock, LeaseRowLock
from .server_errors import classify_connect_error, describe_error, last_words
from .settings import PostgresSettings

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
        self.records = f'"{self.schema}".dbinit_schema_record'  # the schema as recorded (drift), and who accepted it
        self.reset = "RESET ALL"  # after each file: what it SET for the session never reaches the next
        # Behind a transaction-mode pooler each transaction may run on another server connection:
        # no session advisory lock, no session settings; a lock row with a fenced lease instead.
        self.locking: AdvisoryLock | LeaseRowLock = (LeaseRowLock(self) if settings.pooler == "transaction"
                                                      else AdvisoryLock(self))
        self.activity = Activity(self)

    def open(self, timeout: float, dbname: str | None = None) -> psycopg.Connection:
        """A session on the database the settings name (`dbname`: on another of the server's)."""
        from psycopg.conninfo import conninfo_to_dict

        # client_encoding: a legacy SQL_ASCII database would otherwise hand back bytes, not text.
        # No server-side prepared statements: a pooler hands each transaction another connection.
        kwargs: dict[str, Any] = {"connect_timeout": max(2, int(timeout)), "application_name": f"dbinit {self.owner}"[:63],
                  "autocommit": True, "client_encoding": "utf8", "prepare_threshold": None}
        given = conninfo_to_dict(self.settings.conninfo)
        if self.settings.password is not None and "password" not in given:
            kwargs["password"] = self.settings.password
        if "," in str(given.get("host", "")) and "target_session_attrs" not in given:
            kwargs["target_session_attrs"] = "read-write"  # of several hosts, migrate the primary
        if dbname is not None:
            kwargs["dbname"] = dbname
        if self.settings.tenant_schema is not None:  # the session's default: RESET ALL after a file keeps it
            kwargs["options"] = f'-c search_path="{self.settings.tenant_schema}",public'
        return psycopg.connect(self.settings.conninfo, **kwargs)

    def connect(self, timeout: float) -> None:
        try:
            conn = self.open(timeout)
            standby = row_of(conn.execute("SELECT pg_is_in_recovery()"))[0]
        except psycopg.Error as e:
            raise classify_connect_error(e, self.settings, timeout) from None
        if standby:  # never migrate a standby: wait for it to be promoted, or for the deadline
            conn.close()
            raise NotReady(f"postgres: only a standby answered (in recovery) at {self.settings.display()}; "
                           "waiting for a primary")
        self.conn = conn

    def endpoint(self) -> Endpoint | None:
        from psycopg.conninfo import conninfo_to_dict

        given = conninfo_to_dict(self.settings.conninfo)
        host = str(given.get("hostaddr") or given.get("host") or os.environ.get("PGHOST") or "")
        port = str(given.get("port") or os.environ.get("PGPORT") or "5432")
        if not host or "," in host or host.startswith("/") or not port.isdigit():
            return None  # several hosts, or a socket: libpq's own words say enough
        return Endpoint(host, int(port), self.settings.source, None)

    def database(self) -> str:
        return creating.database_name(self.settings)

    def create(self, timeout: float) -> None:
        creating.create(self, timeout)

    def drop(self, timeout: float) -> bool:
        return creating.drop(self, timeout)

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

    def unlock(self) -> None:
        if self.conn is not None and not self.conn.closed:
            if self.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.connection.rollback()  # an interrupted migration: its transaction goes first
            self.locking.release()

    def raise_if_fenced(self, error: psycopg.Error) -> None:
        if error.diag.message_hint == "dbinit-fence":
            raise self.lease_lost("; the transaction was rolled back") from None

    def _write(self, query: str | pgsql.Composed, params: tuple[object, ...],
               *more: tuple[str, tuple[object, ...]]) -> None:
        """A history write outside a migration (baseline, repair), with `more` in its transaction:
        fenced when the lock is a lease."""
        try:
            with self.connection.transaction():
                if fence := self.locking.fence():
                    self.connection.execute(fence)
                for statement, values in ((query, params), *more):
                    self.connection.execute(statement, values)
        except psycopg.Error as e:
            self.raise_if_fenced(e)
            raise

    def inspect(self) -> Description:
        from .catalog import describe

        return describe(self.connection, self.schema, self.settings.privileges, self.settings.tenant_schema,
                        self.settings.tenant_schemas)

    def schema_record(self) -> Record | None:
        if row_of(self.connection.execute("SELECT to_regclass(%s)", (self.records,)))[0] is None:
            return None
        row = self.connection.execute(f"SELECT description FROM {self.records} WHERE description IS NOT NULL "
                                      "ORDER BY recorded_at DESC LIMIT 1").fetchone()
        return None if row is None else Record.decode(self.name, row[0])

    def keep_schema(self, record: Record) -> None:
        # Every record keeps who and why; only the newest keeps its description.
        self._write(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"', (), (f"""CREATE TABLE IF NOT EXISTS {self.records} (
            recorded_at timestamptz NOT NULL, recorded_by text NOT NULL, reason text NOT NULL, server text NOT NULL,
            digest text NOT NULL, description text)""", ()),
                    (f"UPDATE {self.records} SET description = NULL WHERE description IS NOT NULL", ()),
                    (f"INSERT INTO {self.records} VALUES (%s, %s, %s, %s, %s, %s)",
                     (record.recorded_at, record.recorded_by, record.reason, record.description.server,
                      record.description.digest, record.encode())))

    def precheck(self, migrations: list[Migration]) -> None:
        for m in migrations:
            self.locking.refuse_no_transaction(m)

    def describe(self, migration: Migration, elapsed: float) -> Progress:
        """What pg_stat_activity and the pg_stat_progress_* views say of the migrating session."""
        return self.activity.describe()

    def translate(self, error: Exception) -> DbinitError | None:
        if isinstance(error, psycopg.OperationalError) and (self.conn is None or self.conn.broken or self.conn.closed):
            return ConnectionLost(self.name, last_words(error))
        if isinstance(error, psycopg.errors.ReadOnlySqlTransaction) and self.conn is not None:
            return ConfigError(f"postgres: the database {self.conn.info.dbname} is read-only ({describe_error(error)}); "
                               "dbinit migrates a database that takes writes (ALTER DATABASE … SET "
                               "default_transaction_read_only = off)")
        if isinstance(error, psycopg.errors.InsufficientPrivilege) and self.conn is not None:
            user, db = self.conn.info.user, self.conn.info.dbname
            return AuthRefused(f"postgres: the role {user} may not do what dbinit needs ({describe_error(error)}): "
                               f"GRANT CREATE ON DATABASE \"{db}\" TO \"{user}\" (dbinit keeps its history in a schema "
                               f"of its own, {self.schema}), or create that schema for it, or set DBINIT_POSTGRES_SCHEMA "
                               "to a schema it may create tables in")
        if isinstance(error, psycopg.Error):
            return DbinitError(f"postgres: the server refused dbinit's own statement: {describe_error(error)}")
        return None


    def _legacy_table(self) -> str | None:
        """dbinit 0.1 kept its history in the current schema: where it still is, it is read there
        and moved on the next write."""
        row = row_of(self.connection.execute("SELECT to_regclass(%s)::text, to_regclass(%s)::text", (self.table, TABLE)))
        return str(row[1]) if row[0] is None and row[1] is not None else None

    def history(self) -> list[Applied]:
        table: str | None = self.table
        # A table made before a column (dbinit 0.2) has none until the next write: which are there is
        # asked in the same round trip, not by to_jsonb on every row (three times the read at 5,000 rows).
        there, marked, audited = row_of(self.connection.execute(
            "SELECT to_regclass(%s) IS NOT NULL, " + ", ".join(
                ["EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s "
                 "AND NOT attisdropped)"] * 2), (self.table, self.table, BASELINED, self.table, AUDIT[0])))
        if not there and (table := self._legacy_table()) is None:
            return []
        rows = self.connection.execute(f"SELECT {COLUMNS}, {BASELINED if marked else 'false'}, "
                                       f"{AUDITED if audited else ', '.join(['NULL'] * len(AUDIT))} "
                                       f"FROM {table}").fetchall()
        return [stored(row) for row in rows]

    def history_storage(self) -> list[str]:
        """The statements that make the history table where it is missing, and give one of an older
        dbinit the columns it lacks (nullable, without a default: the catalog alone changes)."""
        return [f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"',
                f"""CREATE TABLE IF NOT EXISTS {self.table} (
            version text PRIMARY KEY,
            description text NOT NULL,
            script text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            execution_ms integer NOT NULL,
            success boolean NOT NULL,
            applied_by text NOT NULL,
            {DOWN} text,
            {BASELINED} boolean NOT NULL DEFAULT false,
            {" text, ".join(AUDIT)} text)""",
                f"ALTER TABLE {self.table} ADD COLUMN IF NOT EXISTS {DOWN} text, "
                f"ADD COLUMN IF NOT EXISTS {BASELINED} boolean NOT NULL DEFAULT false, "
                + ", ".join(f"ADD COLUMN IF NOT EXISTS {c} text" for c in AUDIT)]

    def prepare(self) -> None:
        schema, table, columns = self.history_storage()
        self.connection.execute(schema)
        if (legacy := self._legacy_table()) is not None:
            self.connection.execute(f'ALTER TABLE {legacy} SET SCHEMA "{self.schema}"')
        self.connection.execute(table)
        # A table made by an older dbinit gets the columns once (catalog only: nullable, no default);
        # the check keeps its lock off every later run. The table is dbinit's alone: the
        # application never waits on it.
        wanted = [DOWN, BASELINED, *AUDIT]
        if row_of(self.connection.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                                          "AND attname = ANY(%s) AND NOT attisdropped",
                                          (self.table, wanted)))[0] < len(wanted):
            self.connection.execute(columns)

    def apply(self, migration: Migration) -> Applied:
        return applying.apply(self, migration)

    @property
    def grouping(self) -> bool:
        return self.settings.transaction == "all"

    def ungroupable(self, migrations: list[Migration]) -> list[Problem]:
        return applying.ungroupable(migrations)

    def apply_all(self, migrations: list[Migration]) -> list[Applied]:
        return applying.apply_all(self, migrations)

    def script(self, migrations: list[Migration]) -> list[str]:
        return applying.script(self, migrations)

    def kept_downs(self, versions: list[str]) -> dict[str, str]:
        # to_jsonb: a table of dbinit 0.2 has no such column, and then nothing is kept.
        if row_of(self.connection.execute("SELECT to_regclass(%s)", (self.table,)))[0] is None:
            return {}
        rows = self.connection.execute(f"SELECT version, to_jsonb(h) ->> '{DOWN}' FROM {self.table} h "
                                       "WHERE version = ANY(%s)", (versions,)).fetchall()
        return {version: text for version, text in rows if text is not None}

    def revert(self, migration: Migration, down: Migration) -> None:
        """Run a down script and remove the migration's history row, in one transaction where allowed."""
        applying.revert(self, migration, down)

    def ask(self, query: str) -> Answer:
        try:
            with self.connection.transaction():
                self.connection.execute("SET TRANSACTION READ ONLY")
                row = self.connection.execute(query).fetchone()
        except psycopg.Error as e:
            if self.connection.broken or self.connection.closed:
                raise
            return Answer(False, f"an error, {describe_error(e)}")
        return judged(row[0] if row else None, row is not None)

    def record(self, applied: Applied) -> None:
        self._write(
            pgsql.SQL(f"INSERT INTO {self.table} ({COLUMNS}, {BASELINED}, {AUDITED}) VALUES "
                      "(%s, %s, %s, %s, %s, %s, %s, %s, %s, {})").format(audit_values()),
            (applied.version, applied.description, applied.script, applied.checksum, applied.applied_at,
             applied.execution_ms, applied.success, self.owner, applied.baselined),
        )

    def set_checksum(self, version: str, checksum: str) -> None:
        self._write(f"UPDATE {self.table} SET checksum = %s WHERE version = %s", (checksum, version))

    def forget(self, version: str) -> None:
        self._write(f"DELETE FROM {self.table} WHERE version = %s", (version,))
