"""Neo4j: history nodes under a uniqueness constraint, a leased lock node, statements grouped
into as few transactions as Neo4j allows, and indexes ONLINE before dbinit exits."""
from __future__ import annotations

import re
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator

import neo4j
from neo4j.exceptions import (AuthError, ClientError, ConfigurationError, ConstraintError, DriverError, Forbidden,
                              Neo4jError, ServiceUnavailable, SessionExpired, TransientError)

from .. import log
from ..errors import (AuthRefused, ConfigError, ConnectionLost, DbinitError, InvalidMigrations, LockLost, MigrationFailed,
                      NotReady, Problem)
from ..files import Migration
from ..plan import Applied
from ..settings import Neo4jSettings
from ..cypher import CypherStatement, parse
from .base import Backend, owner_id

HISTORY = "__DbinitMigration"
LOCK = "__DbinitLock"
FIELDS = ("version", "description", "script", "checksum", "applied_at", "execution_ms", "success", "applied_by")
_POSITION = re.compile(r"\(line (\d+), column (\d+)")
# The fence: matches this runner's unexpired lock node and extends its lease. Written inside a
# transaction it also takes the node's write lock, so no other runner can delete it and take over
# until that transaction has committed or rolled back.
# `replan=skip`: a CREATE INDEX marks cached plans stale, and this fixed query was replanned after every
# such migration (~70 ms, more than a small migration); its old plan stays right, and Neo4j still
# replans when an index the plan uses is gone. (A CREATE CONSTRAINT empties the whole plan cache,
# which no query option avoids: bench/RESULTS.md.)
_FENCE = (f"CYPHER replan=skip MATCH (l:{LOCK} {{name: 'migrations', owner: $owner}}) WHERE l.expires > timestamp() "
          "SET l.expires = timestamp() + $lease")
# Put back what a user's file deleted (MATCH (n) DETACH DELETE n takes dbinit's nodes with the rest).
_RESTORE_LOCK = (f"MERGE (l:{LOCK} {{name: 'migrations'}}) ON CREATE SET l.owner = $owner, "
                 "l.expires = timestamp() + $lease RETURN l.owner = $owner AS ours")
_RESTORE_HISTORY = f"UNWIND $history AS h MERGE (m:{HISTORY} {{version: h.version}}) ON CREATE SET m = h"
# EXPLAIN errors that are the file's fault; any other error means EXPLAIN cannot judge the statement.
_EXPLAIN_FINDS = ("Neo.ClientError.Statement.SyntaxError", "Neo.ClientError.Procedure.ProcedureNotFound")
_PRECHECK_SESSIONS = 2


def _caused_by_tls(e: BaseException) -> bool:
    while e is not None:
        if isinstance(e, ssl.SSLError):
            return True
        e = e.__cause__ or e.__context__
    return False


def classify_connect_error(e: Exception, where: str) -> Exception:
    if isinstance(e, (AuthError, Forbidden)):
        return AuthRefused(f"neo4j: authentication refused at {where}: {getattr(e, 'message', e)}")
    if isinstance(e, ConfigurationError) or _caused_by_tls(e):
        return ConfigError(f"neo4j: TLS or connection settings do not fit the server at {where}: {e}")
    if isinstance(e, ClientError) and e.code == "Neo.ClientError.Database.DatabaseNotFound":
        return ConfigError(f"neo4j: {e.message} ({where}); check NEO4J_DATABASE")
    if isinstance(e, (ServiceUnavailable, SessionExpired, TransientError, DriverError, OSError)):
        return NotReady(f"neo4j: {getattr(e, 'message', None) or e}")
    if isinstance(e, ClientError) and "Security" in (e.code or ""):  # e.g. a password that must be changed
        return AuthRefused(f"neo4j: {e.message} ({where})")
    return ConfigError(f"neo4j: the server refused the connection settings for {where}: "
                       f"{getattr(e, 'message', None) or e}")


def _unavailable(e: Exception) -> bool:
    """The server or the database went away (stopped, restarting, cut off): not the file's fault."""
    return isinstance(e, (ServiceUnavailable, SessionExpired)) or (
        isinstance(e, Neo4jError) and e.code in ("Neo.TransientError.General.DatabaseUnavailable",
                                                  "Neo.TransientError.Database.DatabaseUnavailable"))


