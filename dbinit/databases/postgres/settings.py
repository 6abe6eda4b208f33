"""PostgreSQL's settings: POSTGRES_URL or DATABASE_URL, the official image's POSTGRES_* variables,
or libpq's own PG* variables; the history schema, lock timeouts and the pooler."""
from __future__ import annotations

import os
import re
import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from ... import log
from ...environment import Env, Variable, check_port, check_user, check_userinfo, url_password
from ...errors import ConfigError

VARIABLES = "POSTGRES_URL, DATABASE_URL, POSTGRES_HOST, PGHOST or PGSERVICE"
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
    Variable("DBINIT_PG_TRANSACTION", "file", "`file`: each migration commits with its history row; `all`: every "
             "pending file of a run in one transaction, all or nothing (a no-transaction file is refused, exit 65; "
             "post-deploy files are a transaction of their own)"),
    Variable("DBINIT_POSTGRES_SCHEMA_PRIVILEGES", "false", "`true`: the schema file and the drift check include "
             "owners, grants and default privileges (they differ from one environment to the next)"),
)
# Read by libpq itself, or by the official image beside dbinit's variables in one .env: no slips.
FOREIGN = ("PGHOSTADDR", "PGPASSFILE", "PGCHANNELBINDING", "PGSERVICEFILE", "PGOPTIONS", "PGAPPNAME", "PGREQUIRESSL",
           "PGSSLCOMPRESSION", "PGSSLCERT", "PGSSLKEY", "PGSSLROOTCERT", "PGSSLCRL", "PGSSLCRLDIR", "PGSSLSNI",
           "PGREQUIREPEER", "PGSSLMINPROTOCOLVERSION", "PGSSLMAXPROTOCOLVERSION", "PGSSLNEGOTIATION",
           "PGSSLCERTMODE", "PGGSSENCMODE", "PGKRBSRVNAME", "PGGSSLIB", "PGGSSDELEGATION", "PGCONNECT_TIMEOUT",
           "PGCLIENTENCODING", "PGTARGETSESSIONATTRS", "PGLOADBALANCEHOSTS", "PGREQUIREAUTH", "PGDATESTYLE", "PGTZ",
           "PGGEQO", "PGSYSCONFDIR", "PGLOCALEDIR", "PGDATA", "POSTGRES_INITDB_ARGS", "POSTGRES_INITDB_WALDIR",
           "POSTGRES_HOST_AUTH_METHOD")
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
    source: str = "POSTGRES_URL"  # the variable that names the server, for messages
    privileges: bool = False  # owners, grants and default privileges belong to the schema's description
    # A fleet's tenant (tenancy.py): its schema first on the search path, and the only one described.
    tenant_schema: str | None = None
    tenant_schemas: tuple[str, ...] = ()  # the shared part's: the tenants' schemas, described with each tenant
    transaction: str = "file"  # DBINIT_PG_TRANSACTION: "all": every pending file of a run in one transaction

    def display(self) -> str:
        from psycopg.conninfo import conninfo_to_dict

        params = {k: str(v) for k, v in conninfo_to_dict(self.conninfo).items()}
        host = params.get("host") or os.environ.get("PGHOST", "localhost")
        port = params.get("port") or os.environ.get("PGPORT", "5432")
        db = params.get("dbname") or os.environ.get("PGDATABASE", "")
        user = params.get("user") or os.environ.get("PGUSER", "")
        return f"postgresql://{user + '@' if user else ''}{host}:{port}/{db}"


_EXAMPLE = "postgresql://USER:PASSWORD@db:5432/app"


