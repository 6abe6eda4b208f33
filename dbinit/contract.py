"""What every database backend implements, the capabilities some have, and the lock they share.

The runner calls only what is here. A backend knows nothing of files on disk or their order; it
is given its settings and the lock lease when made (`Database.open`), and hands results back as
values: `lock()` yields how long the lock took, `apply()` the history record it wrote."""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Iterator, Protocol, runtime_checkable

from . import log, retry
from .errors import DbinitError, LockLost, LockTimeout, MigrationFailed, Problem
from .history import Applied
from .lease import RAN_OUT, Lease, owner_id
from .migration import Migration
from .preconditions import Answer
from .ports import Endpoint
from .description import Description, Record

Progress = tuple[str, dict[str, object]] | None  # what the server says a long run is doing


class Lock(Protocol):
    """The migration lock of one kind, chosen once when its backend is made."""

    leased: bool  # a lease is renewed while held (renew), and checked (holds); every write is fenced by it

    def take(self) -> bool:
        """Take the lock if it is free."""

    def holder(self) -> str:
        """Who holds it, for the messages of a runner that waits or lost it."""

    def release(self) -> None: ...

    def renew(self) -> bool:
        """Extend the lease; False when it was lost."""

    def holds(self) -> bool:
        """This runner's lease is in place and unexpired."""


class Backend(ABC):
    """One database: connection, history, lock, apply."""

    name: str
    locking: Lock

    def __init__(self, lease_s: float) -> None:
        self.lease_s = lease_s
        self.owner = owner_id()
        self._lease: Lease | None = None

    @property
    def lease_ms(self) -> int:
        return int(self.lease_s * 1000)

    @abstractmethod
    def connect(self, timeout: float) -> None:
        """One attempt to connect and run a real query. Raises NotReady (retry), AuthRefused or ConfigError."""

    @abstractmethod
    def close(self) -> None: ...

    def translate(self, error: Exception) -> DbinitError | None:
        """This backend's client-library exception as a typed error, or None if it is not one."""
        return None

    def words(self, error: Exception) -> str:
        """An error as a warning quotes it: a client library's exception as this backend reads it."""
        return str(self.translate(error) or error)

    # The lock, of the kind the backend chose.
    @property
    def leased(self) -> bool:
        return self.locking.leased

    def try_lock(self) -> bool:
        return self.locking.take()

    def lock_holder(self) -> str:
        return self.locking.holder()

    def unlock(self) -> None:
        self.locking.release()

    def renew_lock(self) -> bool:
        return self.locking.renew()

    def holds_lock(self) -> bool:
        return self.locking.holds()

    # The history.
    @abstractmethod
    def history(self) -> list[Applied]:
        """Every history record; none when the history storage does not exist yet. Changes nothing."""

    @abstractmethod
    def prepare(self) -> None:
        """Create the history storage when missing (called under the lock, before writing)."""

    @abstractmethod
    def apply(self, migration: Migration) -> Applied:
        """Run a migration and record it, atomically where the database allows. Raises MigrationFailed."""

    @abstractmethod
    def ask(self, query: str) -> Answer:
        """A precondition's query, run so that it can change nothing (a read-only transaction, a
        command the server flags read-only): whether its answer is true, and what it was. A query
        the server refuses is an answer too (not met, saying why); a lost connection raises."""

    @abstractmethod
    def record(self, applied: Applied) -> None:
        """Write a history record without running anything (baseline)."""

    @abstractmethod
    def set_checksum(self, version: str, checksum: str) -> None: ...

    @abstractmethod
    def forget(self, version: str) -> None:
        """Remove a history record (repair of a failed mark)."""

    @contextmanager
    def lock(self, timeout: float) -> Iterator[float]:
        """Hold the migration lock, polling until `timeout`; yields the seconds it took. Always
        released, even on an exception; a lease is renewed meanwhile."""
        def waiting(elapsed: float) -> None:
            log.info(self.name, f"waiting for the migration lock held by {self.lock_holder()}")

        start = time.monotonic()
        if retry.poll(lambda: True if self.try_lock() else None, timeout, waiting=waiting) is None:
            raise LockTimeout(f"{self.name}: could not get the migration lock within {timeout:g} s; "
                              f"it is held by {self.lock_holder()} (DBINIT_LOCK_TIMEOUT)")
        waited = time.monotonic() - start
        self._lease = Lease(self.name, self.renew_lock, self.lease_s, self.words) if self.leased else None
        try:
            yield waited
        finally:
            if self._lease is not None:
                self._lease.stop()
                self._lease = None
            try:
                self.unlock()
            except Exception as e:  # must not hide why the run is ending; the lease or the session's end frees it
                log.warn(self.name, f"could not release the migration lock ({self.words(e)}); it is freed when its lease "
                         "runs out or its session ends")

    def lease_lost(self, outcome: str = "") -> LockLost:
        """The error of a write the database refused because this runner's lease had run out."""
        return LockLost(self.name, f"{RAN_OUT}; it is now held by {self.holder_or_unknown()}{outcome}")

    @contextmanager
    def under_lease(self) -> Iterator[None]:
        """One write under the lock (a migration, with its preconditions). Never started once the
        lease is known lost (no I/O: the lease thread's word; the backends' writes check the lease
        again inside the database, atomically). A failure after the lease ran out is the lost lock,
        whatever the database said: another runner's work may be why a file failed, and a runner
        taking over ends the transactions the old holder left open (its commit or its history write
        then fails). A typed error other than a failed file (the connection lost) stands."""
        if self._lease is not None and self._lease.lost:
            raise LockLost(self.name, f"{self._lease.lost}; it is now held by {self.holder_or_unknown()}")
        try:
            yield
        except Exception as e:
            if not self.leased or isinstance(e, DbinitError) and not isinstance(e, MigrationFailed):
                raise
            try:
                lost = not self.holds_lock()
            except Exception:  # the database is gone: the write's own error says more
                lost = False
            if lost:
                raise self.lease_lost() from None
            raise

    def holder_or_unknown(self) -> str:
        try:
            return self.lock_holder()
        except Exception:
            return "an unknown runner (the database did not say)"


