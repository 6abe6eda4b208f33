"""DBINIT_REDIS_BGSAVE: a snapshot of the dataset, taken under the locks before the first pending file."""
from __future__ import annotations

import math
from typing import Any

import redis

from ... import log, retry
from ...errors import ConfigError, MigrationFailed


def bgsave(client: Any, name: str) -> None:
    """BGSAVE, and wait until it has finished: the dump on disk is from before the first command."""
    def saves() -> tuple[dict[str, Any], object]:
        info = client.info("persistence")  # rdb_saves counts snapshots (Redis 7); LASTSAVE has seconds
        return info, info.get("rdb_saves", client.lastsave())

    def idle() -> tuple[dict[str, Any], object] | None:  # one already running started before us: ours follows it
        info, count = saves()
        return None if info.get("rdb_bgsave_in_progress") else (info, count)

    state = retry.poll(idle, math.inf, first=0.1, most=0.1, jitter=False)
    assert state is not None  # no deadline: it returns only once idle
    before = state[1]
    try:
        client.bgsave()
    except redis.ResponseError as e:
        raise ConfigError(f"redis: BGSAVE was refused ({e}); unset DBINIT_REDIS_BGSAVE or allow it") from None
    log.info(name, "BGSAVE: waiting for the snapshot before migrating")

    def finished() -> dict[str, Any] | None:
        state = idle()
        if state is None:
            return None
        info, count = state
        return info if count != before or info.get("rdb_last_bgsave_status") != "ok" else None

    info = retry.poll(finished, math.inf, first=0.05, most=0.05, jitter=False) or {}
    if info.get("rdb_last_bgsave_status") != "ok":
        raise MigrationFailed(name, None, "BGSAVE failed (rdb_last_bgsave_status:"
                              f"{info.get('rdb_last_bgsave_status')}; see the server's log and its dir); "
                              "nothing was applied")
    log.info(name, "BGSAVE done: the snapshot on disk is from before this run")
