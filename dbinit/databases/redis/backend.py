"""Redis: a file's commands and its history entry in one MULTI/EXEC, the touched keys saved first and
restored if any command fails at run time, and a SET NX PX lock with a renewed lease."""
from __future__ import annotations

import json
import time
from urllib.parse import urlsplit
from dataclasses import asdict, replace
from datetime import datetime, timezone

from typing import Any, Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ... import audit, retry, telemetry
from ...contract import Backend
from ...errors import (AuthRefused, ConfigError, ConnectionLost, DbinitError, InvalidMigrations, LockLost, MigrationFailed,
                       NotReady, Problem)
from ...history import AUDIT, Applied, Audit
from ...preconditions import Answer
from ...migration import Migration
from ...ports import Endpoint
from ...description import Description, Record
from .backup import bgsave
from .commands import Command, parse, split_args
from .lock import KeyLock
from .server_errors import OWN, classify_connect_error
from .settings import RedisSettings

# A compare-and-set script: only the lock's owner writes history under it.
_FENCED = ("if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end "
           "return redis.call(ARGV[2], KEYS[2], unpack(ARGV, 3))")
_NO_KEYS = ("no key arguments", "has no key")


class RedisBackend(Backend):
    name = "redis"

    def __init__(self, settings: RedisSettings, lease_s: float):
        super().__init__(lease_s)
        self.settings = settings
        # redis.Redis, or a RedisCluster: one interface, but redis-py types the two apart and in part not at all.
        self.client: Any = None
        self.lock_key = f"{settings.prefix}lock"
        self.locking = KeyLock(self)
        self.history_key = f"{settings.prefix}migrations"
        self.schema_key = f"{settings.prefix}schema"  # the schema as recorded (drift), and who accepted it

    def connect(self, timeout: float) -> None:
        client = None
        try:
            client = self._client(timeout)  # a cluster's client asks the nodes for their slots here
            client.ping()
            if self.settings.topology == "single":
                info = client.execute_command("INFO")
                mode = info.get("redis_mode", "standalone")
                if mode != "standalone":
                    raise ConfigError(f"redis: {self.settings.display()} is a Redis {mode.capitalize()} node; use "
                                      + ("redis+sentinel://HOST:26379/MASTER-NAME" if mode == "sentinel" else
                                         "redis+cluster://HOST:PORT[,HOST:PORT…]") + " in REDIS_URL")
                if info.get("role") == "slave":  # as a PostgreSQL standby: wait for a master (a failover)
                    raise NotReady(f"redis: only a replica answered (read-only) at {self.settings.display()}; "
                                   "waiting for a master (REDIS_URL names a replica? redis+sentinel:// follows the master)")
            self._lengthen_timeout(client, max(timeout, 60))
        except Exception as e:
            if client is not None:
                client.close()
            if isinstance(e, (ConfigError, NotReady)):
                raise
            raise classify_connect_error(e, self.settings) from None
        self.client = client

    def endpoint(self) -> Endpoint | None:
        scheme = self.settings.url.split("://", 1)[0]
        if scheme not in ("redis", "rediss"):
            return None  # a socket file; Sentinel and Cluster ask several nodes
        host, _, port = self.settings.address().rpartition(":")
        return Endpoint(host, int(port), "REDIS_URL", scheme == "rediss", use_tls="use rediss:// in REDIS_URL (with "
                        "ssl_ca_certs=… for a private CA)", use_plain="use redis:// in REDIS_URL")

    @staticmethod
    def _lengthen_timeout(client: Any, seconds: float) -> None:
        client.connection_pool.connection_kwargs["socket_timeout"] = seconds
        client.connection_pool.disconnect()

    def _client(self, timeout: float) -> Any:
        """One try per attempt (redis-py retries on its own by default), bounded by the attempt's
        timeout, the TLS handshake included; once ready, a file's EXEC may take up to a minute."""
        common = {"socket_connect_timeout": timeout, "socket_timeout": timeout, "retry": Retry(NoBackoff(), 0),
                  "client_name": "dbinit"}
        password = self.settings.password or urlsplit(self.settings.url).password
        if self.settings.topology == "sentinel":
            from redis.sentinel import Sentinel

            sentinels: Any = Sentinel  # redis-py leaves Sentinel untyped
            return sentinels(list(self.settings.nodes), socket_timeout=timeout, socket_connect_timeout=timeout
                             ).master_for(self.settings.master, password=password, db=self.settings.db, **common)
        return redis.Redis.from_url(self.settings.url, password=self.settings.password, **common)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def translate(self, error: Exception) -> DbinitError | None:
        if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
            return ConnectionLost(self.name, str(error) or type(error).__name__)
        if isinstance(error, redis.exceptions.NoPermissionError):
            return AuthRefused(f"redis: the user may not run dbinit's own command: {error}; its ACL must allow {OWN}")
        if isinstance(error, redis.RedisError):
            return DbinitError(f"redis: the server refused dbinit's own command: {error}")
        return None

    def _fenced_write(self, command: str, key: str, *args: str) -> None:
        """One write that the server makes only while this runner holds the lock."""
        if self.client.eval(_FENCED, 2, self.lock_key, key, self.owner, command, *args) == -1:
            raise self.lease_lost()

    def _fenced_transaction(self, queue: Callable[[Any], None]) -> list[Any]:
        """`queue(pipe)`'s commands in one MULTI/EXEC that runs only while this runner holds the lock:
        WATCH the lock key, check its owner, and EXEC aborts if the key changed in between (taken,
        expired, or renewed by our own lease thread: then check again)."""
        def once() -> list[Any]:
            with self._pipeline(transaction=True) as pipe:
                pipe.watch(self.lock_key)
                if pipe.get(self.lock_key) != self.owner.encode():
                    raise self.lease_lost()
                pipe.multi()
                queue(pipe)
                replies: list[Any] = pipe.execute(raise_on_error=False)
                return replies

        try:
            return retry.again(once, tries=10, when=lambda e: isinstance(e, redis.WatchError))
        except redis.WatchError:
            raise self.lease_lost() from None

    def inspect(self) -> Description:
        from .catalog import describe

        return describe(self.client)

    def schema_record(self) -> Record | None:
        text = self.client.hget(self.schema_key, "record")
        return None if text is None else Record.decode(self.name, text.decode())

    def keep_schema(self, record: Record) -> None:
        # The newest record whole; of every record, who and why.
        earlier = self.client.hget(self.schema_key, "log")
        log = [*json.loads(earlier or "[]"), {"recorded_at": record.recorded_at.isoformat(), "recorded_by":
               record.recorded_by, "reason": record.reason, "digest": record.description.digest}]
        self._fenced_write("HSET", self.schema_key, "record", record.encode(), "log", json.dumps(log))

    def history(self) -> list[Applied]:
        return [_decode(v.decode(), raw) for v, raw in self.client.hgetall(self.history_key).items()]

    def prepare(self) -> None:
        """A hash needs no creating."""

    def backup(self) -> None:
        """With DBINIT_REDIS_BGSAVE, a snapshot on disk from before the first command."""
        if self.settings.bgsave:
            with telemetry.span("backup redis (BGSAVE)", self.name):
                bgsave(self.client, self.name)

    def _getkeys(self, commands: list[Command]) -> list[Any]:
        """The server's COMMAND GETKEYS reply (or error) for each command, in one round trip."""
        pipe = self._pipeline(transaction=False)
        for c in commands:
            pipe.execute_command("COMMAND", "GETKEYS", *c.args)
        replies: list[Any] = pipe.execute(raise_on_error=False)
        return replies

    def _keys(self, migration: Migration, commands: list[Command]) -> list[bytes]:
        """The keys the file touches, from the server's own COMMAND GETKEYS."""
        keys: dict[bytes, None] = {}
        for c, reply in zip(commands, self._getkeys(commands)):
            if isinstance(reply, Exception):
                if any(s in str(reply) for s in _NO_KEYS):
                    continue
                raise MigrationFailed(self.name, migration.path, f"{c.name}: {reply}; nothing of this file ran", c.line)
            keys.update(dict.fromkeys(reply))
        return list(keys)

    def precheck(self, migrations: list[Migration]) -> None:
        """Every pending command known to this server with a valid number of arguments, before the
        first file runs (an unknown command in the tenth file would otherwise stop the run there)."""
        located = [(m, c) for m in migrations for c in parse(m)]
        problems = [Problem(m.path, f"{c.name}: {reply} (found before anything ran)", c.line)
                    for (m, c), reply in zip(located, self._getkeys([c for _, c in located]))
                    if isinstance(reply, Exception) and not any(s in str(reply) for s in _NO_KEYS)]
        if problems:
            raise InvalidMigrations(problems)

    def apply(self, migration: Migration) -> Applied:
        start = time.perf_counter()
        commands = parse(migration)
        try:
            saved = self._save(self._keys(migration, commands))
            libraries = self._libraries(commands)
            previous = self.client.hget(self.history_key, migration.version)  # a repeatable file's last run
            applied = entry(migration, 0, self.owner)

            def queue(pipe: Any) -> None:
                for c in commands:
                    pipe.execute_command(*c.args)
                pipe.hset(self.history_key, migration.version, _encode(applied))

            try:
                replies = self._fenced_transaction(queue)
            except redis.ResponseError as e:  # EXECABORT: a command was refused when queued; nothing ran
                raise MigrationFailed(self.name, migration.path, f"{e}; nothing of this file ran") from None
            failed = [(c, r) for c, r in zip(commands, replies) if isinstance(r, Exception)]
            if failed:
                c, reply = failed[0]
                self._restore(saved, migration, f"{c.name} failed at line {c.line}: {reply}", libraries, previous)
                raise MigrationFailed(self.name, migration.path, f"{c.name} failed: {reply}; the keys and libraries "
                                      f"this file touched were restored and it was not recorded", c.line, " ".join(c.args)[:120],
                                      str(reply).split()[0])
            applied = replace(applied, execution_ms=round((time.perf_counter() - start) * 1000))
            self._fenced_write("HSET", self.history_key, migration.version, _encode(applied))  # the real time
        except (redis.ConnectionError, redis.TimeoutError) as e:
            # MULTI/EXEC ran whole or not at all, with its history entry: the history tells which.
            raise ConnectionLost(self.name, str(e), migration.path) from None
        return applied

    def script(self, migrations: list[Migration]) -> list[str]:
        """Each file's commands as written, in the MULTI/EXEC dbinit sends them in with the history entry."""
        out = [f"# Lock: SET {self.lock_key} <this runner> NX PX {self.lease_ms}, polled; each MULTI/EXEC below runs "
               f"under WATCH {self.lock_key}, and only while this runner holds it"]
        for m in migrations:
            lines = m.text.split("\n")
            applied = entry(m, 0, self.owner)
            out += [f"\n# {m.label} {m.description} ({m.script}, {m.phase}): the keys it touches saved first (DUMP), "
                    "put back if a command fails", "MULTI", *(lines[c.line - 1].strip() for c in parse(m)),
                    f"HSET {self.history_key} {m.version} {json.dumps(_encode(applied))}", "EXEC"]
        return out

    def _serving(self, args: list[str]) -> Any:
        """Where a command of a precondition goes: this server (a cluster's: its keys' master)."""
        return None

    def _pipeline(self, transaction: bool, target: Any = None) -> Any:
        """A pipeline that hands replies back raw: redis-py's reply parsers know nothing of the
        commands a user's file may hold (and choke on some, such as COMMAND GETKEYS)."""
        pipe = (target or self.client).pipeline(transaction=transaction)
        pipe.response_callbacks = {}
        return pipe

    def _save(self, keys: list[bytes], target: Any = None) -> list[tuple[bytes, bytes | None, int]]:
        """(key, DUMP or None when absent, TTL in ms or 0) for each key, in one round trip."""
        pipe = (target or self.client).pipeline(transaction=True)
        for k in keys:
            pipe.dump(k)
            pipe.pttl(k)
        replies = pipe.execute()
        return [(k, replies[2 * i], max(0, replies[2 * i + 1])) for i, k in enumerate(keys)]

    def _libraries(self, commands: list[Command]) -> list[tuple[str, bytes | None]]:
        """(name, code or None when absent) of each library the file loads, in one round trip."""
        names = [c.library for c in commands if c.library]
        pipe = self._pipeline(transaction=False)
        for name in names:
            pipe.execute_command("FUNCTION", "LIST", "LIBRARYNAME", name, "WITHCODE")
        found = []
        for name, libraries in zip(names, pipe.execute()):
            # a map in RESP3, a flat list of names and values in RESP2
            fields = [library if isinstance(library, dict) else dict(zip(library[::2], library[1::2]))
                      for library in libraries]
            found.append((name, next((f[b"library_code"] for f in fields if f[b"library_name"] == name.encode()),
                                     None)))
        return found

    def _restore(self, saved: list[tuple[bytes, bytes | None, int]], migration: Migration, why: str,
                 libraries: list[tuple[str, bytes | None]], previous: bytes | None) -> None:
        """The keys and libraries the file touched, and its history entry, as they were before it."""
        def queue(pipe: Any) -> None:
            for key, dump, ttl in saved:
                if dump is None:
                    pipe.delete(key)
                else:
                    pipe.restore(key, ttl, dump, replace=True)
            for name, code in libraries:
                if code is None:
                    pipe.execute_command("FUNCTION", "DELETE", name)  # an error when it was not loaded: ignored
                else:
                    pipe.execute_command("FUNCTION", "LOAD", "REPLACE", code)
            if previous is None:
                pipe.hdel(self.history_key, migration.version)
            else:
                pipe.hset(self.history_key, migration.version, previous)

        try:
            self._fenced_transaction(queue)
        except LockLost as e:  # the one case where a failed file stays: say so, loudly and exactly
            raise LockLost(self.name, f"{migration.path}: {why}; its keys could NOT be restored and it stays "
                           f"recorded as applied in {self.history_key}, because {e}") from None

    def ask(self, query: str) -> Answer:
        """A command the server flags read-only (COMMAND INFO), its reply true when a non-zero
        integer (EXISTS, SISMEMBER, HEXISTS: Redis has no booleans)."""
        args = split_args(query)
        if not args:
            return Answer(False, "not one command in redis-cli syntax")
        (info,) = self._pipeline(False).execute_command("COMMAND", "INFO", args[0]).execute()
        flags = info[0][2] if isinstance(info, list) and info and info[0] else None
        if flags is None or b"readonly" not in flags:
            return Answer(False, f"{args[0]} is {'not a command' if flags is None else 'not a read-only command'} "
                          "(a precondition changes nothing)")
        (reply,) = self._pipeline(False, self._serving(args)).execute_command(*args).execute(raise_on_error=False)
        if isinstance(reply, redis.ResponseError):
            return Answer(False, f"an error, {reply}")
        if isinstance(reply, int) and not isinstance(reply, bool):
            return Answer(reply != 0, str(reply))
        return Answer(False, f"{reply!r}, not an integer: the command returns non-zero when the file may run")

    def record(self, applied: Applied) -> None:
        self._fenced_write("HSET", self.history_key, applied.version,
                           _encode(replace(applied, applied_by=self.owner, audit=audit.current())))

    def set_checksum(self, version: str, checksum: str) -> None:
        applied = _decode(version, self.client.hget(self.history_key, version))
        self._fenced_write("HSET", self.history_key, version, _encode(replace(applied, checksum=checksum)))

    def forget(self, version: str) -> None:
        self._fenced_write("HDEL", self.history_key, version)


def entry(migration: Migration, ms: int, by: str) -> Applied:
    """The history entry of a file this run applies now."""
    return Applied(migration.version, migration.description, migration.script, migration.checksum,
                   datetime.now(timezone.utc), ms, True, by, audit=audit.current())


def _encode(applied: Applied) -> str:
    """A history entry as the hash stores it: version is the field, the rest JSON."""
    entry = {**asdict(applied), **asdict(applied.audit)}
    del entry["version"], entry["audit"]
    entry["applied_at"] = applied.applied_at.isoformat()
    return json.dumps(entry)


def _decode(version: str, raw: bytes) -> Applied:
    entry = json.loads(raw)
    entry["applied_at"] = datetime.fromisoformat(entry["applied_at"])
    run = Audit(*(entry.pop(f, None) for f in AUDIT))  # none in an entry of dbinit 0.2
    return Applied(version=version, **entry, audit=run)
