"""The migration lock: a node under a uniqueness constraint, its lease set and checked by the
server's clock, renewed by the lease thread and fenced into every write."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import neo4j
from neo4j.exceptions import ClientError, ConstraintError, TransientError

from ...lease import holder

if TYPE_CHECKING:
    from .backend import Neo4jBackend

LOCK = "__DbinitLock"
# The fence: matches this runner's unexpired lock node and extends its lease. Written inside a
# transaction it also takes the node's write lock, so no other runner can delete it and take over
# until that transaction has committed or rolled back.
# `replan=skip`: a CREATE INDEX marks cached plans stale, and this fixed query was replanned after every
# such migration (~70 ms, more than a small migration); its old plan stays right, and Neo4j still
# replans when an index the plan uses is gone. (A CREATE CONSTRAINT empties the whole plan cache,
# which no query option avoids: bench/RESULTS.md.)
FENCE = (f"CYPHER replan=skip MATCH (l:{LOCK} {{name: 'migrations', owner: $owner}}) WHERE l.expires > timestamp() "
         "SET l.expires = timestamp() + $lease")


def clock() -> float:
    """Seconds that keep counting while this machine sleeps or this process is stopped."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class NodeLock:
    leased = True

    def __init__(self, backend: Neo4jBackend) -> None:
        self.backend = backend
        # When the newest lease extension the server confirmed was sent: the lease holds until at
        # least then + lease on any clock running at the server's rate.
        self._extended_at = float("-inf")

    def take(self) -> bool:
        b = self.backend
        b.ensure_constraints()
        expired = b.query(f"MATCH (l:{LOCK} {{name: 'migrations'}}) WHERE l.expires < timestamp() "
                          "RETURN l.owner AS owner")
        try:
            if expired:
                # The holder's lease ran out (killed, paused, cut off): stop whatever it still has
                # running on the server before taking over, so its work cannot commit after ours starts.
                self.terminate(expired[0]["owner"])
                with b.session() as s:
                    s.run(neo4j.Query(f"MATCH (l:{LOCK} {{name: 'migrations'}}) WHERE l.expires < timestamp() "
                                      "DELETE l", timeout=5)).consume()
            elif self._others_at_work():
                return False
            sent = clock()
            b.query(f"CREATE (:{LOCK} {{name: 'migrations', owner: $owner, expires: timestamp() + $lease}})",
                    owner=b.owner, lease=b.lease_ms)
            self.confirmed(sent)
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
        rows = self.backend.query("SHOW TRANSACTIONS YIELD metaData, status WHERE metaData.dbinit IS NOT NULL "
                                  "AND metaData.dbinit <> $owner AND NOT status STARTS WITH 'Terminated' "
                                  "RETURN count(*) AS n", owner=self.backend.owner)
        return bool(rows[0]["n"] > 0)

    def terminate(self, owner: str) -> None:
        """Terminate the transactions a runner left on the server (its metadata names it)."""
        rows = self.backend.query("SHOW TRANSACTIONS YIELD transactionId, metaData WHERE metaData.dbinit = $owner "
                                  "RETURN collect(transactionId) AS ids", owner=owner)
        if rows and rows[0]["ids"]:
            self.backend.query("TERMINATE TRANSACTIONS $ids", ids=rows[0]["ids"])

    def renew(self) -> bool:
        sent = clock()
        rows = self.backend.query(FENCE + " RETURN count(l) AS n", owner=self.backend.owner, lease=self.backend.lease_ms)
        if rows[0]["n"] != 1:
            return False
        self.confirmed(sent)
        return True

    def holds(self) -> bool:
        rows = self.backend.query(f"MATCH (l:{LOCK} {{name: 'migrations', owner: $owner}}) WHERE l.expires > "
                                  "timestamp() RETURN count(l) AS n", owner=self.backend.owner)
        return bool(rows[0]["n"] == 1)

    def fence(self, runner: Any) -> None:
        """Check and extend this runner's lease in `runner` (a transaction, or the session for a
        check right before statements that cannot share a transaction with it); LockLost if gone."""
        sent = clock()
        if runner.run(FENCE + " RETURN count(l) AS n", owner=self.backend.owner,
                      lease=self.backend.lease_ms).single()["n"] != 1:
            raise self.backend.lease_lost()
        self.confirmed(sent)

    def confirmed(self, sent: float) -> None:
        """The server extended this runner's lease by a query sent at `sent` (on `clock`)."""
        self._extended_at = max(self._extended_at, sent)

    def check(self, session: Any) -> None:
        """Right before statements that cannot share a transaction with the fence. While the last
        extension the server confirmed is less than half a lease old the lease surely holds (only an
        expired lock is taken over), and asking the server would cost a replanned query per file;
        after a pause, or with renewals failing, the server is asked."""
        if clock() - self._extended_at >= self.backend.lease_s / 2:
            self.fence(session)

    def holder(self) -> str:
        rows = self.backend.query(f"MATCH (l:{LOCK} {{name: 'migrations'}}) RETURN l.owner AS owner, "
                                  "l.expires - timestamp() AS left")
        return holder(rows[0]["owner"], rows[0]["left"]) if rows else holder(None, 0)

    def release(self) -> None:
        self.backend.query(f"MATCH (l:{LOCK} {{name: 'migrations', owner: $owner}}) DELETE l", owner=self.backend.owner)
