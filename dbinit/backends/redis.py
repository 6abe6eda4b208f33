"""Redis: a file's commands and its history entry in one MULTI/EXEC, the touched keys saved first and
restored if any command fails at run time, and a SET NX PX lock with a renewed lease."""
from __future__ import annotations

import json
import ssl
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import AuthRefused, ConfigError, MigrationFailed, NotReady
from ..files import Migration
from ..plan import Applied
from ..redis_commands import Command, parse
from ..settings import RedisSettings
from .base import LEASE_S, Backend, owner_id

# Compare-and-set scripts: only the owner renews or releases its lock.
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"
_NO_KEYS = ("no key arguments", "has no key")


def classify_connect_error(e: Exception, where: str) -> Exception:
    text = str(e)
    if isinstance(e, (redis.AuthenticationError, redis.exceptions.NoPermissionError,
                      redis.exceptions.AuthenticationWrongNumberOfArgsError)) \
            or text.startswith(("NOAUTH", "WRONGPASS", "NOPERM")) or "AUTH" in text and "no password is set" in text:
        return AuthRefused(f"redis: authentication refused at {where}: {text}")
    if isinstance(e, ssl.SSLError) or isinstance(e.__cause__ or e.__context__, ssl.SSLError) or "SSL" in text:
        return ConfigError(f"redis: TLS settings do not fit the server at {where}: {text}")
    if isinstance(e, (redis.BusyLoadingError, redis.ConnectionError, redis.TimeoutError, OSError)):
        return NotReady(f"redis: {text}")
    if isinstance(e, redis.ResponseError) and text.startswith("LOADING"):
        return NotReady(f"redis: {text}")
    return ConfigError(f"redis: {text} ({where})")


class RedisBackend(Backend):
    name = "redis"
    leased = True

    def __init__(self, settings: RedisSettings):
        self.settings = settings
        self.owner = owner_id()
        self.client: redis.Redis | None = None
        self.lock_key = f"{settings.prefix}lock"
        self.history_key = f"{settings.prefix}migrations"

    def connect(self, timeout: float) -> None:
        # One try per attempt (redis-py retries on its own by default), bounded by the attempt's timeout.
        client = redis.Redis.from_url(self.settings.url, password=self.settings.password, socket_connect_timeout=timeout,
                                      socket_timeout=max(timeout, 60), retry=Retry(NoBackoff(), 0),
                                      client_name="dbinit")
        try:
            client.ping()
        except Exception as e:
            client.close()
            raise classify_connect_error(e, self.settings.display()) from None
        self.client = client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def try_lock(self) -> bool:
        return bool(self.client.set(self.lock_key, self.owner, nx=True, px=int(LEASE_S * 1000)))

    def renew_lock(self) -> bool:
        return bool(self.client.eval(_RENEW, 1, self.lock_key, self.owner, int(LEASE_S * 1000)))

    def lock_holder(self) -> str:
        holder, ttl = self.client.get(self.lock_key), self.client.pttl(self.lock_key)
        if holder is None:
            return "nobody (just released)"
        return f"{holder.decode()} (lease ends in {max(0, ttl) / 1000:.1f} s)"

    def unlock(self) -> None:
        self.client.eval(_RELEASE, 1, self.lock_key, self.owner)

    def history(self) -> list[Applied]:
        return [_decode(v.decode(), raw) for v, raw in self.client.hgetall(self.history_key).items()]

    def prepare(self) -> None:
        """A hash needs no creating."""

    def _keys(self, migration: Migration, commands: list[Command]) -> list[bytes]:
        """The keys the file touches, from the server's own COMMAND GETKEYS, in one round trip."""
        pipe = self._pipeline(transaction=False)
        for c in commands:
            pipe.execute_command("COMMAND", "GETKEYS", *c.args)
        keys: dict[bytes, None] = {}
        for c, reply in zip(commands, pipe.execute(raise_on_error=False)):
            if isinstance(reply, Exception):
                if any(s in str(reply) for s in _NO_KEYS):
                    continue
                raise MigrationFailed(self.name, migration.path, f"{c.name}: {reply}; nothing of this file ran", c.line)
            keys.update(dict.fromkeys(reply))
        return list(keys)

    def apply(self, migration: Migration) -> Applied:
        start = time.perf_counter()
        commands = parse(migration)
        saved = self._save(self._keys(migration, commands))
        applied = Applied(migration.version, migration.description, migration.script, migration.checksum,
                          datetime.now(timezone.utc), 0, True, self.owner)
        pipe = self._pipeline(transaction=True)
        for c in commands:
            pipe.execute_command(*c.args)
        pipe.hset(self.history_key, migration.version, _encode(applied))
        try:
            replies = pipe.execute(raise_on_error=False)
        except redis.ResponseError as e:  # EXECABORT: a command was refused when queued; nothing ran
            raise MigrationFailed(self.name, migration.path, f"{e}; nothing of this file ran") from None
        failed = [(c, r) for c, r in zip(commands, replies) if isinstance(r, Exception)]
        if failed:
            self._restore(saved, migration.version)
            c, reply = failed[0]
            raise MigrationFailed(self.name, migration.path, f"{c.name} failed: {reply}; the keys this file "
                                  f"touched were restored and it was not recorded", c.line)
        applied = replace(applied, execution_ms=round((time.perf_counter() - start) * 1000))
        self.client.hset(self.history_key, migration.version, _encode(applied))  # with the real execution time
        return applied

    def _pipeline(self, transaction: bool):
        """A pipeline that hands replies back raw: redis-py's reply parsers know nothing of the
        commands a user's file may hold (and choke on some, such as COMMAND GETKEYS)."""
        pipe = self.client.pipeline(transaction=transaction)
        pipe.response_callbacks = {}
        return pipe

    def _save(self, keys: list[bytes]) -> list[tuple[bytes, bytes | None, int]]:
        """(key, DUMP or None when absent, TTL in ms or 0) for each key, in one round trip."""
        pipe = self.client.pipeline(transaction=True)
        for k in keys:
            pipe.dump(k)
            pipe.pttl(k)
        replies = pipe.execute()
        return [(k, replies[2 * i], max(0, replies[2 * i + 1])) for i, k in enumerate(keys)]

    def _restore(self, saved: list[tuple[bytes, bytes | None, int]], version: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        for key, dump, ttl in saved:
            if dump is None:
                pipe.delete(key)
            else:
                pipe.restore(key, ttl, dump, replace=True)
        pipe.hdel(self.history_key, version)
        pipe.execute()

    def record(self, applied: Applied) -> None:
        self.client.hset(self.history_key, applied.version, _encode(replace(applied, applied_by=self.owner)))

    def set_checksum(self, version: str, checksum: str) -> None:
        applied = _decode(version, self.client.hget(self.history_key, version))
        self.client.hset(self.history_key, version, _encode(replace(applied, checksum=checksum)))

    def forget(self, version: str) -> None:
        self.client.hdel(self.history_key, version)


def _encode(applied: Applied) -> str:
    """A history entry as the hash stores it: version is the field, the rest JSON."""
    entry = asdict(applied)
    del entry["version"]
    entry["applied_at"] = applied.applied_at.isoformat()
    return json.dumps(entry)


def _decode(version: str, raw: bytes) -> Applied:
    entry = json.loads(raw)
    entry["applied_at"] = datetime.fromisoformat(entry["applied_at"])
    return Applied(version=version, **entry)