# Capabilities: the runner asks `isinstance(backend, Prechecks)`, never which database it is.
@runtime_checkable
class Prechecks(Protocol):
    def precheck(self, migrations: list[Migration]) -> None:
        """Checks of pending files by the server that change nothing (Neo4j: EXPLAIN); raises
        InvalidMigrations. Runs under the locks, before the first of them is applied."""


@runtime_checkable
class Reverts(Protocol):
    def revert(self, migration: Migration, down: Migration) -> None:
        """Run a down script and remove the migration's history record, atomically where allowed,
        under the lock timeouts and fenced as `apply` is."""

    def kept_downs(self, versions: list[str]) -> dict[str, str]:
        """The down scripts kept with these versions' history records (version → text), for those
        that have one."""


@runtime_checkable
class Groups(Protocol):
    grouping: bool  # its settings ask for every pending file in one transaction

    def ungroupable(self, migrations: list[Migration]) -> list[Problem]:
        """The files that cannot run in one transaction with the others (a no-transaction file)."""

    def apply_all(self, migrations: list[Migration]) -> list[Applied]:
        """Every file and its history record in one transaction, under the lock timeouts and their
        retries as a whole, fenced as `apply` is: all of them committed, or none."""


@runtime_checkable
class Scripts(Protocol):
    def script(self, migrations: list[Migration]) -> list[str]:
        """What applying `migrations` would send, in order, with dbinit's own history writes; what
        belongs to dbinit's session (the lock, the fence, timeouts) as comments. Changes nothing."""


@runtime_checkable
class BacksUp(Protocol):
    def backup(self) -> None:
        """Before the first pending migration, under the locks: a snapshot of the database, if asked for."""


@runtime_checkable
class Describes(Protocol):
    def describe(self, migration: Migration, elapsed: float) -> Progress:
        """What the server says a long-running migration is doing (asked from another connection,
        from the progress thread); None when it says nothing more than that it runs."""


@runtime_checkable
class Creates(Protocol):
    def database(self) -> str:
        """The name of the database the settings point at."""

    def create(self, timeout: float) -> None:
        """Make the database, which the server said is missing (connect raised MissingDatabase); one
        made meanwhile by another runner is no error."""

    def drop(self, timeout: float) -> bool:
        """Remove the database, dbinit not connected to it; False when there was none."""


@runtime_checkable
class Addressed(Protocol):
    def endpoint(self) -> Endpoint | None:
        """Where one connection attempt goes and what the settings ask of it (TLS or not), when
        that is one host and port: a failed attempt then asks what listens there (dbinit.ports)."""


@runtime_checkable
class Finishes(Protocol):
    finishing: str  # what the progress lines call the wait

    def finish(self, timeout: float) -> None:
        """After applying, even with nothing applied: wait until what was applied is usable (Neo4j's
        indexes ONLINE; a killed earlier run may have left one populating)."""

    def describe_finish(self, elapsed: float) -> Progress:
        """What the server says while `finish` waits."""


@runtime_checkable
class Inspects(Protocol):
    def inspect(self) -> Description:
        """The schema as the server has it now, read in one consistent snapshot, changing nothing:
        what the application made, never dbinit's own objects."""

    def schema_record(self) -> Record | None:
        """The description stored by the last run that changed the schema (or accepted by a person);
        None when there is none. Changes nothing."""

    def keep_schema(self, record: Record) -> None:
        """Store `record` as the one later runs compare with, keeping who and why of the earlier
        ones (their descriptions need not be kept); under the lock, fenced as every write."""