def groups(statements: list[CypherStatement]) -> list[tuple[str, list[CypherStatement]]]:
    """Consecutive statements that Neo4j lets share a transaction: schema changes apart from data
    writes (reads join either), and each CALL {…} IN TRANSACTIONS alone in an implicit transaction."""
    out: list[tuple[str, list[CypherStatement]]] = []
    for stmt in statements:
        kind = stmt.kind
        if out and kind != "auto" and out[-1][0] != "auto" and kind in ("read", out[-1][0]):
            out[-1][1].append(stmt)
        elif out and out[-1][0] == "read" and kind in ("schema", "data"):
            out[-1] = (kind, out[-1][1] + [stmt])
        else:
            out.append((kind, [stmt]))
    return out


class Neo4jBackend(Backend):
    name = "neo4j"
    leased = True

    def __init__(self, settings: Neo4jSettings):
        self.settings = settings
        self.owner = owner_id()
        self.driver: neo4j.Driver | None = None
        self._constraints_made = False
        # Every transaction of a migration carries its runner's owner id, so that a runner taking
        # over an expired lock, or this one when interrupted, can stop that work on the server.
        self._meta = {"dbinit": self.owner}
        self._known: dict[str, dict] = {}  # every history node's properties, to restore what a file deletes
        # When the newest lease extension the server confirmed was sent: the lease holds until at
        # least then + lease on any clock running at the server's rate.
        self._extended_at = float("-inf")

    def _session(self):
        return self.driver.session(database=self.settings.database)

    def _query(self, cypher: str, **params) -> list[neo4j.Record]:
        with self._session() as s:
            return list(s.run(cypher, params))

    def connect(self, timeout: float) -> None:
        if self.driver is None:
            self.driver = neo4j.GraphDatabase.driver(
                self.settings.uri, auth=self.settings.auth, connection_timeout=timeout,
                connection_acquisition_timeout=timeout, user_agent="dbinit",
                notifications_min_severity="OFF")  # the server's hints on dbinit's own queries are noise
        try:
            # A real query in the target database: verify_connectivity does not prove it is online.
            self._query("RETURN 1")
        except Exception as e:
            raise classify_connect_error(e, self.settings.display()) from None

    def close(self) -> None:
        if self.driver is not None:
            self.driver.close()
            self.driver = None

    def _ensure_constraints(self) -> None:
        if self._constraints_made:
            return
        for label, prop, name in ((HISTORY, "version", "dbinit_migration_version"), (LOCK, "name", "dbinit_lock_name")):
            for attempt in range(5):  # racing runners may collide creating the same constraint
                try:
                    self._query(f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{prop} IS UNIQUE")
                    break
                except (ClientError, TransientError) as e:
                    racing = isinstance(e, TransientError) or "AlreadyExists" in (e.code or "")
                    if not racing or attempt == 4:
                        raise
                    time.sleep(0.1)
        self._constraints_made = True

    def translate(self, error: Exception) -> DbinitError | None:
        if _unavailable(error):
            return ConnectionLost(self.name, getattr(error, "message", None) or str(error))
        if isinstance(error, (Neo4jError, DriverError)):
            return DbinitError(f"neo4j: the server refused dbinit's own query: {getattr(error, 'message', None) or error}")
        return None

    # Locking: a node under a uniqueness constraint; the server's clock sets and checks its lease.
    def try_lock(self) -> bool:
        self._ensure_constraints()
        expired = self._query(f"MATCH (l:{LOCK} {{name: 'migrations'}}) WHERE l.expires < timestamp() "
                              "RETURN l.owner AS owner")
        try:
            if expired:
                # The holder's lease ran out (killed, paused, cut off): stop whatever it still has
                # running on the server before taking over, so its work cannot commit after ours starts.
                self._terminate(expired[0]["owner"])
                with self._session() as s:
                    s.run(neo4j.Query(f"MATCH (l:{LOCK} {{name: 'migrations'}}) WHERE l.expires < timestamp() "
                                      "DELETE l", timeout=5)).consume()
            elif self._others_at_work():
                return False
            sent = _clock()
            self._query(f"CREATE (:{LOCK} {{name: 'migrations', owner: $owner, expires: timestamp() + $lease}})",
                        owner=self.owner, lease=self._lease_ms)
            self._confirmed(sent)
        except (ConstraintError, TransientError):
            return False
        except ClientError as e:
            if "Transaction" in (e.code or ""):  # the delete timed out or was terminated: try again later
                return False
            raise
        return True

    def _others_at_work(self) -> bool:
        """Another runner's migration is running with no lock node in place: its file deleted the
        node (a graph reset), and it puts the node back when its statement ends."""
        rows = self._query("SHOW TRANSACTIONS YIELD metaData, status WHERE metaData.dbinit IS NOT NULL "
                           "AND metaData.dbinit <> $owner AND NOT status STARTS WITH 'Terminated' "
                           "RETURN count(*) AS n", owner=self.owner)
        return rows[0]["n"] > 0

    def _terminate(self, owner: str) -> None:
        """Terminate the transactions a runner left on the server (its metadata names it)."""
        rows = self._query("SHOW TRANSACTIONS YIELD transactionId, metaData WHERE metaData.dbinit = $owner "
                           "RETURN collect(transactionId) AS ids", owner=owner)
        if rows and rows[0]["ids"]:
            self._query("TERMINATE TRANSACTIONS $ids", ids=rows[0]["ids"])

    @property
    def _lease_ms(self) -> int:
        return int(self.lease_s * 1000)

    def renew_lock(self) -> bool:
        sent = _clock()
        rows = self._query(_FENCE + " RETURN count(l) AS n", owner=self.owner, lease=self._lease_ms)
        if rows[0]["n"] != 1:
            return False
        self._confirmed(sent)
        return True

    def holds_lock(self) -> bool:
        rows = self._query(f"MATCH (l:{LOCK} {{name: 'migrations', owner: $owner}}) WHERE l.expires > timestamp() "
                           "RETURN count(l) AS n", owner=self.owner)
        return rows[0]["n"] == 1

    def _fence(self, runner) -> None:
        """Check and extend this runner's lease in `runner` (a transaction, or the session for a
        check right before statements that cannot share a transaction with it); LockLost if gone."""
        sent = _clock()
        if runner.run(_FENCE + " RETURN count(l) AS n", owner=self.owner, lease=self._lease_ms).single()["n"] != 1:
            raise LockLost(self.name, f"the lease ran out while this run was stopped or cut off; it is now held by "
                           f"{self._holder_or_unknown()}")
        self._confirmed(sent)

    def _confirmed(self, sent: float) -> None:
        """The server extended this runner's lease by a query sent at `sent` (on `_clock`)."""
        self._extended_at = max(self._extended_at, sent)

    def _check_lease(self, session) -> None:
        """Right before statements that cannot share a transaction with the fence. While the last
        extension the server confirmed is less than half a lease old the lease surely holds (only an
        expired lock is taken over), and asking the server would cost a replanned query per file;
        after a pause, or with renewals failing, the server is asked."""
        if _clock() - self._extended_at >= self.lease_s / 2:
            self._fence(session)

    def lock_holder(self) -> str:
        rows = self._query(f"MATCH (l:{LOCK} {{name: 'migrations'}}) RETURN l.owner AS owner, "
                           "l.expires - timestamp() AS left")
        if not rows:
            return "nobody (just released)"
        return f"{rows[0]['owner']} (lease ends in {max(0, rows[0]['left']) / 1000:.1f} s)"

    def unlock(self) -> None:
        self._query(f"MATCH (l:{LOCK} {{name: 'migrations', owner: $owner}}) DELETE l", owner=self.owner)

    def history(self) -> list[Applied]:
        rows = self._query(f"MATCH (m:{HISTORY}) RETURN m")
        self._known = {r["m"]["version"]: dict(r["m"]) for r in rows}
        return [Applied(**{f: _native(r["m"].get(f)) for f in FIELDS}) for r in rows]

    def precheck(self, migrations: list[Migration]) -> None:
        """Have the server plan every pending statement (EXPLAIN runs nothing) before the first one
        runs: a syntax error or a missing procedure in the last file stops the run before the first.
        Planning is the server's CPU, one core per session: two sessions halve the wait on a server
        with two cores or more (bench/RESULTS.md)."""
        pending = [(n, m, stmt) for n, m in enumerate(migrations) for stmt in parse(m)
                   if not stmt.code.upper().startswith(("EXPLAIN", "PROFILE"))]

        def explain(share: list[tuple[int, Migration, CypherStatement]]) -> list[tuple[int, int, Problem]]:
            found = []
            with self._session() as session:
                for n, m, stmt in share:
                    try:
                        session.run("EXPLAIN " + stmt.text).consume()
                    except ClientError as e:
                        if e.code in _EXPLAIN_FINDS:
                            failure = self._failure(m, stmt, e, [])
                            found.append((n, stmt.line, Problem(
                                m.path, f"{e.code}: {(e.message or '').splitlines()[0]} "
                                "(found by EXPLAIN before anything ran)", failure.line)))
            return found

        sessions = min(_PRECHECK_SESSIONS, len(pending))  # a second session only for a second statement
        if not sessions:
            return
        with ThreadPoolExecutor(sessions) as pool:
            shares = pool.map(explain, [pending[i::sessions] for i in range(sessions)])
            problems = [p for *_, p in sorted((f for share in shares for f in share), key=lambda f: f[:2])]
        if problems:
            raise InvalidMigrations(problems)

    def prepare(self) -> None:
        self._ensure_constraints()

    def _record_query(self, tx, migration: Migration, ms: int) -> Applied:
        """The history node, written only if this runner's lease holds (the fence in the same query)."""
        props = {"version": migration.version, "description": migration.description, "script": migration.script,
                 "checksum": migration.checksum, "execution_ms": ms, "success": True, "applied_by": self.owner}
        sent = _clock()
        record = tx.run(_FENCE + f" CREATE (m:{HISTORY}) SET m = $props, m.applied_at = datetime() RETURN m",
                        props=props, owner=self.owner, lease=self._lease_ms).single()
        if record is None:
            raise LockLost(self.name, f"the lease ran out before {migration.script} was recorded (its transaction "
                           f"was rolled back); the lock is now held by {self._holder_or_unknown()}")
        self._known[migration.version] = dict(record["m"])
        self._confirmed(sent)
        return Applied(**{f: _native(record["m"].get(f)) for f in FIELDS})

    def apply(self, migration: Migration) -> Applied:
        try:
            return self._apply(migration)
        except (Neo4jError, DriverError) as e:
            if not _unavailable(e):
                raise
            raise ConnectionLost(self.name, getattr(e, "message", None) or str(e), migration.path,
                                 "a transaction cut off before its commit was rolled back") from None

    @contextmanager
    def _stoppable(self, tx=None) -> Iterator[None]:
        """On SIGINT or SIGTERM, terminate this runner's transaction on the server first: the
        driver's own rollback would wait for the running statement to finish, and the lock must
        be free only when the work has stopped."""
        try:
            yield
        except KeyboardInterrupt:
            self._terminate(self.owner)
            if tx is not None:
                try:
                    tx.close()
                except Exception:  # "terminated", as asked: the interrupt is what the user sees
                    pass
            raise

    def _restore(self, runner, migration: Migration) -> None:
        """After statements that may have deleted dbinit's lock node or history nodes: put back what
        is gone, in `runner` (the deleting transaction itself where Neo4j allows it)."""
        lock = runner.run(_RESTORE_LOCK, owner=self.owner, lease=self._lease_ms)
        ours = lock.single()["ours"]
        lock_made = lock.consume().counters.nodes_created
        if not ours:
            raise LockLost(self.name, f"{migration.path} deleted the lock node and another runner took the lock "
                           f"before it was put back: {self._holder_or_unknown()}")
        restored = runner.run(_RESTORE_HISTORY, history=list(self._known.values())).consume().counters.nodes_created
        if restored or lock_made:
            log.warn(self.name, f"{migration.path} deleted dbinit's own nodes; put back "
                     f"{restored} history node(s){' and the lock node' if lock_made else ''}")

    def _after_unfenced(self, session, migration: Migration) -> None:
        """After a schema group or CALL … IN TRANSACTIONS that may have deleted dbinit's nodes or
        dropped its constraints: recreate the constraints, then restore the nodes in a transaction."""
        self._constraints_made = False
        self._ensure_constraints()
        tx = session.begin_transaction(metadata=self._meta)
        try:
            self._restore(tx, migration)
            tx.commit()
        finally:
            tx.close()

    def _apply(self, migration: Migration) -> Applied:
        start = time.perf_counter()
        done: list[CypherStatement] = []
        batches = groups(parse(migration))
        with self._session() as session:
            for i, (kind, statements) in enumerate(batches):
                last = i == len(batches) - 1
                if kind != "data":  # schema changes and CALL IN TRANSACTIONS cannot share a fenced transaction
                    self._check_lease(session)
                risky = any(stmt.may_delete for stmt in statements)
                if kind == "auto":
                    with self._stoppable():
                        self._run_auto(session, migration, statements[0], done)
                    if risky:
                        self._after_unfenced(session, migration)
                    continue
                tx = session.begin_transaction(metadata=self._meta)
                try:
                    with self._stoppable(tx):
                        for stmt in statements:
                            self._run(tx, migration, stmt, done)
                        if risky and kind != "schema":
                            self._restore(tx, migration)  # atomically with the deleting statements
                        if last and kind != "schema":  # the record commits with the migration's last writes
                            applied = self._record_query(tx, migration, _ms(start))
                            tx.commit()
                            return applied
                        if kind != "schema":
                            self._fence(tx)
                        tx.commit()
                finally:
                    tx.close()
                done.extend(statements)
                if risky and kind == "schema":
                    self._after_unfenced(session, migration)
            with self._stoppable():
                return session.execute_write(neo4j.unit_of_work(metadata=self._meta)(
                    lambda tx: self._record_query(tx, migration, _ms(start))))

    def _run(self, tx, migration: Migration, stmt: CypherStatement, done: list) -> None:
        try:
            tx.run(stmt.text).consume()
        except Neo4jError as e:
            if _unavailable(e):
                raise
            raise self._failure(migration, stmt, e, done) from None

    def _run_auto(self, session, migration: Migration, stmt: CypherStatement, done: list) -> None:
        try:
            session.run(neo4j.Query(stmt.text, metadata=self._meta)).consume()
        except Neo4jError as e:
            if _unavailable(e):
                raise
            raise self._failure(migration, stmt, e, done) from None
        done.append(stmt)

    def _failure(self, migration: Migration, stmt: CypherStatement, e: Neo4jError, done: list) -> MigrationFailed:
        message = (e.message or str(e)).split("\n")[0]
        line = stmt.line
        if m := _POSITION.search(message):
            line += int(m[1]) - 1
        committed = (f"statements already committed: lines {', '.join(str(s.line) for s in done)}; "
                     "the whole file is retried on the next run") if done else "nothing of this file was committed"
        first = stmt.text.splitlines()[0][:120]
        return MigrationFailed(self.name, migration.path, f"{e.code}: {message}; {committed} (statement: {first})",
                               line, first, e.code)

    def describe(self, migration: Migration, elapsed: float) -> tuple[str, dict[str, object]] | None:
        """The running transaction of this runner, as SHOW TRANSACTIONS has it."""
        rows = self._query("SHOW TRANSACTIONS YIELD transactionId, elapsedTime, status, currentQuery, metaData "
                           "WHERE metaData.dbinit = $owner RETURN transactionId, elapsedTime.milliseconds AS ms, "
                           "status, currentQuery", owner=self.owner)
        if not rows:
            return None
        r = rows[0]
        query = " ".join((r["currentQuery"] or "").split())[:80]
        return (f"transaction {r['transactionId']} {r['status']} for {r['ms'] / 1000:.0f} s: {query}",
                {"transaction": r["transactionId"], "status": r["status"], "query": query})

    def describe_finish(self, elapsed: float) -> tuple[str, dict[str, object]] | None:
        """Each index still populating, with its populationPercent."""
        rows = self._query("SHOW INDEXES YIELD name, state, populationPercent WHERE state = 'POPULATING' "
                           "RETURN name, populationPercent AS percent")
        if not rows:
            return None
        return ("populating " + ", ".join(f"{r['name']} {r['percent']:.0f}%" for r in rows),
                {"indexes": {r["name"]: round(r["percent"], 1) for r in rows}})

    def finish(self, timeout: float) -> None:
        """Wait until every index is ONLINE, so the application never starts on a populating one."""
        try:
            self._query("CALL db.awaitIndexes($timeout)", timeout=int(max(1, timeout)))
        except Neo4jError:
            pass  # a FAILED index or the timeout: SHOW INDEXES below says which index and why
        rows = self._query("SHOW INDEXES YIELD name, state, failureMessage WHERE state <> 'ONLINE' "
                           "RETURN name, state, failureMessage")
        if rows:
            what = "; ".join(f"{r['name']} is {r['state']}" + (f": {r['failureMessage']}" if r["failureMessage"] else "")
                             for r in rows)
            raise MigrationFailed(self.name, None, f"indexes not usable when dbinit finished (waited up to "
                                  f"{timeout:g} s, DBINIT_INDEX_TIMEOUT): {what}")

    def _fenced_write(self, cypher: str, **params) -> None:
        """A history write that commits only while this runner's lease holds."""
        def work(tx) -> None:
            self._fence(tx)
            tx.run(cypher, params).consume()

        with self._session() as s:
            s.execute_write(work)

    def record(self, applied: Applied) -> None:
        props = {f: getattr(applied, f) for f in FIELDS}
        props["applied_by"] = self.owner
        self._fenced_write(f"CREATE (m:{HISTORY}) SET m = $props", props=props)
        self._known[applied.version] = props

    def set_checksum(self, version: str, checksum: str) -> None:
        self._fenced_write(f"MATCH (m:{HISTORY} {{version: $v}}) SET m.checksum = $c", v=version, c=checksum)

    def forget(self, version: str) -> None:
        self._fenced_write(f"MATCH (m:{HISTORY} {{version: $v}}) DELETE m", v=version)


def _native(value):
    """Neo4j's DateTime to Python's."""
    return value.to_native() if hasattr(value, "to_native") else value


def _clock() -> float:
    """Seconds that keep counting while this machine sleeps or this process is stopped."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _ms(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)
