"""What the Neo4j driver's errors mean: transient, refused credentials, settings, the server gone
away, or the file's own fault (with the line it concerns)."""
from __future__ import annotations

import re
import ssl

from neo4j.exceptions import (AuthError, ClientError, ConfigurationError, DriverError, Forbidden, Neo4jError,
                              ServiceUnavailable, SessionExpired, TransientError)

from ...errors import AuthRefused, ConfigError, MigrationFailed, MissingDatabase, NotReady
from ...migration import Migration
from .cypher import CypherStatement

_POSITION = re.compile(r"\(line (\d+), column (\d+)")


def _caused_by_tls(e: BaseException | None) -> bool:
    while e is not None:
        if isinstance(e, ssl.SSLError):
            return True
        e = e.__cause__ or e.__context__
    return False


def classify_connect_error(e: Exception, where: str) -> Exception:
    if isinstance(e, (AuthError, Forbidden)):
        return AuthRefused(f"neo4j: authentication refused at {where}: {getattr(e, 'message', e)}")
    if isinstance(e, ConfigurationError) or _caused_by_tls(e):
        return ConfigError(f"neo4j: TLS or connection settings do not fit the server at {where}: {e}")
    if isinstance(e, ClientError) and e.code == "Neo.ClientError.Database.DatabaseNotFound":
        return MissingDatabase(f"neo4j: {e.message} ({where}); check NEO4J_DATABASE")
    if isinstance(e, (ServiceUnavailable, SessionExpired, TransientError, DriverError, OSError)):
        return NotReady(f"neo4j: {getattr(e, 'message', None) or e}")
    if isinstance(e, ClientError) and "Security" in (e.code or ""):  # e.g. a password that must be changed
        return AuthRefused(f"neo4j: {e.message} ({where})")
    return ConfigError(f"neo4j: the server refused the connection settings for {where}: "
                       f"{getattr(e, 'message', None) or e}")


def unavailable(e: Exception) -> bool:
    """The server or the database went away (stopped, restarting, cut off): not the file's fault."""
    return isinstance(e, (ServiceUnavailable, SessionExpired)) or (
        isinstance(e, Neo4jError) and e.code in ("Neo.TransientError.General.DatabaseUnavailable",
                                                  "Neo.TransientError.Database.DatabaseUnavailable"))


def failure(db: str, migration: Migration, stmt: CypherStatement, e: Neo4jError,
            done: list[CypherStatement]) -> MigrationFailed:
    """A statement the server refused, at the line the server's position points to."""
    message = (e.message or str(e)).split("\n")[0]
    line = stmt.line
    if m := _POSITION.search(message):
        line += int(m[1]) - 1
    committed = (f"statements already committed: lines {', '.join(str(s.line) for s in done)}; "
                 "the whole file is retried on the next run") if done else "nothing of this file was committed"
    first = stmt.text.splitlines()[0][:120]
    return MigrationFailed(db, migration.path, f"{e.code}: {message}; {committed} (statement: {first})",
                           line, first, e.code)
