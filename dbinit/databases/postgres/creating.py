"""CREATE DATABASE and DROP DATABASE, sent from the server's maintenance database (`dbinit create`,
`dbinit drop`, and a run with DBINIT_CREATE_DATABASE): a database cannot be made or removed from a
session on itself."""
from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from ... import log
from ...errors import AuthRefused, DbinitError, MissingDatabase
from .server_errors import classify_connect_error, describe_error

if TYPE_CHECKING:
    from .backend import PostgresBackend
    from .settings import PostgresSettings

# Where CREATE and DROP DATABASE are sent from: every server has postgres, or else template1.
MAINTENANCE = ("postgres", "template1")
# Another runner made it first: duplicate_database, or, when both CREATEs ran at once, the unique
# index on pg_database's names (unique_violation).
_EXISTS = ("42P04", "23505")
_IN_USE = "55006"  # object_in_use: sessions on the database to drop
_REFUSED = ("42501",)  # insufficient_privilege: without CREATEDB, or not the owner


def database_name(settings: PostgresSettings) -> str:
    """The database the settings point at, as libpq decides it: the URL's, else PGDATABASE, else the user's name."""
    from psycopg import pq
    from psycopg.conninfo import conninfo_to_dict

    given = conninfo_to_dict(settings.conninfo)
    defaults = {o.keyword.decode(): o.val.decode() for o in pq.Conninfo.get_defaults() if o.val is not None}
    return str(given.get("dbname") or defaults.get("dbname") or given.get("user") or defaults.get("user") or "")


def _maintenance(backend: PostgresBackend, timeout: float) -> psycopg.Connection:
    for name in MAINTENANCE:
        try:
            return backend.open(timeout, dbname=name)
        except psycopg.Error as e:
            error = classify_connect_error(e, backend.settings, timeout)
            if not (isinstance(error, MissingDatabase) and name != MAINTENANCE[-1]):
                raise error from None
    raise AssertionError("unreachable")


def _refused(e: psycopg.Error, what: str, remedy: str) -> DbinitError:
    if e.sqlstate in _REFUSED:
        return AuthRefused(f"postgres: the role may not {what} ({describe_error(e)}); {remedy}")
    return DbinitError(f"postgres: could not {what}: {describe_error(e)}")


def create(backend: PostgresBackend, timeout: float) -> None:
    name = database_name(backend.settings)
    with _maintenance(backend, timeout) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as e:
            if e.sqlstate not in _EXISTS:
                raise _refused(e, f"create the database {name}", "a superuser grants it with ALTER ROLE … CREATEDB") \
                    from None
            return
    log.info(backend.name, f"created the database {name}", database=name)


def drop(backend: PostgresBackend, timeout: float) -> bool:
    name = database_name(backend.settings)
    with _maintenance(backend, timeout) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            return False
        try:
            conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as e:
            if e.sqlstate == _IN_USE:
                raise DbinitError(f"postgres: {name} is in use by other sessions; stop the application first "
                                  f"(docker compose stop app); nothing was dropped ({describe_error(e)})") from None
            raise _refused(e, f"drop the database {name}", "only its owner or a superuser may") from None
    return True