def _check_conninfo(variable: str, conninfo: str, env: Env, password: str | None) -> None:
    """A PostgreSQL URL or key=value string, parsed by libpq itself, then its host, port, sslmode
    and user name."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    url = "://" in conninfo.split("=", 1)[0]
    if url and not conninfo.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{variable} must start with postgresql:// (or be key=value pairs), "
                          f"not {conninfo.split('://', 1)[0]}://")
    if url:
        check_userinfo(variable, conninfo, _EXAMPLE)
    try:
        params = conninfo_to_dict(conninfo)
    except ProgrammingError as e:
        raise ConfigError(f"{variable} is not a valid PostgreSQL URL or connection string: "
                          f"{str(e).strip().splitlines()[-1]}") from None
    if not params.get("host") and not params.get("hostaddr") and not env.get("PGHOST"):
        raise ConfigError(f"{variable} names no host, e.g. postgresql://app@db:5432/app")
    if password is not None and params.get("password") not in (None, password):
        raise ConfigError(f"{variable} has a password and POSTGRES_PASSWORD another; set it in one place")
    check_user(variable, str(params.get("user") or ""), _password_given(params, env) or password is not None,
               _EXAMPLE)
    for port in str(params.get("port") or "").split(",") if params.get("port") else ():
        check_port(variable, port)
    sslmode = params.get("sslmode") or env.get("PGSSLMODE")
    if sslmode is not None and sslmode not in _SSLMODES:
        raise ConfigError(f"{variable}: sslmode must be one of {', '.join(_SSLMODES)}, not {sslmode!r}")


def _password_given(params: Mapping[str, Any], env: Env) -> bool:
    """A password or a way of logging in without one that libpq would use."""
    return any(params.get(k) for k in ("password", "passfile", "sslcert", "sslkey")) or any(
        env.raw(k) for k in ("PGPASSWORD", "PGPASSFILE", "PGSSLCERT")) or os.path.exists(os.path.expanduser("~/.pgpass"))


def _check_host(variable: str, host: str, port_variable: str) -> None:
    """A host, or hosts, without a port in them: libpq would look the whole text up as a name,
    and wait out the deadline for a host that never resolves."""
    for one in host.split(","):
        name, colon, port = one.rpartition(":")
        if colon and port.isdigit() and name and not one.startswith(("/", "[")) and name.count(":") == 0:
            raise ConfigError(f"{variable} holds a port ({one}); give the host alone and the port in {port_variable}")


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
    pooler = env.choice("DBINIT_PG_POOLER", "none", ("none", "session", "transaction"))
    privileges = env.flag("DBINIT_POSTGRES_SCHEMA_PRIVILEGES")
    transaction = env.choice("DBINIT_PG_TRANSACTION", "file", ("file", "all"))

    def made(conninfo: str, source: str) -> PostgresSettings:
        return PostgresSettings(conninfo, password, schema, lock_timeout, lock_retries, statement_timeout, pooler,
                                source, privileges, transaction=transaction)

    variable = "--postgres-url" if url_flag else "POSTGRES_URL" if env.get("POSTGRES_URL") else "DATABASE_URL"
    url = url_flag or env.get("POSTGRES_URL") or env.get("DATABASE_URL")
    if url:
        log.add_secret(url_password(url))
        if env.get("POSTGRES_HOST") and not url_flag:
            raise ConfigError(f"both {variable} and POSTGRES_HOST are set; set only one (the URL would win, and "
                              "POSTGRES_HOST would be ignored)")
        if variable == "POSTGRES_URL" and env.get("DATABASE_URL") not in (None, url):
            raise ConfigError("POSTGRES_URL and DATABASE_URL are both set, to different databases; set only one")
        _check_conninfo(variable, url, env, password)
        return made(url, variable)
    if host := env.get("POSTGRES_HOST"):
        from psycopg.conninfo import make_conninfo

        _check_host("POSTGRES_HOST", host, "POSTGRES_PORT")
        check_port("POSTGRES_PORT", env.get("POSTGRES_PORT"))
        user = env.get("POSTGRES_USER") or "postgres"
        conninfo = make_conninfo(host=host, port=env.get("POSTGRES_PORT") or "5432", user=user,
                                 dbname=env.get("POSTGRES_DB") or user)
        return made(conninfo, "POSTGRES_HOST")
    if env.get("PGHOST") or env.get("PGSERVICE"):
        log.add_secret(env.raw("PGPASSWORD"))
        _check_host("PGHOST", env.get("PGHOST") or "", "PGPORT")
        check_port("PGPORT", env.get("PGPORT"))
        if (mode := env.get("PGSSLMODE")) is not None and mode not in _SSLMODES:
            raise ConfigError(f"PGSSLMODE must be one of {', '.join(_SSLMODES)}, not {mode!r}")
        return made("", "PGHOST")
    return None


def in_database(given: PostgresSettings, name: str) -> PostgresSettings:
    """The same server and role, another database: a fleet's database tenant, a scratch database."""
    from psycopg.conninfo import make_conninfo

    return dataclasses.replace(given, conninfo=make_conninfo(given.conninfo, dbname=name))
