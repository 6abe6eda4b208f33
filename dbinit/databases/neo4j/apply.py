"""One file applied: its statements grouped into as few transactions as Neo4j allows, every group
fenced by the lease, the history node committed with the last writes, and what a file deletes of
dbinit's own put back."""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

import neo4j
from neo4j.exceptions import DriverError, Neo4jError

from ... import audit
from ...errors import ConnectionLost, LockLost
from ...history import AUDIT, Applied, Audit
from ...migration import Migration, kept_down
from .cypher import CypherStatement, parse
from .lock import FENCE, clock
from .restore import HISTORY, after_unfenced, restore
from .server_errors import failure, unavailable

if TYPE_CHECKING:
    from .backend import Neo4jBackend

FIELDS = ("version", "description", "script", "checksum", "applied_at", "execution_ms", "success", "applied_by",
          "baselined")
DOWN = "down_script"  # the down script's text, kept for a rollback from an image without the file
T = TypeVar("T")


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


def as_applied(node: Any) -> Applied:
    """A history node as a record; Neo4j's DateTime as Python's."""
    values = {f: node.get(f) for f in FIELDS}
    values["baselined"] = bool(values["baselined"])
    if hasattr(values["applied_at"], "to_native"):
        values["applied_at"] = values["applied_at"].to_native()
    return Applied(**values, audit=Audit(*(node.get(f) for f in AUDIT)))


def audited(props: dict[str, Any]) -> dict[str, Any]:
    """A history node's properties with the run that writes it."""
    return {**props, **asdict(audit.current())}


def apply(backend: Neo4jBackend, migration: Migration) -> Applied:
    return _run_file(backend, migration, lambda tx, ms: _record(backend, tx, migration, ms))


def revert(backend: Neo4jBackend, migration: Migration, down: Migration) -> None:
    """A down script run as a migration is, its last writes committing with the removal of the
    migration's history node."""
    _run_file(backend, down, lambda tx, ms: _forget(backend, tx, migration))


def _run_file(b: Neo4jBackend, migration: Migration, last_write: Callable[[Any, int], T]) -> T:
    try:
        return _run_groups(b, migration, last_write)
    except (Neo4jError, DriverError) as e:
        if not unavailable(e):
            raise
        raise ConnectionLost(b.name, b.said(e), migration.path,
                             "a transaction cut off before its commit was rolled back") from None


def _run_groups(b: Neo4jBackend, migration: Migration, last_write: Callable[[Any, int], T]) -> T:
    start = time.perf_counter()
    done: list[CypherStatement] = []
    batches = groups(parse(migration))
    if any(stmt.may_delete for _, statements in batches for stmt in statements):
        b.remember()  # what the file may delete of dbinit's own, to put back
    with b.session() as session:
        for i, (kind, statements) in enumerate(batches):
            last = i == len(batches) - 1
            if kind != "data":  # schema changes and CALL IN TRANSACTIONS cannot share a fenced transaction
                b.locking.check(session)
            risky = any(stmt.may_delete for stmt in statements)
            if kind == "auto":
                with _stoppable(b):
                    _run_auto(b, session, migration, statements[0], done)
                if risky:
                    after_unfenced(b, session, migration)
                continue
            tx = session.begin_transaction(metadata=b.meta)
            try:
                with _stoppable(b, tx):
                    for stmt in statements:
                        _run(b, tx, migration, stmt, done)
                    if risky and kind != "schema":
                        restore(b, tx, migration)  # atomically with the deleting statements
                    if last and kind != "schema":  # the record commits with the migration's last writes
                        result = last_write(tx, _ms(start))
                        tx.commit()
                        return result
                    if kind != "schema":
                        b.locking.fence(tx)
                    tx.commit()
            finally:
                tx.close()
            done.extend(statements)
            if risky and kind == "schema":
                after_unfenced(b, session, migration)
        with _stoppable(b):
            return session.execute_write(neo4j.unit_of_work(metadata=b.meta)(lambda tx: last_write(tx, _ms(start))))


def _props(b: Neo4jBackend, migration: Migration, ms: int) -> dict[str, Any]:
    return audited({"version": migration.version, "description": migration.description, "script": migration.script,
                    "checksum": migration.checksum, "execution_ms": ms, "success": True, "applied_by": b.owner,
                    DOWN: kept_down(migration)})


_CREATE = f"CREATE (m:{HISTORY}) SET m = $props, m.applied_at = datetime()"
_REPLACE = f"MERGE (m:{HISTORY} {{version: $props.version}}) SET m = $props, m.applied_at = datetime()"  # repeatable


