"""What PostgreSQL's and libpq's errors mean: transient, refused credentials, settings, or a standby."""
from __future__ import annotations

import re

import psycopg

from ...errors import AuthRefused, ConfigError, MissingDatabase, NotReady
from .sqlstate import ACCEPTED, Refusal, probe

# What libpq says itself (in English: dbinit's process keeps the C locale for messages), and, as a
# last resort when the server cannot be asked for its SQLSTATE, the English server's words.
_TRANSIENT = ("resolve host", "translate host name", "connection refused", "starting up", "shutting down",
              "not accepting connections", "recovery", "timeout expired", "closed the connection", "no such file",
              "too many", "could not receive", "terminating connection", "connection reset", "network is unreachable")
_AUTH = ("password authentication failed", "no pg_hba.conf entry", "authentication failed", "permission denied",
         "password is required", "no password supplied", 'role "')
_STANDBY = ("read-only", "hot standby", "in recovery")
_CONFIG = ('database "', "ssl", "certificate", "invalid", "unsupported", "gssapi")
# libpq puts the server's own error after "…failed: " as "SEVERITY:  message", both in the server's language.
_SERVER_SAID = re.compile(r"failed: [^\s:]+:  ")
# What a refused connection's SQLSTATE means for dbinit.
_REFUSED = ("28000", "28P01", "42501")  # authorization, password, CONNECT privilege
_SETTINGS = ("0A000", "22023", "42704")  # protocol or startup option not accepted


def classify_connect_error(e: psycopg.Error, where: str, timeout: float = 5.0) -> Exception:
    """Wrong credentials and bad settings fail at once; anything else is worth another try. An
    error the server sent is judged by its SQLSTATE, asked for again by `sqlstate.probe` (libpq
    keeps only the message, in the server's language)."""
    text = str(e).strip()
    said = text.rsplit("failed: ", 1)[-1].lower()  # the server's or libpq's words, not the host name
    if isinstance(e, psycopg.ProgrammingError):
        return ConfigError(f"postgres: bad connection settings for {where}: {text}")
    if _SERVER_SAID.search(text) and (refusal := _refusal(e, timeout)) is not None:
        code = refusal.code
        if refusal == ACCEPTED:
            return NotReady(f"postgres: {text.splitlines()[-1]} (accepted when asked again: trying again)")
        if code == "28000" and refusal.without_client_certificate:
            return ConfigError(f"postgres: TLS settings do not fit the server at {where}: {text} (SQLSTATE {code}: "
                               "refused over TLS without a client certificate; set sslcert and sslkey if it wants one)")
        if code in _REFUSED:
            return AuthRefused(f"postgres: authentication refused at {where}: {text} (SQLSTATE {code})")
        if code == "3D000":
            return MissingDatabase(f"postgres: {text} ({where}; SQLSTATE {code}); dbinit create makes it, or "
                                   "DBINIT_CREATE_DATABASE=true")
        if code in _SETTINGS:
            return ConfigError(f"postgres: {text} ({where}; SQLSTATE {code})")
        return NotReady(f"postgres: {text.splitlines()[-1]} (SQLSTATE {code})")
    if any(s in said for s in _STANDBY):
        return NotReady(f"postgres: only a standby answered ({said.strip()}); waiting for a primary at {where}")
    if any(s in said for s in _TRANSIENT):
        return NotReady(f"postgres: {text.splitlines()[-1]}")
    if any(s in said for s in _AUTH):
        return AuthRefused(f"postgres: authentication refused at {where}: {text}")
    if any(s in said for s in _CONFIG):
        return ConfigError(f"postgres: {text} ({where})")
    return NotReady(f"postgres: {text.splitlines()[-1] if text else type(e).__name__}")


def _refusal(e: psycopg.Error, timeout: float) -> Refusal | None:
    """Why the server refused the connection, asked with libpq's own resolved connection options
    (the URL, PG* variables and defaults as libpq applied them)."""
    pgconn = getattr(e, "pgconn", None)
    if pgconn is None:
        return None
    options = {o.keyword.decode(): o.val.decode() for o in pgconn.info if o.val is not None}
    return probe(options, max(1.0, min(timeout, 5.0)))


def last_words(e: psycopg.Error) -> str:
    """The server's or libpq's last words on a dead connection."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def describe_error(e: psycopg.Error) -> str:
    diag = e.diag
    detail = f"SQLSTATE {e.sqlstate}: {diag.message_primary or e}" if e.sqlstate else str(e)
    for extra in (diag.message_detail, diag.message_hint):
        if extra:
            detail += f" ({extra})"
    return detail
