"""The migration lock: a key set with SET NX PX to this runner's owner id, a lease renewed, released
and written under only by its owner (compare-and-set scripts)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...lease import holder

if TYPE_CHECKING:
    from .backend import RedisBackend

_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"


class KeyLock:
    leased = True

    def __init__(self, backend: RedisBackend) -> None:
        self.backend = backend

    def take(self) -> bool:
        b = self.backend
        return bool(b.client.set(b.lock_key, b.owner, nx=True, px=b.lease_ms))

    def renew(self) -> bool:
        b = self.backend
        return bool(b.client.eval(_RENEW, 1, b.lock_key, b.owner, b.lease_ms))

    def holds(self) -> bool:
        b = self.backend
        return bool(b.client.get(b.lock_key) == b.owner.encode())

    def holder(self) -> str:
        b = self.backend
        owner, ttl = b.client.get(b.lock_key), b.client.pttl(b.lock_key)
        return holder(owner.decode() if owner is not None else None, ttl)

    def release(self) -> None:
        b = self.backend
        b.client.eval(_RELEASE, 1, b.lock_key, b.owner)