def _record(b: Neo4jBackend, tx: Any, migration: Migration, ms: int) -> Applied:
    """The history node, written only if this runner's lease holds (the fence in the same query)."""
    sent = clock()
    write = _REPLACE if migration.repeatable else _CREATE
    record = tx.run(f"{FENCE} {write} RETURN m", props=_props(b, migration, ms), owner=b.owner,
                    lease=b.lease_ms).single()
    if record is None:
        raise LockLost(b.name, f"the lease ran out before {migration.script} was recorded (its transaction "
                       f"was rolled back); the lock is now held by {b.holder_or_unknown()}")
    b.known[migration.version] = dict(record["m"])
    if migration.covers:  # a checkpoint's records of the files it stands for, in the same transaction
        rows = [audited({"version": v, "description": d, "script": migration.script, "checksum": c, "execution_ms": 0,
                         "success": True, "applied_by": b.owner, "baselined": True}) for v, d, c in migration.covers]
        for node in tx.run(f"UNWIND $rows AS r CREATE (m:{HISTORY}) SET m = r, m.applied_at = datetime() RETURN m",
                           rows=rows):
            b.known[node["m"]["version"]] = dict(node["m"])
    b.locking.confirmed(sent)
    return as_applied(record["m"])


def _forget(b: Neo4jBackend, tx: Any, migration: Migration) -> None:
    """The history node removed, only if this runner's lease holds (the fence in the same query)."""
    sent = clock()
    if tx.run(FENCE + f" WITH l OPTIONAL MATCH (m:{HISTORY} {{version: $version}}) DELETE m RETURN count(l) AS n",
              version=migration.version, owner=b.owner, lease=b.lease_ms).single() is None:
        raise LockLost(b.name, f"the lease ran out before the revert of {migration.script} was recorded (its "
                       f"transaction was rolled back); the lock is now held by {b.holder_or_unknown()}")
    b.known.pop(migration.version, None)
    b.locking.confirmed(sent)


@contextmanager
def _stoppable(b: Neo4jBackend, tx: Any = None) -> Iterator[None]:
    """On SIGINT or SIGTERM, terminate this runner's transaction on the server first: the
    driver's own rollback would wait for the running statement to finish, and the lock must
    be free only when the work has stopped."""
    try:
        yield
    except KeyboardInterrupt:
        b.locking.terminate(b.owner)
        if tx is not None:
            try:
                tx.close()
            except Exception:  # "terminated", as asked: the interrupt is what the user sees
                pass
        raise


def _run(b: Neo4jBackend, tx: Any, migration: Migration, stmt: CypherStatement, done: list[CypherStatement]) -> None:
    try:
        tx.run(stmt.text, dict(migration.parameters)).consume()
    except Neo4jError as e:
        if unavailable(e):
            raise
        raise failure(b.name, migration, stmt, e, done) from None


def _run_auto(b: Neo4jBackend, session: Any, migration: Migration, stmt: CypherStatement,
              done: list[CypherStatement]) -> None:
    try:
        session.run(neo4j.Query(stmt.text, metadata=b.meta), dict(migration.parameters)).consume()
    except Neo4jError as e:
        if unavailable(e):
            raise
        raise failure(b.name, migration, stmt, e, done) from None
    done.append(stmt)


def _ms(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


def script(b: Neo4jBackend, migration: Migration) -> list[str]:
    """A file's statements in the transactions dbinit groups them into, and its history node (the
    fence and the measured time as dbinit sends them: in the history node's query, as parameters)."""
    out = [f"\n// {migration.label} {migration.description} ({migration.script}, {migration.phase})"]
    for kind, statements in groups(parse(migration)):
        out.append(f"// a {'schema' if kind == 'schema' else 'CALL IN TRANSACTIONS' if kind == 'auto' else 'data'} "
                   "transaction:" if kind != "read" else "// reads:")
        out += [stmt.text + ";" for stmt in statements]
    props = ", ".join(f"{k}: {json.dumps(v)}" for k, v in _props(b, migration, 0).items() if v is not None)
    out += [f"// with the last writes, fenced: {FENCE}",
            (_REPLACE if migration.repeatable else _CREATE).replace("$props.version", json.dumps(migration.version))
            .replace("$props", "{" + props.replace("execution_ms: 0", "execution_ms: 0 /* measured */") + "}") + ";"]
    return out
