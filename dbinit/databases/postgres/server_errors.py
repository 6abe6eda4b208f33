"""What PostgreSQL's and libpq's errors mean: transient, refused credentials, settings, or a standby."""
from __future__ import annotations

import psycopg

from ...errors import AuthRefused, ConfigError, NotReady

# libpq's connection errors carry no SQLSTATE: classify the server's words, transient ones first.
_TRANSIENT = ("resolve host", "translate host name", "connection refused", "starting up", "shutting down",
              "not accepting connections", "recovery", "timeout expired", "closed the connection", "no such file",
              "too many", "could not receive", "terminating connection", "connection reset", "network is unreachable")
_AUTH = ("password authentication failed", "no pg_hba.conf entry", "authentication failed", "permission denied",
         "password is required", "no password supplied", 'role "')
_STANDBY = ("read-only", "hot standby", "in recovery")
_CONFIG = ('database "', "ssl", "certificate", "invalid", "unsupported", "gssapi")


def classify_connect_error(e: psycopg.Error, where: str) -> Exception:
    """Wrong credentials and bad settings fail at once; anything else is worth another try."""
    text = str(e).strip()
    said = text.rsplit("failed: ", 1)[-1].lower()  # the server's or libpq's words, not the host name
    if isinstance(e, psycopg.ProgrammingError):
        return ConfigError(f"postgres: bad connection settings for {where}: {text}")
    if any(s in said for s in _STANDBY):
        return NotReady(f"postgres: only a standby answered ({said.strip()}); waiting for a primary at {where}")
    if any(s in said for s in _TRANSIENT):
        return NotReady(f"postgres: {text.splitlines()[-1]}")
    if any(s in said for s in _AUTH):
        return AuthRefused(f"postgres: authentication refused at {where}: {text}")
    if any(s in said for s in _CONFIG):
        return ConfigError(f"postgres: {text} ({where})")
    return NotReady(f"postgres: {text.splitlines()[-1] if text else type(e).__name__}")


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
