"""A fleet's tenants on PostgreSQL: a schema of the configured database, or a database of the same
server. A tenant is a run of one target with settings of its own: the history (and with it the
lock key and the lease row) in a schema of its own (a schema tenant's is `<history schema>_T`, so
that resetting T's schema cannot take it; a database tenant's is the usual one in its database),
the tenant's schema first on the search path. The histories of a schema fleet are read in one query."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import psycopg

from ...errors import ConfigError
from ...history import Applied
from .apply import BASELINED, COLUMNS
from .locking import TABLE

from .settings import in_database

if TYPE_CHECKING:
    from ...contract import Backend
    from .backend import PostgresBackend
    from .settings import PostgresSettings

_LONGEST = 63  # bytes in a PostgreSQL name


def settings(given: PostgresSettings, kind: str, tenant: str) -> PostgresSettings:
    """The settings of one tenant's run."""
    if kind == "database":
        return in_database(given, tenant)
    if given.pooler == "transaction":
        raise ConfigError("schema tenants need the tenant's schema on each session's search path, which a "
                          "transaction-mode pooler does not keep (DBINIT_PG_POOLER=transaction): migrate a fleet of "
                          "schemas over a direct or session-mode connection")
    history = history_schema(given, tenant)
    if len(history.encode()) > _LONGEST:
        raise ConfigError(f"tenant {tenant}: its history schema {history} would be longer than PostgreSQL's "
                          f"{_LONGEST} bytes; a schema tenant's name may be at most "
                          f"{_LONGEST - len(given.schema) - 1} characters (DBINIT_POSTGRES_SCHEMA is {given.schema})")
    return dataclasses.replace(given, schema=history, tenant_schema=tenant)


def shared(given: PostgresSettings, kind: str, tenants: list[str]) -> PostgresSettings:
    """The shared part's settings in a fleet: a schema fleet's tenants are not its schema (each is
    described with its tenant), whether or not they have a history yet."""
    return dataclasses.replace(given, tenant_schemas=tuple(tenants)) if kind == "schema" else given


def history_schema(given: PostgresSettings, tenant: str) -> str:
    return f"{given.schema}_{tenant}"


def listed(backend: Backend, query: str) -> list[str]:
    """The first column of a query's rows, as text; its failure is the setting's (78), by SQLSTATE."""
    conn = _connection(backend)
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            cursor = conn.execute(query)  # the user's own SQL
            rows = cursor.fetchall() if cursor.description else None
    except psycopg.Error as e:
        raise ConfigError(f"DBINIT_TENANTS_QUERY failed ({e.sqlstate or 'no SQLSTATE'}): "
                          f"{(e.diag.message_primary or str(e)).strip()}; nothing was run") from None
    if rows is None or not cursor.description:
        raise ConfigError("DBINIT_TENANTS_QUERY returns no column: its first column must name the tenants")
    return ["" if row[0] is None else str(row[0]) for row in rows]


def histories(backend: Backend, kind: str, tenants: list[str]) -> dict[str, list[Applied]]:
    """Each tenant's history that this session can read: a schema fleet's, all in one query (a tenant
    without a history table has none); a database fleet's, none (each is in its own database)."""
    if kind != "schema" or not tenants:
        return {}
    conn = _connection(backend)
    own = _backend(backend).settings
    schemas = {history_schema(own, t): t for t in tenants}
    there = [row[0] for row in conn.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)", (TABLE, list(schemas))).fetchall()]
    found: dict[str, list[Applied]] = {t: [] for t in tenants}
    if there:
        union = " UNION ALL ".join(f'SELECT %s::text, {COLUMNS}, {BASELINED} FROM "{schema}".{TABLE}'
                                   for schema in there)
        for tenant, *row in conn.execute(union, [schemas[s] for s in there]).fetchall():
            found[tenant].append(Applied(*row))
    return found


def _backend(backend: Backend) -> PostgresBackend:
    from .backend import PostgresBackend

    assert isinstance(backend, PostgresBackend)
    return backend


def _connection(backend: Backend) -> psycopg.Connection:
    return _backend(backend).connection
