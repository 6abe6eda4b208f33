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
from ..errors import LockTimeout
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

    @abstractmethod
    def history(self) -> list[Applied]:
        """Every history record; none when the history storage does not exist yet. Changes nothing."""

    @abstractmethod
    def prepare(self) -> None:
        """Create the history storage when missing (called under the lock, before applying)."""

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
        lease = Lease(self.name, self.renew_lock) if self.leased else None
        try:
            yield
        finally:
            if lease is not None:
                lease.stop()
            try:
                self.unlock()
            except Exception as e:  # must not hide why the run is ending; the lease or the session's end frees it
                log.warn(self.name, f"could not release the migration lock ({e}); it is freed when its lease "
                         "runs out or its session ends")


class Lease:
    """Renews a lock lease from a background thread until stopped, so only a dead holder's lock expires."""

    def __init__(self, name: str, renew, lease_s: float = LEASE_S) -> None:
        self.name, self.renew, self.lease_s = name, renew, lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                if not self.renew():
                    log.error(self.name, "the migration lock was lost (its lease expired); another runner may take it")
            except Exception as e:  # a failed renewal is retried on the next tick; the lease covers two misses
                log.warn(self.name, f"could not renew the migration lock lease: {e}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
