"""Putting back what a user's file deleted of dbinit's own: `MATCH (n) DETACH DELETE n` takes the
lock node and the history nodes with the rest, and a DROP CONSTRAINT or a procedure may take the
constraints."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ... import log
from ...errors import LockLost
from ...migration import Migration
from .lock import LOCK

if TYPE_CHECKING:
    from .backend import Neo4jBackend

HISTORY = "__DbinitMigration"
_RESTORE_LOCK = (f"MERGE (l:{LOCK} {{name: 'migrations'}}) ON CREATE SET l.owner = $owner, "
                 "l.expires = timestamp() + $lease RETURN l.owner = $owner AS ours")
_RESTORE_HISTORY = f"UNWIND $history AS h MERGE (m:{HISTORY} {{version: h.version}}) ON CREATE SET m = h"


def restore(backend: Neo4jBackend, runner: Any, migration: Migration) -> None:
    """After statements that may have deleted dbinit's lock node or history nodes: put back what
    is gone, in `runner` (the deleting transaction itself where Neo4j allows it)."""
    lock = runner.run(_RESTORE_LOCK, owner=backend.owner, lease=backend.lease_ms)
    ours = lock.single()["ours"]
    lock_made = lock.consume().counters.nodes_created
    if not ours:
        raise LockLost(backend.name, f"{migration.path} deleted the lock node and another runner took the lock "
                       f"before it was put back: {backend.holder_or_unknown()}")
    restored = runner.run(_RESTORE_HISTORY, history=list(backend.known.values())).consume().counters.nodes_created
    if restored or lock_made:
        log.warn(backend.name, f"{migration.path} deleted dbinit's own nodes; put back "
                 f"{restored} history node(s){' and the lock node' if lock_made else ''}")


def after_unfenced(backend: Neo4jBackend, session: Any, migration: Migration) -> None:
    """After a schema group or CALL … IN TRANSACTIONS that may have deleted dbinit's nodes or
    dropped its constraints: recreate the constraints, then restore the nodes in a transaction."""
    backend.ensure_constraints(again=True)
    tx = session.begin_transaction(metadata=backend.meta)
    try:
        restore(backend, tx, migration)
        tx.commit()
    finally:
        tx.close()
