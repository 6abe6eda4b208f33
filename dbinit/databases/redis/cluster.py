"""Redis Cluster: the lock and the history in one hash slot ({dbinit}), each file's MULTI/EXEC on
the node of its keys' slot, refused before anything runs when its keys span slots.

What is atomic where: a file's commands run in one MULTI/EXEC on their slot's node, with a marker
key in the same slot (`{tag}dbinit:applied:VERSION`) that WATCH guards, so a file is applied at
most once even by a runner that lost the lock while paused. Its history entry lives on the
{dbinit} node and is written after, fenced by the lock; a runner killed between the two leaves
the marker, and the next run records the file from it instead of running it again.
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.retry import Retry

from ... import log, retry
from ...errors import ConnectionLost, InvalidMigrations, MigrationFailed, NotReady, Problem
from ...history import Applied
from ...description import Description
from ...migration import Migration
from .backend import RedisBackend, _encode, entry
from .commands import parse

# A slot in motion (redis-py's own types, or the words inside an EXECABORT): follow it, try again.
_MOVING = (redis.exceptions.MovedError, redis.exceptions.AskError, redis.exceptions.TryAgainError,
           redis.exceptions.ClusterDownError)
_RESHARDING = ("MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN")


def hash_tag(key: bytes) -> bytes:
    """What Redis hashes: the text between the first { and the next }, when not empty."""
    start = key.find(b"{")
    end = key.find(b"}", start + 1) if start >= 0 else -1
    return key[start + 1:end] if start >= 0 and end > start + 1 else key


SLOTS = 16384


class RedisClusterBackend(RedisBackend):
    def _connection(self, timeout: float) -> dict[str, Any]:
        """What every connection to a node is given: password, TLS and its files, timeouts, no retries."""
        tls = {k: v[0] for k, v in parse_qs(urlsplit(self.settings.url).query).items()
               if k in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")}
        return {"password": self.settings.password or urlsplit(self.settings.url.replace("+cluster", "")).password,
                "ssl": self.settings.url.startswith("rediss"), "socket_connect_timeout": timeout,
                "socket_timeout": timeout, "retry": Retry(NoBackoff(), 0), "client_name": "dbinit", **tls}

    def _client(self, timeout: float) -> Any:
        node: Any = ClusterNode  # redis-py leaves it untyped
        return RedisCluster(startup_nodes=[node(h, p) for h, p in self.settings.nodes], **self._connection(timeout))

    def _slots_served(self, timeout: float) -> int | None:
        """How many hash slots the cluster serves, as the first seed node that answers says (CLUSTER
        INFO's cluster_slots_assigned); None when none answers."""
        for host, port in self.settings.nodes:
            try:
                with redis.Redis(host=host, port=port, **self._connection(min(timeout, 2))) as node:
                    return int(node.cluster("info")["cluster_slots_assigned"])
            except (redis.RedisError, OSError, KeyError, ValueError):
                continue
        return None

    @staticmethod
    def _lengthen_timeout(client: Any, seconds: float) -> None:
        client.nodes_manager.connection_kwargs["socket_timeout"] = seconds
        for node in client.get_nodes():
            if node.redis_connection is not None:
                RedisBackend._lengthen_timeout(node.redis_connection, seconds)

    def connect(self, timeout: float) -> None:
        try:
            super().connect(timeout)
        except NotReady:
            # Nodes that answer but serve no slot yet, or not all: a cluster still forming (before
            # `redis-cli --cluster create`, or while an operator joins the nodes).
            served = self._slots_served(timeout)
            if served is None or served >= SLOTS:
                raise
            raise NotReady(f"redis: the cluster at {self.settings.display()} is forming: {served} of {SLOTS} hash "
                           "slots served") from None
        info = self._node().execute_command("CLUSTER", "INFO")
        state = dict(line.split(":", 1) for line in info.decode().splitlines() if ":" in line).get("cluster_state")
        if state != "ok":
            self.close()
            raise NotReady(f"redis: the cluster at {self.settings.display()} is not serving every hash slot "
                           f"(cluster_state:{state}); a master may be down")

    def _node(self, key: bytes | str | None = None) -> Any:
        """A plain client for the master of `key`'s slot (the {dbinit} slot when None)."""
        node = self.client.get_node_from_key(key if key is not None else self.lock_key)
        return self.client.get_redis_connection(node)

    def _pipeline(self, transaction: bool, target: Any = None) -> Any:
        return super()._pipeline(transaction, target or self._node())

    def _serving(self, args: list[str]) -> Any:
        (keys,) = self._pipeline(False).execute_command("COMMAND", "GETKEYS", *args).execute(raise_on_error=False)
        return self._node(keys[0]) if isinstance(keys, list) and keys else None

    def inspect(self) -> Description:
        from .catalog import describe

        return describe(self._node())  # a file without keys (FUNCTION LOAD) runs on the {dbinit} slot's master

    def _marker(self, migration: Migration, keys: list[bytes]) -> bytes:
        """A key in the file's slot that records, within its MULTI/EXEC, that the file ran."""
        tag = hash_tag(keys[0]) if keys else hash_tag(self.lock_key.encode())
        return b"{" + tag + b"}" + f"{self.settings.prefix.strip('{}:')}:applied:{migration.version}".encode()

    def precheck(self, migrations: list[Migration]) -> None:
        super().precheck(migrations)
        problems = []
        for m in migrations:
            keys = self._keys(m, parse(m))
            slots = {k: key_slot(k) for k in keys}
            if len(set(slots.values())) > 1:
                where = ", ".join(f"{k.decode(errors='replace')} in slot {s}" for k, s in slots.items())
                problems.append(Problem(m.path, f"its keys live in different hash slots ({where}), and a Redis "
                                        "Cluster runs a MULTI/EXEC only within one slot; give them one hash tag, "
                                        "e.g. {user:42}:profile and {user:42}:sessions"))
            elif keys and key_slot(self._marker(m, keys)) != slots[keys[0]]:
                problems.append(Problem(m.path, f"the key {keys[0].decode(errors='replace')} has braces that are "
                                        "not a hash tag; give its keys a hash tag such as {app}:name"))
        if problems:
            raise InvalidMigrations(problems)

    def apply(self, migration: Migration) -> Applied:
        def moving(e: Exception) -> bool:
            return isinstance(e, _MOVING) or isinstance(e, redis.ResponseError) and any(
                word in str(e) for word in _RESHARDING)

        def follow(e: Exception) -> None:
            log.info(self.name, f"{migration.label}: its hash slot is moving ({type(e).__name__}: {e}); following it")
            self.client.nodes_manager.initialize()

        try:
            return retry.again(lambda: self._apply_once(migration), tries=20, when=moving, before=follow,
                               pause=lambda n: min(0.05 * 2 ** (n - 1), 1.0))
        except redis.ResponseError as e:
            if moving(e):
                raise MigrationFailed(self.name, migration.path, "its hash slot kept moving; nothing of this file ran") from None
            raise MigrationFailed(self.name, migration.path, f"{e}; nothing of this file ran") from None
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise ConnectionLost(self.name, str(e), migration.path) from None

    def _apply_once(self, migration: Migration) -> Applied:
        start = time.perf_counter()
        commands = parse(migration)
        keys = self._keys(migration, commands)
        target, marker = self._node(keys[0] if keys else None), self._marker(migration, keys)
        saved = self._save(keys, target)
        with self._pipeline(True, target) as pipe:
            pipe.watch(marker)
            if (by := pipe.get(marker)) is not None:
                return self._recover(migration, by.decode())
            if not self.holds_lock():
                raise self.lease_lost()
            pipe.multi()
            for c in commands:
                pipe.execute_command(*c.args)
            pipe.set(marker, self.owner)
            try:
                replies = pipe.execute(raise_on_error=False)
            except redis.WatchError:  # another runner applied this very file meanwhile
                raise self.lease_lost() from None
        failed = [(c, r) for c, r in zip(commands, replies) if isinstance(r, Exception)]
        if failed:
            c, reply = failed[0]
            with self._pipeline(True, target) as undo:
                for key, dump, ttl in saved:
                    undo.delete(key) if dump is None else undo.restore(key, ttl, dump, replace=True)
                undo.delete(marker)
                undo.execute()
            raise MigrationFailed(self.name, migration.path, f"{c.name} failed: {reply}; the keys this file "
                                  "touched were restored and it was not recorded", c.line)
        applied = entry(migration, round((time.perf_counter() - start) * 1000), self.owner)
        self._fenced_write("HSET", self.history_key, migration.version, _encode(applied))
        return applied

    def _recover(self, migration: Migration, by: str) -> Applied:
        """The file ran (its marker says so) but its history entry was never written: record it."""
        log.warn(self.name, f"{migration.path} was applied by {by} but not recorded (that runner stopped in "
                 "between); recorded now from its marker, not run again")
        applied = entry(migration, 0, by)
        self._fenced_write("HSET", self.history_key, migration.version, _encode(applied))
        return applied
