"""What PostgreSQL's and libpq's errors mean: transient, refused credentials, settings, or a standby."""
from __future__ import annotations

import re

import psycopg

from ...errors import ConfigError, MissingDatabase, NotReady, credentials_refused
from .settings import PostgresSettings
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


# One attempt of libpq's: 'connection to server at "h" (addr), port 5432 failed: why' (or on a socket).
_ATTEMPT = re.compile(r'connection to server (?:at "(?P<host>[^"]+)"(?: \([^)]*\))?, port (?P<port>\d+)|on socket '
                      r'"(?P<socket>[^"]+)") failed: (?P<why>[^\n]*)')


# psycopg resolves host names itself, and libpq when it does: in their words (no code for it).
_UNRESOLVED = re.compile(r"""failed to resolve host '(?P<host>[^']+)'.*|could not translate host name "(?P<name>[^"]+)".*""")


def one_line(text: str) -> str:
    """libpq's message on one line: each attempt's cause and where, without its tab-indented hint
    ("Is the server running on that host…") and its repetitions."""
    if m := _UNRESOLVED.search(text):
        return f"the host name does not resolve (yet) at {m['host'] or m['name']}"
    attempts = list(dict.fromkeys((m["socket"] or f"{m['host']}:{m['port']}", m["why"].strip())
                                  for m in _ATTEMPT.finditer(text)))
    if not attempts:
        return " ".join(line.strip() for line in text.splitlines() if line.strip())
    return "; ".join(f"{why[0].lower() + why[1:] if why[1:2].islower() else why} at {where}" for where, why in attempts)


def classify_connect_error(e: psycopg.Error, settings: PostgresSettings, timeout: float = 5.0) -> Exception:
    """Wrong credentials and bad settings fail at once; anything else is worth another try. An
    error the server sent is judged by its SQLSTATE, asked for again by `sqlstate.probe` (libpq
    keeps only the message, in the server's language)."""
    where, raw = settings.display(), str(e).strip()
    text = one_line(raw)
    said = raw.rsplit("failed: ", 1)[-1].lower()  # the server's or libpq's words, not the host name
    password = "PGPASSWORD" if settings.source == "PGHOST" else "POSTGRES_PASSWORD"
    credentials = f"set the user and password in {settings.source}, or the password in {password}"
    if isinstance(e, psycopg.ProgrammingError):
        return ConfigError(f"postgres: bad connection settings for {where}: {text}")
    if "no password supplied" in said or "password is required" in said:  # libpq's own words: no code
        return credentials_refused("postgres", where, False, text, credentials)
    if _SERVER_SAID.search(raw) and (refusal := _refusal(e, timeout)) is not None:
        code = refusal.code
        if refusal == ACCEPTED:
            return NotReady(f"postgres: {text} (accepted when asked again: trying again)")
        if code == "28000" and not refusal.tls and _only_over_tls(e, timeout):
            return ConfigError(f"postgres: the server at {where} accepts this connection only over TLS (SQLSTATE {code} "
                               f"without it): set sslmode=require (verify-full to check its certificate) in "
                               f"{settings.source}")
        if code == "28000" and refusal.without_client_certificate:
            return ConfigError(f"postgres: TLS settings do not fit the server at {where}: {text} (SQLSTATE {code}: "
                               "refused over TLS without a client certificate; set sslcert and sslkey if it wants one)")
        if code in _REFUSED:
            return credentials_refused("postgres", where, True, f"{text} (SQLSTATE {code})", credentials)
        if code == "3D000":
            return MissingDatabase(f"postgres: {text} ({where}; SQLSTATE {code}); dbinit create makes it, or "
                                   "DBINIT_CREATE_DATABASE=true")
        if code in _SETTINGS:
            return ConfigError(f"postgres: {text} ({where}; SQLSTATE {code})")
        return NotReady(f"postgres: {text} (SQLSTATE {code})")
    if any(s in said for s in _STANDBY):
        return NotReady(f"postgres: only a standby answered ({one_line(said)}); waiting for a primary at {where}")
    if any(s in said for s in _TRANSIENT):
        return NotReady(f"postgres: {text}")
    if any(s in said for s in _AUTH):
        return credentials_refused("postgres", where, True, text, credentials)
    if any(s in said for s in _CONFIG):
        return ConfigError(f"postgres: {text} ({where})")
    return NotReady(f"postgres: {text or type(e).__name__}")


def _options(e: psycopg.Error) -> dict[str, str] | None:
    """libpq's own resolved connection options (the URL, PG* variables and defaults as it applied them)."""
    pgconn = getattr(e, "pgconn", None)
    return None if pgconn is None else {o.keyword.decode(): o.val.decode() for o in pgconn.info if o.val is not None}


def _refusal(e: psycopg.Error, timeout: float) -> Refusal | None:
    """Why the server refused the connection, asked as libpq asked."""
    options = _options(e)
    return None if options is None else probe(options, max(1.0, min(timeout, 5.0)))


def _only_over_tls(e: psycopg.Error, timeout: float) -> bool:
    """A connection refused without TLS (28000: no pg_hba.conf line lets it in) that TLS would
    get further with: accepted, refused for another reason, or asked for a client certificate."""
    options = _options(e)
    if options is None:
        return False
    over_tls = probe({**options, "sslmode": "require"}, max(1.0, min(timeout, 5.0)))
    return over_tls is not None and (over_tls == ACCEPTED or over_tls.tls and (
        over_tls.code != "28000" or over_tls.without_client_certificate))


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
