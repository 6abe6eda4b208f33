"""What the Neo4j driver's errors mean: transient, refused credentials, settings, the server gone
away, or the file's own fault (with the line it concerns)."""
from __future__ import annotations

import re

from neo4j.exceptions import (AuthError, ClientError, ConfigurationError, DriverError, Forbidden, Neo4jError,
                              ServiceUnavailable, SessionExpired, TransientError)

from ...errors import AuthRefused, ConfigError, MigrationFailed, MissingDatabase, NotReady, credentials_refused
from ...migration import Migration
from ...ports import reason, tls_reason
from .cypher import CypherStatement
from .settings import Neo4jSettings

_POSITION = re.compile(r"\(line (\d+), column (\d+)")
_ADDRESS = re.compile(r"Resolved(?:IPv[46])?Address\(\('([^']+)', (\d+)[^)]*\)\)")
_CA = ("set SSL_CERT_FILE to the CA that signed it, or use bolt+ssc:// (neo4j+ssc://) to accept a self-signed "
       "certificate")


def said(e: Exception, where: str) -> str:
    """The driver's words on one line: the operating system's reason and the address, else its
    last line without Python's reprs."""
    if (why := reason(e)) is not None:
        return f"{why} at {where}"
    lines = [line.strip() for line in str(getattr(e, "message", None) or e).splitlines() if line.strip()]
    text = lines[-1].rstrip(":") if lines else type(e).__name__
    return re.sub(r" \(resolved to \([^)]*\)\)", "", _ADDRESS.sub(r"\1:\2", text))


def classify_connect_error(e: Exception, settings: Neo4jSettings) -> Exception:
    where, address = settings.display(), "{}:{}".format(*settings.address())
    if isinstance(e, (AuthError, Forbidden)):
        return credentials_refused("neo4j", where, settings.auth is not None, str(getattr(e, "message", e)),
                                   "set NEO4J_AUTH=user/password (or NEO4J_USERNAME and NEO4J_PASSWORD)", "credentials")
    if (tls := tls_reason(e, _CA, "a server without TLS is bolt:// (neo4j://)")) is not None:
        return ConfigError(f"neo4j: TLS settings do not fit the server at {where}: {tls}")
    if isinstance(e, ConfigurationError):
        return ConfigError(f"neo4j: the driver refused the settings for {where}: {said(e, address)}")
    if isinstance(e, ClientError) and e.code == "Neo.ClientError.Database.DatabaseNotFound":
        return MissingDatabase(f"neo4j: {e.message} ({where}); check NEO4J_DATABASE")
    if isinstance(e, (ServiceUnavailable, SessionExpired, TransientError, DriverError, OSError)):
        return NotReady(f"neo4j: {said(e, address)}")
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
