"""The interface every database backend implements, and the lock loop they share."""
from __future__ import annotations

import random
import secrets
import socket
import threading
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Iterator

from .. import log
from ..errors import DbinitError, LockLost, LockTimeout
from ..files import Migration
from ..plan import Applied

PROGRESS_EVERY = 5.0  # seconds between "still waiting" lines
LEASE_S = 10.0  # a lock lease (Neo4j, Redis): renewed every third of it, so only a dead holder's lock expires


def owner_id() -> str:
    """Who holds a lock: host name (the pod) and a random token (the process), meaningful across containers."""
    return f"{socket.gethostname()}/{secrets.token_hex(6)}"


class Backend(ABC):
    """One database. Knows nothing about files on disk or ordering; the runner does."""

    name: str
    lease_s: float = LEASE_S
    _lease: "Lease | None" = None
    ready_after_s: float | None = None  # how long the wait for it took (readiness sets it)
    lock_wait_s: float | None = None  # how long taking the migration lock took

    @abstractmethod
    def connect(self, timeout: float) -> None:
        """One attempt to connect and run a real query. Raises NotReady (retry), AuthRefused or ConfigError."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def try_lock(self) -> bool:
        """Take the migration lock if it is free."""

    @abstractmethod
    def lock_holder(self) -> str: ...

    @abstractmethod
    def unlock(self) -> None: ...

    leased = False  # a lock that is a lease (Neo4j, Redis) is renewed by renew_lock while held

    def renew_lock(self) -> bool:
        """Extend the lease; False when the lock was lost."""
        raise NotImplementedError

    def fence(self) -> None:
        """Raise LockLost when the lease is known to be lost. Cheap, no I/O: called before every
        migration. The backends' writes check the lease again inside the database, atomically."""
        if self._lease is not None and self._lease.lost:
            raise LockLost(self.name, f"{self._lease.lost}; it is now held by {self._holder_or_unknown()}")

    def lost_lock(self) -> LockLost | None:
        """After a failed write: LockLost when this runner no longer holds the lock (another runner's
        work, not the file, may be why it failed), else None."""
        if not self.leased:
            return None
        try:
            if self.holds_lock():
                return None
        except Exception:  # the database is gone: the caller's own error says more
            return None
        return LockLost(self.name, f"the lease ran out while this run was stopped or cut off; it is now held by "
                        f"{self._holder_or_unknown()}")

    def holds_lock(self) -> bool:
        """This runner's lease is in place and unexpired (leased backends)."""
        return True

    def _holder_or_unknown(self) -> str:
        try:
            return self.lock_holder()
        except Exception:
            return "an unknown runner (the database did not say)"

    def translate(self, error: Exception) -> DbinitError | None:
        """This backend's client-library exception as a typed error, or None if it is not one."""
        return None

    @abstractmethod
    def history(self) -> list[Applied]:
        """Every history record; none when the history storage does not exist yet. Changes nothing."""

    @abstractmethod
    def prepare(self) -> None:
        """Create the history storage when missing (called under the lock, before applying)."""

    def precheck(self, migrations: list[Migration]) -> None:
        """Checks of pending files by the server that change nothing (Neo4j: EXPLAIN); raises
        InvalidMigrations. Runs before the first of them is applied."""

    @abstractmethod
    def apply(self, migration: Migration) -> Applied:
        """Run a migration and record it, atomically where the database allows. Raises MigrationFailed."""

    @abstractmethod
    def record(self, applied: Applied) -> None:
        """Write a history record without running anything (baseline)."""

    @abstractmethod
    def set_checksum(self, version: str, checksum: str) -> None: ...

    @abstractmethod
    def forget(self, version: str) -> None:
        """Remove a history record (repair of a failed mark)."""

    def finish(self, timeout: float) -> None:
        """After applying: make sure what was applied is usable (Neo4j waits for indexes)."""

    def describe(self, migration: Migration, elapsed: float) -> tuple[str, dict[str, object]] | None:
        """What the server says a long-running migration is doing (asked from another connection,
        from the progress thread); None when it says nothing more than that it runs."""
        return None

    def describe_finish(self, elapsed: float) -> tuple[str, dict[str, object]] | None:
        """The same while `finish` waits."""
        return None

    @contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        """Hold the migration lock, polling until `timeout`; always released, even on an exception."""
        start = time.monotonic()
        next_report = start + PROGRESS_EVERY
        delay = 0.05
        while not self.try_lock():
            now = time.monotonic()
            if now - start >= timeout:
                raise LockTimeout(f"{self.name}: could not get the migration lock within {timeout:g} s; "
                                  f"it is held by {self.lock_holder()} (DBINIT_LOCK_TIMEOUT)")
            if now >= next_report:
                log.info(self.name, f"waiting for the migration lock held by {self.lock_holder()}")
                next_report = now + PROGRESS_EVERY
            time.sleep(min(delay, max(0.0, timeout - (now - start))) * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 1.0)
        self.lock_wait_s = time.monotonic() - start
        self._lease = Lease(self.name, self.renew_lock, self.lease_s) if self.leased else None
        try:
            yield
        finally:
            if self._lease is not None:
                self._lease.stop()
                self._lease = None
            try:
                self.unlock()
            except Exception as e:  # must not hide why the run is ending; the lease or the session's end frees it
                log.warn(self.name, f"could not release the migration lock ({e}); it is freed when its lease "
                         "runs out or its session ends")


class Lease:
    """Renews a lock lease from a background thread until stopped, so only a dead holder's lock
    expires. Once the lease is lost (another owner, or no renewal for a whole lease) `lost` says
    why and stays set: the run must stop before its next write."""

    def __init__(self, name: str, renew, lease_s: float) -> None:
        self.name, self.renew, self.lease_s = name, renew, lease_s
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        renewed = time.monotonic()
        while not self._stop.wait(self.lease_s / 3):
            try:
                if not self.renew():
                    self.lost = "another runner took it after this run's lease ran out"
            except Exception as e:  # retried on the next tick; the lease covers two misses
                if time.monotonic() - renewed < self.lease_s:
                    log.warn(self.name, f"could not renew the migration lock lease: {e}")
                    continue
                self.lost = f"its lease could not be renewed for {self.lease_s:g} s ({e})"
            else:
                # Renewed even after a pause past the lease: the lock still names this runner, so
                # nobody else took it meanwhile.
                renewed = time.monotonic()
            if self.lost is not None:
                log.error(self.name, f"the migration lock was lost: {self.lost}; stopping before the next write")
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
