"""dbinit: wait for Neo4j, PostgreSQL and Redis, apply pending migrations. The command line is
`dbinit`; the library is `dbinit.migrate`, `dbinit.status`, `dbinit.check`, `dbinit.wait` and
`dbinit.schema`."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (AuthRefused, ConfigError, ConnectionLost, DbinitError, Drifted, InvalidMigrations, LockLost,
                     LockTimeout, MigrationFailed, NotReady, UsageError)

if TYPE_CHECKING:
    from .api import DatabaseResult, Result, check, migrate, schema, status, wait

__all__ = ["migrate", "status", "check", "wait", "schema", "Result", "DatabaseResult", "DbinitError", "AuthRefused",
           "ConfigError", "ConnectionLost", "Drifted", "InvalidMigrations", "LockLost", "LockTimeout", "MigrationFailed",
           "NotReady", "UsageError"]


def __getattr__(name: str) -> object:
    """The API on first use: the command line's start stays light (`dbinit validate` needs no driver)."""
    if name in ("migrate", "status", "check", "wait", "schema", "Result", "DatabaseResult"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
