"""Neo4j: history nodes under a uniqueness constraint, a leased lock node (lock), files applied in
as few transactions as Neo4j allows (apply, restore), checked by EXPLAIN first (precheck), and
indexes ONLINE before dbinit exits."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import neo4j
from neo4j.exceptions import ClientError, DriverError, Forbidden, Neo4jError, TransientError

from ... import log, retry
from ...contract import Backend, Progress
from ...errors import AuthRefused, ConfigError, ConnectionLost, DbinitError, MigrationFailed
from ...history import AUDIT, Applied, Audit
from ...preconditions import Answer, judged
from ...migration import Migration
from ...ports import Endpoint
from ...description import Description, Record
from . import apply as applying
from .apply import DOWN, FIELDS, audited
from .lock import LOCK, NodeLock
from .precheck import precheck
from .restore import HISTORY
from .server_errors import classify_connect_error, said, unavailable
from .settings import Neo4jSettings


_HISTORY = (f"MATCH (m:{HISTORY}) RETURN collect([m.version, m.description, m.script, m.checksum, "
            "m.applied_at.epochSeconds, m.applied_at.microsecond, m.execution_ms, m.success, m.applied_by, "
            "coalesce(m.baselined, false), " + ", ".join(f"m.{f}" for f in AUDIT) + "]) AS rows")
SCHEMA = "__DbinitSchema"  # the schema as recorded (drift), and who accepted it
DEFAULT_DATABASE = "neo4j"  # the server's own when NEO4J_DATABASE is unset
_UNSUPPORTED = "Neo.ClientError.Statement.UnsupportedAdministrationCommand"
# A write to a read-only database (server.databases.read_only, ALTER DATABASE … SET ACCESS READ ONLY).
_READ_ONLY = ("Neo.ClientError.General.WriteOnReadOnlyAccessDatabase", "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase")  # Community: no CREATE/DROP DATABASE
# The uniqueness constraints the lock and the history stand on.
CONSTRAINTS = tuple(f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{prop} IS UNIQUE"
                    for label, prop, name in ((HISTORY, "version", "dbinit_migration_version"),
                                              (LOCK, "name", "dbinit_lock_name")))


class Neo4jBackend(Backend):
    name = "neo4j"
    finishing = "waiting for indexes"
    locking: NodeLock

    def __init__(self, settings: Neo4jSettings, lease_s: float):
        super().__init__(lease_s)
        self.settings = settings
        self.driver: neo4j.Driver | None = None
        self._constraints_made = False
        # Every transaction of a migration carries its runner's owner id, so that a runner taking
        # over an expired lock, or this one when interrupted, can stop that work on the server.
        self.meta = {"dbinit": self.owner}
        self.known: dict[str, dict[str, Any]] = {}  # every history node's properties, to restore what a file deletes
        self._remembered = False
        self.locking = NodeLock(self)

    def session(self) -> neo4j.Session:
        assert self.driver is not None, "connect first"
        # One chain of bookmarks for every session of the run: a read routed to another member of a
        # cluster (a precondition's) sees what the run wrote before it.
        return self.driver.session(database=self.settings.database,
                                   bookmark_manager=self.driver.execute_query_bookmark_manager)

    def query(self, cypher: str, **params: Any) -> list[neo4j.Record]:
        with self.session() as s:
            return list(s.run(cypher, params))

    def _open_driver(self, timeout: float) -> neo4j.Driver:
        if self.driver is None:
            self.driver = neo4j.GraphDatabase.driver(
                self.settings.uri, auth=self.settings.auth, connection_timeout=timeout,
                connection_acquisition_timeout=timeout, user_agent="dbinit",
                notifications_min_severity="OFF")  # the server's hints on dbinit's own queries are noise
        return self.driver

    def connect(self, timeout: float) -> None:
        self._open_driver(timeout)
        try:
            # A real query in the target database: verify_connectivity does not prove it is online.
            self.query("RETURN 1")
        except Exception as e:
            raise classify_connect_error(e, self.settings) from None

    def close(self) -> None:
        if self.driver is not None:
            self.driver.close()
            self.driver = None

    def endpoint(self) -> Endpoint:
        host, port = self.settings.address()
        return Endpoint(host, port, "NEO4J_URI", self.settings.tls,
                        use_tls="use bolt+s:// (bolt+ssc:// for a self-signed certificate; neo4j+s:// with routing) "
                                "in NEO4J_URI",
                        use_plain="use bolt:// (neo4j:// with routing) in NEO4J_URI",
                        http="that is Neo4j's HTTP port (7474 unless changed); Bolt listens on 7687")

    def database(self) -> str:
        return self.settings.database or DEFAULT_DATABASE

    def create(self, timeout: float) -> None:
        self._administer("CREATE DATABASE $name IF NOT EXISTS WAIT", "create", timeout)
        log.info(self.name, f"created the database {self.database()}", database=self.database())

    def drop(self, timeout: float) -> bool:
        names = [r["name"] for r in self._administer("SHOW DATABASES YIELD name", "list", timeout)]
        if self.database() not in names:
            return False
        self._administer("DROP DATABASE $name IF EXISTS WAIT", "drop", timeout)
        return True

    def _administer(self, command: str, what: str, timeout: float) -> list[neo4j.Record]:
        """A command on the system database, where databases are made and removed."""
        try:
            with self._open_driver(timeout).session(database="system") as s:
                return list(s.run(command, name=self.database()))
        except Exception as e:
            if isinstance(e, ClientError) and e.code == _UNSUPPORTED:
                raise ConfigError(f"neo4j: this server cannot {what} databases ({e.code}): Neo4j Community has one "
                                  f"database, {DEFAULT_DATABASE}; leave NEO4J_DATABASE unset (or set it to "
                                  f"{DEFAULT_DATABASE}); Enterprise and Aura {what} databases") from None
            raise classify_connect_error(e, self.settings) from None

    def ensure_constraints(self, again: bool = False) -> None:
        """The uniqueness constraints the lock and the history stand on (`again`: a file may have
        dropped them)."""
        if self._constraints_made and not again:
            return

        def racing(e: Exception) -> bool:  # racing runners may collide creating the same constraint
            return isinstance(e, TransientError) or isinstance(e, ClientError) and "AlreadyExists" in (e.code or "")

        for statement in CONSTRAINTS:
            retry.again(lambda: self.query(statement), tries=5, when=racing, pause=lambda n: 0.1)
        self._constraints_made = True

    def translate(self, error: Exception) -> DbinitError | None:
        if unavailable(error):
            return ConnectionLost(self.name, self.said(error))
        if isinstance(error, Neo4jError) and error.code in _READ_ONLY:
            return ConfigError(f"neo4j: the database {self.database()} is read-only ({error.code}); dbinit migrates a "
                               "database that takes writes (server.databases.default_to_read_only, or ALTER DATABASE "
                               "… SET ACCESS READ WRITE)")
        if isinstance(error, Forbidden):
            return AuthRefused(f"neo4j: the user may not do what dbinit needs ({error.code}: {error.message}); it must "
                               "create constraints, and nodes labelled __DbinitMigration and __DbinitLock")
        if isinstance(error, (Neo4jError, DriverError)):
            return DbinitError(f"neo4j: the server refused dbinit's own query: {getattr(error, 'message', None) or error}")
        return None

    def said(self, error: Exception) -> str:
        """The driver's words on one line, with the server's address."""
        return said(error, "{}:{}".format(*self.settings.address()))

    def history(self) -> list[Applied]:
        # The fields alone, the time as numbers, in one record: hydrating whole nodes and Neo4j's
        # DateTime, a record each, took most of a run with nothing pending (bench/findings.md).
        return [Applied(version, description, script, checksum, datetime.fromtimestamp(seconds, UTC).replace(
                    microsecond=micro), ms, success, by, baselined, Audit(*run))
                for version, description, script, checksum, seconds, micro, ms, success, by, baselined, *run in
                self.query(_HISTORY)[0]["rows"]]

    def remember(self) -> None:
        """Every history node as it is, read once before the first file that may delete them."""
        if not self._remembered:
            self.known = {r["m"]["version"]: r["m"] for r in self.query(f"MATCH (m:{HISTORY}) RETURN properties(m) AS m")}
            self._remembered = True

    def precheck(self, migrations: list[Migration]) -> None:
        precheck(self, migrations)

    def prepare(self) -> None:
        self.ensure_constraints()

    def apply(self, migration: Migration) -> Applied:
        return applying.apply(self, migration)

    def revert(self, migration: Migration, down: Migration) -> None:
        applying.revert(self, migration, down)

    def script(self, migrations: list[Migration]) -> list[str]:
        return [f"// Lock: the node (:{LOCK} {{name: 'migrations'}}) owned by this runner, a lease of "
                f"{self.lease_ms} ms renewed while held", *(c + ";" for c in CONSTRAINTS),
                *(line for m in migrations for line in applying.script(self, m))]

    def kept_downs(self, versions: list[str]) -> dict[str, str]:
        rows = self.query(f"MATCH (m:{HISTORY}) WHERE m.version IN $versions AND m.{DOWN} IS NOT NULL "
                          f"RETURN m.version AS version, m.{DOWN} AS down", versions=versions)
        return {r["version"]: r["down"] for r in rows}

    def describe(self, migration: Migration, elapsed: float) -> Progress:
        """The running transaction of this runner, as SHOW TRANSACTIONS has it."""
        rows = self.query("SHOW TRANSACTIONS YIELD transactionId, elapsedTime, status, currentQuery, metaData "
                          "WHERE metaData.dbinit = $owner RETURN transactionId, elapsedTime.milliseconds AS ms, "
                          "status, currentQuery", owner=self.owner)
        if not rows:
            return None
        r = rows[0]
        query = " ".join((r["currentQuery"] or "").split())[:80]
        return (f"transaction {r['transactionId']} {r['status']} for {r['ms'] / 1000:.0f} s: {query}",
                {"transaction": r["transactionId"], "status": r["status"], "query": query})

    def describe_finish(self, elapsed: float) -> Progress:
        """Each index still populating, with its populationPercent."""
        rows = self.query("SHOW INDEXES YIELD name, state, populationPercent WHERE state = 'POPULATING' "
                          "RETURN name, populationPercent AS percent")
        if not rows:
            return None
        return ("populating " + ", ".join(f"{r['name']} {r['percent']:.0f}%" for r in rows),
                {"indexes": {r["name"]: round(r["percent"], 1) for r in rows}})

    def finish(self, timeout: float) -> None:
        """Wait until every index is ONLINE, so the application never starts on a populating one
        (one made by this run, or by a runner still waiting for it while this one found nothing to do)."""
        rows = self._not_online()
        if rows:
            log.info(self.name, "waiting for indexes to come online: " + ", ".join(r["name"] for r in rows))
            try:
                self.query("CALL db.awaitIndexes($timeout)", timeout=int(max(1, timeout)))
            except Neo4jError:
                pass  # a FAILED index or the timeout: SHOW INDEXES below says which index and why
            rows = self._not_online()
        if rows:
            what = "; ".join(f"{r['name']} is {r['state']}" + (f": {_cause(r['failureMessage'])}" if r["failureMessage"] else "")
                             for r in rows)
            raise MigrationFailed(self.name, None, f"indexes not usable when dbinit finished (waited up to "
                                  f"{timeout:g} s, DBINIT_INDEX_TIMEOUT): {what}")

    def _not_online(self) -> list[neo4j.Record]:
        return self.query("SHOW INDEXES YIELD name, state, failureMessage WHERE state <> 'ONLINE' "
                          "RETURN name, state, failureMessage")

    def _fenced_write(self, cypher: str, **params: Any) -> None:
        """A history write that commits only while this runner's lease holds."""
        def work(tx: neo4j.ManagedTransaction) -> None:
            self.locking.fence(tx)
            tx.run(cypher, params).consume()

        with self.session() as s:
            s.execute_write(work)

    def ask(self, query: str) -> Answer:
        try:
            with self.session() as s:  # a read transaction: the server refuses a write in it
                record = s.execute_read(lambda tx: tx.run(query).single())
        except (ClientError, Forbidden) as e:  # its own mistake, or a write in a read transaction
            return Answer(False, f"an error, {e.code}: {e.message}")
        return judged(record[0] if record else None, record is not None)

    def record(self, applied: Applied) -> None:
        props = audited({f: getattr(applied, f) for f in FIELDS})
        props["applied_by"] = self.owner
        self._fenced_write(f"CREATE (m:{HISTORY}) SET m = $props", props=props)
        self.known[applied.version] = props

    def set_checksum(self, version: str, checksum: str) -> None:
        self._fenced_write(f"MATCH (m:{HISTORY} {{version: $v}}) SET m.checksum = $c", v=version, c=checksum)

    def forget(self, version: str) -> None:
        self._fenced_write(f"MATCH (m:{HISTORY} {{version: $v}}) DELETE m", v=version)

    def inspect(self) -> Description:
        from .catalog import describe

        return describe(self)

    def schema_record(self) -> Record | None:
        rows = self.query(f"MATCH (s:{SCHEMA}) WHERE s.description IS NOT NULL "
                          "RETURN s.description AS d ORDER BY s.recorded_at DESC LIMIT 1")
        return Record.decode(self.name, rows[0]["d"]) if rows else None

    def keep_schema(self, record: Record) -> None:
        # Every record keeps who and why; only the newest keeps its description.
        self._fenced_write(f"OPTIONAL MATCH (old:{SCHEMA}) REMOVE old.description WITH count(*) AS n "
                           f"CREATE (s:{SCHEMA}) SET s = $props", props={
                               "recorded_at": record.recorded_at.isoformat(), "recorded_by": record.recorded_by,
                               "reason": record.reason, "server": record.description.server,
                               "digest": record.description.digest, "description": record.encode()})


def _cause(failure: str) -> str:
    """A FAILED index's failureMessage without the server's Java stack trace and exception class."""
    return re.sub(r"^[\w.$]+(Exception|Error): ", "", failure.strip().splitlines()[0])
