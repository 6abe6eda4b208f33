"""PostgreSQL's settings: POSTGRES_URL or DATABASE_URL, the official image's POSTGRES_* variables,
or libpq's own PG* variables; the history schema, lock timeouts and the pooler."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Mapping

from ... import log
from ...environment import Env, Variable, check_port, url_password
from ...errors import ConfigError

VARIABLES = "POSTGRES_URL, DATABASE_URL, POSTGRES_HOST or PGHOST"
# In the order they are looked at: a URL, else the official image's variables, else libpq's.
ENVIRONMENT = (
    Variable("POSTGRES_URL", "", "`postgresql://user:password@host:5432/database?sslmode=…`, or a libpq "
             "`key=value` string; several hosts for a primary and its standbys"),
    Variable("DATABASE_URL", "", "the same, where POSTGRES_URL is unset"),
    Variable("POSTGRES_HOST", "", "without a URL: the host, with the official image's variables below"),
    Variable("POSTGRES_PORT", "5432", "with POSTGRES_HOST"),
    Variable("POSTGRES_USER", "postgres", "with POSTGRES_HOST"),
    Variable("POSTGRES_PASSWORD", "", "the password; fills in a URL that has none", secret=True),
    Variable("POSTGRES_DB", "", "with POSTGRES_HOST; unset: the user's name"),
    Variable("PGHOST", "", "without a URL or POSTGRES_HOST: libpq's own variables (PGPORT, PGUSER, PGPASSWORD, "
             "PGDATABASE, PGSSLMODE, PGSSLROOTCERT, …), read by libpq itself"),
    Variable("PGSERVICE", "", "as PGHOST: a service of libpq's `pg_service.conf`"),
    Variable("PGPORT", "", "with PGHOST; checked to be a port"),
    Variable("PGPASSWORD", "", "with PGHOST; kept out of every log line"),
    Variable("PGDATABASE", "", "with PGHOST"),
    Variable("PGUSER", "", "with PGHOST"),
    Variable("PGSSLMODE", "", "with PGHOST, or beside a URL without `sslmode`: checked to be a libpq sslmode"),
    Variable("DBINIT_POSTGRES_SCHEMA", "dbinit", "the schema of dbinit's history table"),
    Variable("DBINIT_PG_LOCK_TIMEOUT", "2.0", "seconds a migration waits for a table lock before it is rolled back "
             "and tried again"),
    Variable("DBINIT_PG_LOCK_RETRIES", "10", "how many times a migration that gave up waiting for a lock is tried "
             "again"),
    Variable("DBINIT_PG_STATEMENT_TIMEOUT", "0.0", "seconds any statement may run; 0: no limit"),
    Variable("DBINIT_PG_POOLER", "none", "`transaction` behind a transaction-mode pooler (PgBouncer): a lease "
             "row instead of the advisory lock; `session` or `none` otherwise"),
)
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


@dataclass(frozen=True)
class PostgresSettings:
    conninfo: str  # URL or key=value string; empty means libpq's PG* variables
    password: str | None  # fills in a conninfo that has none
    schema: str = "dbinit"  # where the history table lives, apart from the application's schemas
    lock_timeout: float = 2.0  # seconds a migration waits for a table lock before it is retried
    lock_retries: int = 10
    statement_timeout: float = 0.0  # 0: none
    pooler: str = "none"  # "transaction": behind PgBouncer in transaction pooling mode

    def display(self) -> str:
        from psycopg.conninfo import conninfo_to_dict

        params = {k: str(v) for k, v in conninfo_to_dict(self.conninfo).items()}
        host = params.get("host") or os.environ.get("PGHOST", "localhost")
        port = params.get("port") or os.environ.get("PGPORT", "5432")
        db = params.get("dbname") or os.environ.get("PGDATABASE", "")
        user = params.get("user") or os.environ.get("PGUSER", "")
        return f"postgresql://{user + '@' if user else ''}{host}:{port}/{db}"


def _check_conninfo(variable: str, conninfo: str, env: Env) -> None:
    """A PostgreSQL URL or key=value string, parsed by libpq itself, then its host, port and sslmode."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    if "://" in conninfo.split("=", 1)[0] and not conninfo.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{variable} must start with postgresql:// (or be key=value pairs), "
                          f"not {conninfo.split('://', 1)[0]}://")
    try:
        params = conninfo_to_dict(conninfo)
    except ProgrammingError as e:
        raise ConfigError(f"{variable} is not a valid PostgreSQL URL or connection string: "
                          f"{str(e).strip().splitlines()[-1]}") from None
    if not params.get("host") and not params.get("hostaddr") and not env.get("PGHOST"):
        raise ConfigError(f"{variable} names no host, e.g. postgresql://app@db:5432/app")
    for port in str(params.get("port") or "").split(",") if params.get("port") else ():
        check_port(variable, port)
    sslmode = params.get("sslmode") or env.get("PGSSLMODE")
    if sslmode is not None and sslmode not in _SSLMODES:
        raise ConfigError(f"{variable}: sslmode must be one of {', '.join(_SSLMODES)}, not {sslmode!r}")


def load(env: Env, flags: Mapping[str, Any]) -> PostgresSettings | None:
    url_flag = flags.get("postgres_url")
    password = env.secret("POSTGRES_PASSWORD")
    schema = env.get("DBINIT_POSTGRES_SCHEMA") or "dbinit"
    if not _IDENTIFIER.fullmatch(schema):
        raise ConfigError("DBINIT_POSTGRES_SCHEMA must be a plain identifier (letters, digits, _; at most 63), "
                          f"not {schema!r}")
    lock_timeout = env.seconds("DBINIT_PG_LOCK_TIMEOUT", 2.0, positive=True)
    lock_retries = env.count("DBINIT_PG_LOCK_RETRIES", 10)
    statement_timeout = env.seconds("DBINIT_PG_STATEMENT_TIMEOUT", 0.0)
    pooler = (env.get("DBINIT_PG_POOLER") or "none").lower()
    if pooler not in ("none", "session", "transaction"):
        raise ConfigError(f"DBINIT_PG_POOLER must be none, session or transaction, not {pooler!r}")

    def made(conninfo: str) -> PostgresSettings:
        return PostgresSettings(conninfo, password, schema, lock_timeout, lock_retries, statement_timeout, pooler)

    variable = "--postgres-url" if url_flag else "POSTGRES_URL" if env.get("POSTGRES_URL") else "DATABASE_URL"
    url = url_flag or env.get("POSTGRES_URL") or env.get("DATABASE_URL")
    if url:
        log.add_secret(url_password(url))
        _check_conninfo(variable, url, env)
        return made(url)
    if host := env.get("POSTGRES_HOST"):
        from psycopg.conninfo import make_conninfo

        check_port("POSTGRES_PORT", env.get("POSTGRES_PORT"))
        user = env.get("POSTGRES_USER") or "postgres"
        conninfo = make_conninfo(host=host, port=env.get("POSTGRES_PORT") or "5432", user=user,
                                 dbname=env.get("POSTGRES_DB") or user)
        return made(conninfo)
    if env.get("PGHOST") or env.get("PGSERVICE"):
        log.add_secret(env.get("PGPASSWORD"))
        check_port("PGPORT", env.get("PGPORT"))
        if (mode := env.get("PGSSLMODE")) is not None and mode not in _SSLMODES:
            raise ConfigError(f"PGSSLMODE must be one of {', '.join(_SSLMODES)}, not {mode!r}")
        return made("")
    return None
