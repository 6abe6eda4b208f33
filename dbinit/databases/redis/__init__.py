"""Redis: V<digits>-<description>.redis files of redis-cli commands, each file and its history
entry in one MULTI/EXEC with the touched keys saved first, a SET NX PX lock with a renewed lease;
Sentinel and Cluster. Modules: settings, commands (the splitter), backend, cluster."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Mapping, Sequence

from ...migration import Migration
from ...naming import DESCRIPTION, Numbered
from ...ports import Protocol
from ...registry import Database, Flag, register
from .settings import ENVIRONMENT, load

if TYPE_CHECKING:
    from ...contract import Backend
    from .settings import RedisSettings

NAME = "redis"


def _parse(migration: Migration) -> Sequence[object]:
    from .commands import parse

    return parse(migration)


def _fill(migration: Migration, values: Mapping[str, str]) -> Migration:
    from .commands import fill

    return fill(migration, values)


def _open(settings: RedisSettings, lease_s: float) -> Backend:
    if settings.topology == "cluster":
        from .cluster import RedisClusterBackend

        return RedisClusterBackend(settings, lease_s)
    from .backend import RedisBackend

    return RedisBackend(settings, lease_s)


register(Database(
    name=NAME, title="Redis", system="redis",
    naming=Numbered(re.compile(rf"V(?P<num>\d+)-{DESCRIPTION}\.redis"),
                    "V<digits>-<description>.redis, e.g. V001-rename-session-keys.redis", (".redis",),
                    f"{NAME} migration", hints=((r"v\d+-.+", "the V must be upper-case; expected {expected}"),)),
    comment="#", variables="REDIS_URL", environment=ENVIRONMENT, load_settings=load,
    flags=(Flag("redis_url", "Redis URL (REDIS_URL)"),),
    parse=_parse, open=_open, server_check="the server's check of every command and its arguments (COMMAND GETKEYS)",
    fill=_fill,
    # An inline PING: a Redis server answers +PONG, or an error (-NOAUTH …) in its own protocol.
    protocol=Protocol("Redis", b"PING\r\n", lambda reply: reply[:1] in (b"+", b"-")),
    logger="redis",
))
