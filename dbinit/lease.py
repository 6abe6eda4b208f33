"""Locks that are leases (Neo4j, Redis, PostgreSQL behind a pooler): who holds one, the thread that
renews it, and what a run says when it has lost it."""
from __future__ import annotations

import secrets
import socket
import threading
import time
from typing import Callable

from . import log

LEASE_S = 10.0  # renewed every third of it, so only a dead holder's lock expires


def owner_id() -> str:
    """Who holds a lock: host name (the pod) and a random token (the process), meaningful across containers."""
    return f"{socket.gethostname()}/{secrets.token_hex(6)}"


def holder(owner: str | None, ms_left: float) -> str:
    """A lease's holder as the lock-wait and lost-lock messages name it."""
    if owner is None:
        return "nobody (just released)"
    return f"{owner} (lease ends in {max(0, ms_left) / 1000:.1f} s)"


RAN_OUT = "the lease ran out while this run was stopped or cut off"


class Lease:
    """Renews a lock lease from a background thread until stopped, so only a dead holder's lock
    expires. Once the lease is lost (another owner, or no renewal for a whole lease) `lost` says
    why and stays set: the run must stop before its next write."""

    def __init__(self, name: str, renew: Callable[[], bool], lease_s: float,
                 words: Callable[[Exception], str]) -> None:
        self.name, self.renew, self.lease_s, self.words = name, renew, lease_s, words
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = log.thread(self._run, name=f"{name}-lease")
        self._thread.start()

    def _run(self) -> None:
        renewed = time.monotonic()
        while not self._stop.wait(self.lease_s / 3):
            try:
                if not self.renew():
                    self.lost = "another runner took it after this run's lease ran out"
            except Exception as e:  # retried on the next tick; the lease covers two misses
                if time.monotonic() - renewed < self.lease_s:
                    log.warn(self.name, f"could not renew the migration lock lease: {self.words(e)}")
                    continue
                self.lost = f"its lease could not be renewed for {self.lease_s:g} s ({self.words(e)})"
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
