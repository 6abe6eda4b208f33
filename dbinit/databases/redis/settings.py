"""Redis's settings: REDIS_URL (redis://, rediss://, unix://, redis+sentinel://, redis+cluster://,
rediss+cluster://), REDIS_PASSWORD, DBINIT_REDIS_PREFIX, DBINIT_REDIS_BGSAVE."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping
from urllib.parse import parse_qs, urlsplit

from ... import log
from ...environment import Env, Variable, check_port, check_user, check_userinfo, split_url, url_password, without_credentials
from ...errors import ConfigError

ENVIRONMENT = (
    Variable("REDIS_URL", "", "`redis://`, `rediss://` (TLS), `unix://`, `redis+sentinel://`, `redis+cluster://`, "
             "`rediss+cluster://`; the database number after the host"),
    Variable("REDIS_PASSWORD", "", "the password; fills in a URL that has none", secret=True),
    Variable("DBINIT_REDIS_PREFIX", "dbinit:", "the prefix of dbinit's keys (lock, history), to keep applications "
             "apart on one Redis"),
    Variable("DBINIT_REDIS_BGSAVE", "false", "`true`: BGSAVE, and wait for it, before a run that changes Redis"),
)


_EXAMPLE = "redis://:PASSWORD@redis:6379/0 (redis://USER:PASSWORD@… for an ACL user)"


@dataclass(frozen=True)
class RedisSettings:
    url: str
    password: str | None
    prefix: str
    topology: str = "single"  # single, sentinel (the master a Sentinel names) or cluster
    nodes: tuple[tuple[str, int], ...] = ()  # sentinels, or cluster seed nodes
    master: str = ""  # the Sentinel master name
    db: int = 0
    bgsave: bool = False  # BGSAVE before a run that changes Redis

    def display(self) -> str:
        return without_credentials(self.url)

    def address(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"

    @property
    def has_url_password(self) -> bool:
        return bool(url_password(self.url))


def load(env: Env, flags: Mapping[str, Any]) -> RedisSettings | None:
    url_flag = flags.get("redis_url")
    url = url_flag or env.get("REDIS_URL")
    if not url:
        env.flag("DBINIT_REDIS_BGSAVE")  # checked even so: a typo must not wait for the day Redis is configured
        return None
    variable = "--redis-url" if url_flag else "REDIS_URL"
    log.add_secret(url_password(url))
    prefix = env.get("DBINIT_REDIS_PREFIX") or "dbinit:"
    password = env.secret("REDIS_PASSWORD")
    check_userinfo(variable, url, _EXAMPLE)
    in_url = url_password(url)
    if password is not None and in_url and in_url != password:
        raise ConfigError(f"{variable} has a password and REDIS_PASSWORD another; set it in one place")
    user = url.split("://", 1)[-1].rpartition("@")[0].partition(":")[0]
    check_user(variable, user, bool(in_url) or password is not None, _EXAMPLE)
    if url.startswith(("redis+sentinel://", "redis+cluster://", "rediss+cluster://")):
        settings = _topology(variable, url, password, prefix)
    else:
        parts = split_url(variable, url, ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster",
                                          "rediss+cluster"), "redis://redis:6379/0")
        if parts.scheme == "unix" and not parts.path:
            raise ConfigError(f"{variable} names no socket path, e.g. unix:///run/redis/redis.sock")
        number = parse_qs(parts.query).get("db", [parts.path.strip("/") if parts.scheme != "unix" else ""])[0]
        if number and not number.isdigit():
            raise ConfigError(f"{variable}: the database number must be a whole number (redis://host:6379/0), "
                              f"not {number!r}")
        settings = RedisSettings(url, password, prefix)
    return replace(settings, bgsave=env.flag("DBINIT_REDIS_BGSAVE"))


def _topology(variable: str, url: str, password: str | None, prefix: str) -> RedisSettings:
    """redis+sentinel://[:password@]host:26379[,host:26379…]/MASTER[/DB] and
    redis+cluster://[:password@]host:7000[,host:7001…] (rediss+cluster:// for TLS)."""
    scheme, rest = url.split("://", 1)
    netloc, _, path = rest.partition("/")
    nodes = []
    for node in netloc.rpartition("@")[2].split(","):
        host, _, port = node.rpartition(":") if ":" in node else (node, "", "")
        if not host:
            raise ConfigError(f"{variable} names no host in {scheme}://, e.g. {scheme}://redis-a:"
                              f"{26379 if 'sentinel' in scheme else 7000},redis-b:…")
        check_port(variable, port or None)
        nodes.append((host, int(port or (26379 if "sentinel" in scheme else 6379))))
    names = [p for p in path.split("?")[0].split("/") if p]
    if scheme == "redis+sentinel":
        if not names:
            raise ConfigError(f"{variable} names no master: redis+sentinel://sentinel:26379/MASTER-NAME[/DB]")
        db = names[1] if len(names) > 1 else "0"
        if not db.isdigit():
            raise ConfigError(f"{variable}: the database number must be a whole number, not {db!r}")
        return RedisSettings(url, password, prefix, "sentinel", tuple(nodes), names[0], int(db))
    if names and names != ["0"]:
        raise ConfigError(f"{variable}: a Redis Cluster has only database 0, not {'/'.join(names)!r}")
    if "{" not in prefix:  # the lock and the history must live in one hash slot
        prefix = "{" + prefix.rstrip(":") + "}:"
    return RedisSettings(url, password, prefix, "cluster", tuple(nodes))
