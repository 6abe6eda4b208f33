"""Immutable settings from the environment, *_FILE secrets and flags. Errors name the variable, never its value."""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import parse_qs, urlsplit

from . import log
from .errors import ConfigError, UsageError


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

        params = conninfo_to_dict(self.conninfo)
        host = params.get("host") or os.environ.get("PGHOST", "localhost")
        port = params.get("port") or os.environ.get("PGPORT", "5432")
        db = params.get("dbname") or os.environ.get("PGDATABASE", "")
        user = params.get("user") or os.environ.get("PGUSER", "")
        return f"postgresql://{user + '@' if user else ''}{host}:{port}/{db}"


@dataclass(frozen=True)
class Neo4jSettings:
    uri: str
    auth: tuple[str, str] | None
    database: str | None

    def display(self) -> str:
        return _without_credentials(self.uri) + (f" database {self.database}" if self.database else "")


@dataclass(frozen=True)
class RedisSettings:
    url: str
    password: str | None
    prefix: str
    topology: str = "single"  # single, sentinel (the master a Sentinel names) or cluster
    nodes: tuple[tuple[str, int], ...] = ()  # sentinels, or cluster seed nodes
    master: str = ""  # the Sentinel master name
    db: int = 0

    def display(self) -> str:
        return _without_credentials(self.url)


@dataclass(frozen=True)
class Settings:
    postgres: PostgresSettings | None
    neo4j: Neo4jSettings | None
    redis: RedisSettings | None
    migrations: Path
    init: Path
    wait_timeout: float
    lock_timeout: float
    lock_lease: float
    index_timeout: float
    progress_interval: float
    log_format: str
    out_of_order: bool
    lint: str = "warn"  # off, warn, error: squawk's findings in pending PostgreSQL files
    report: Path | None = None  # DBINIT_REPORT: the run report's path
    before_migrate: str | None = None  # a command run once before the first pending migration (a backup)
    redis_bgsave: bool = False  # BGSAVE before a run that changes Redis
    termination_log: Path = Path("/dev/termination-log")

    def configured(self) -> list[str]:
        return [db for db in ("postgres", "neo4j", "redis") if getattr(self, db) is not None]


def _without_credentials(url: str) -> str:
    """The URL with its password taken out (user@ kept), whatever its number of hosts."""
    return re.sub(r"^([a-z0-9+.-]+://)([^@/]*?)(?::[^@/]*)?@", lambda m: m[1] + (m[2] + "@" if m[2] else ""), url)


class _Env:
    """Reads variables and their _FILE twins; every secret read is registered for redaction."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def get(self, name: str) -> str | None:
        value = self.env.get(name)
        return value if value else None

    def secret(self, name: str) -> str | None:
        value, file_var = self.get(name), f"{name}_FILE"
        path = self.get(file_var)
        if value is not None and path is not None:
            raise ConfigError(f"both {name} and {file_var} are set; set only one")
        if path is not None:
            try:
                value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as e:
                reason = e.strerror if isinstance(e, OSError) else "not UTF-8"
                raise ConfigError(f"{file_var} names a file that cannot be read ({reason}): {path}") from None
        log.add_secret(value)
        return value

    def seconds(self, name: str, default: float, flag: tuple[str, str | None] = ("", None),
                positive: bool = False) -> float:
        """A duration from a (flag name, value), else the variable, else the default: a finite
        number, not negative (`positive`: above zero)."""
        raw = flag[1] if flag[1] is not None else self.get(name)
        if raw is None:
            return default
        error = UsageError if flag[1] is not None else ConfigError  # a bad flag is a bad command line
        if flag[1] is not None:
            name = flag[0]
        try:
            value = float(raw)
        except ValueError:
            raise error(f"{name} must be a number of seconds, not {raw!r}") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise error(f"{name} must be a {'positive' if positive else 'non-negative'} number of seconds, "
                        f"not {raw!r}")
        return value

    def count(self, name: str, default: int) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        if not raw.isdigit():
            raise ConfigError(f"{name} must be a whole number (0 or more), not {raw!r}")
        return int(raw)

    def flag(self, name: str) -> bool:
        raw = (self.get(name) or "false").lower()
        if raw not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{name} must be true or false, not {raw!r}")
        return raw in ("true", "1", "yes")


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _port(variable: str, text: str | None) -> None:
    if text is not None and not (text.isdigit() and 0 < int(text) < 65536):
        raise ConfigError(f"{variable}: the port must be a number from 1 to 65535, not {text!r}")


def _split_url(variable: str, url: str, schemes: tuple[str, ...], example: str):
    """urlsplit, with the scheme, host and port checked; every problem names the variable."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in schemes:
        hint = " (dbinit speaks Bolt, not HTTP)" if variable == "NEO4J_URI" and scheme in ("http", "https") else ""
        raise ConfigError(f"{variable} must start with {', '.join(s + '://' for s in schemes)}; "
                          f"{f'not {scheme}://' if scheme else 'it has no scheme'}{hint}, e.g. {example}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        _port(variable, url.split("://", 1)[1].split("/", 1)[0].rpartition("@")[2].rpartition(":")[2] or "none")
        raise ConfigError(f"{variable} is not a valid URL, e.g. {example}") from None
    if scheme != "unix" and not parts.hostname:
        raise ConfigError(f"{variable} names no host, e.g. {example}")
    if parts.port is not None:
        _port(variable, str(parts.port))
    return parts


_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def _check_conninfo(variable: str, conninfo: str, env: "_Env") -> None:
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
        _port(variable, port)
    sslmode = params.get("sslmode") or env.get("PGSSLMODE")
    if sslmode is not None and sslmode not in _SSLMODES:
        raise ConfigError(f"{variable}: sslmode must be one of {', '.join(_SSLMODES)}, not {sslmode!r}")


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_NEO4J_DATABASE = re.compile(r"[A-Za-z][A-Za-z0-9.\-]{2,62}")


def _postgres(env: _Env, url_flag: str | None) -> PostgresSettings | None:
    password = env.secret("POSTGRES_PASSWORD")
    schema = env.get("DBINIT_POSTGRES_SCHEMA") or "dbinit"
    if not _IDENTIFIER.fullmatch(schema):
        raise ConfigError("DBINIT_POSTGRES_SCHEMA must be a plain identifier (letters, digits, _; at most 63), "
                          f"not {schema!r}")
    tuning = {"schema": schema, "lock_timeout": env.seconds("DBINIT_PG_LOCK_TIMEOUT", 2.0, positive=True),
              "lock_retries": env.count("DBINIT_PG_LOCK_RETRIES", 10),
              "statement_timeout": env.seconds("DBINIT_PG_STATEMENT_TIMEOUT", 0.0),
              "pooler": (env.get("DBINIT_PG_POOLER") or "none").lower()}
    if tuning["pooler"] not in ("none", "session", "transaction"):
        raise ConfigError(f"DBINIT_PG_POOLER must be none, session or transaction, not {tuning['pooler']!r}")
    variable = "--postgres-url" if url_flag else "POSTGRES_URL" if env.get("POSTGRES_URL") else "DATABASE_URL"
    url = url_flag or env.get("POSTGRES_URL") or env.get("DATABASE_URL")
    if url:
        log.add_secret(_url_password(url))
        _check_conninfo(variable, url, env)
        return PostgresSettings(url, password, **tuning)
    if host := env.get("POSTGRES_HOST"):
        from psycopg.conninfo import make_conninfo

        _port("POSTGRES_PORT", env.get("POSTGRES_PORT"))
        user = env.get("POSTGRES_USER") or "postgres"
        conninfo = make_conninfo(host=host, port=env.get("POSTGRES_PORT") or "5432", user=user,
                                 dbname=env.get("POSTGRES_DB") or user)
        return PostgresSettings(conninfo, password, **tuning)
    if env.get("PGHOST") or env.get("PGSERVICE"):
        log.add_secret(env.get("PGPASSWORD"))
        _port("PGPORT", env.get("PGPORT"))
        if (mode := env.get("PGSSLMODE")) is not None and mode not in _SSLMODES:
            raise ConfigError(f"PGSSLMODE must be one of {', '.join(_SSLMODES)}, not {mode!r}")
        return PostgresSettings("", password, **tuning)
    return None


def _neo4j(env: _Env, uri_flag: str | None) -> Neo4jSettings | None:
    uri = uri_flag or env.get("NEO4J_URI")
    if not uri:
        return None
    log.add_secret(_url_password(uri))
    _split_url("--neo4j-uri" if uri_flag else "NEO4J_URI", uri,
               ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"), "bolt://neo4j:7687")
    password = env.secret("NEO4J_PASSWORD")
    auth_text = env.secret("NEO4J_AUTH")
    if password is not None:
        auth = (env.get("NEO4J_USERNAME") or "neo4j", password)
    elif auth_text is None or auth_text.lower() == "none":
        auth = None
    else:
        user, sep, pw = auth_text.partition("/")
        if not sep or not user:
            raise ConfigError("NEO4J_AUTH must be user/password or none")
        log.add_secret(pw)
        auth = (user, pw)
    database = env.get("NEO4J_DATABASE")
    if database is not None and not _NEO4J_DATABASE.fullmatch(database):
        raise ConfigError("NEO4J_DATABASE must be a Neo4j database name: 3 to 63 characters, a letter first, "
                          f"then letters, digits, dots or dashes; not {database!r}")
    return Neo4jSettings(uri, auth, database)


def _redis(env: _Env, url_flag: str | None) -> RedisSettings | None:
    url = url_flag or env.get("REDIS_URL")
    if not url:
        return None
    variable = "--redis-url" if url_flag else "REDIS_URL"
    log.add_secret(_url_password(url))
    prefix = env.get("DBINIT_REDIS_PREFIX") or "dbinit:"
    if url.startswith(("redis+sentinel://", "redis+cluster://", "rediss+cluster://")):
        return _redis_topology(variable, url, env.secret("REDIS_PASSWORD"), prefix)
    parts = _split_url(variable, url, ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster", "rediss+cluster"),
                       "redis://redis:6379/0")
    if parts.scheme == "unix" and not parts.path:
        raise ConfigError(f"{variable} names no socket path, e.g. unix:///run/redis/redis.sock")
    number = parse_qs(parts.query).get("db", [parts.path.strip("/") if parts.scheme != "unix" else ""])[0]
    if number and not number.isdigit():
        raise ConfigError(f"{variable}: the database number must be a whole number (redis://host:6379/0), "
                          f"not {number!r}")
    return RedisSettings(url, env.secret("REDIS_PASSWORD"), prefix)


def _redis_topology(variable: str, url: str, password: str | None, prefix: str) -> RedisSettings:
    """redis+sentinel://[:password@]host:26379[,host:26379…]/MASTER[/DB] and
    redis+cluster://[:password@]host:7000[,host:7001…] (rediss+cluster:// for TLS)."""
    scheme, rest = url.split("://", 1)
    netloc, _, path = rest.partition("/")
    nodes = []
    for node in netloc.rpartition("@")[2].split(","):
        host, _, port = node.rpartition(":") if ":" in node else (node, "", "")
        if not host:
            raise ConfigError(f"{variable} names no host in {scheme}://, e.g. {scheme}://redis-a:"
                              f"{26379 if 'sentinel' in scheme else 7000},redis-b:…")
        _port(variable, port or None)
        nodes.append((host, int(port or (26379 if "sentinel" in scheme else 6379))))
    names = [p for p in path.split("?")[0].split("/") if p]
    if scheme == "redis+sentinel":
        if not names:
            raise ConfigError(f"{variable} names no master: redis+sentinel://sentinel:26379/MASTER-NAME[/DB]")
        db = names[1] if len(names) > 1 else "0"
        if not db.isdigit():
            raise ConfigError(f"{variable}: the database number must be a whole number, not {db!r}")
        return RedisSettings(url, password, prefix, "sentinel", tuple(nodes), names[0], int(db))
    if names and names != ["0"]:
        raise ConfigError(f"{variable}: a Redis Cluster has only database 0, not {'/'.join(names)!r}")
    if "{" not in prefix:  # the lock and the history must live in one hash slot
        prefix = "{" + prefix.rstrip(":") + "}:"
    return RedisSettings(url, password, prefix, "cluster", tuple(nodes))


def load(env: Mapping[str, str] | None = None, **flags) -> Settings:
    """Settings from the environment; non-None flags (from the command line) override it."""
    e = _Env(os.environ if env is None else env)
    migrations = Path(flags.get("migrations") or e.get("DBINIT_MIGRATIONS") or "migrations")
    log_format = (flags.get("log_format") or e.get("DBINIT_LOG_FORMAT") or "text").lower()
    if log_format not in ("text", "json"):
        raise ConfigError("DBINIT_LOG_FORMAT must be text or json")
    log.configure(log_format)
    out_of_order = flags.get("out_of_order") or e.flag("DBINIT_OUT_OF_ORDER")
    lint = (e.get("DBINIT_LINT") or "warn").lower()
    if lint not in ("off", "warn", "error"):
        raise ConfigError(f"DBINIT_LINT must be off, warn or error, not {lint!r}")
    return Settings(
        postgres=_postgres(e, flags.get("postgres_url")),
        neo4j=_neo4j(e, flags.get("neo4j_uri")),
        redis=_redis(e, flags.get("redis_url")),
        migrations=migrations,
        init=Path(e.get("DBINIT_INIT_DIR") or migrations.absolute().parent / "init"),
        wait_timeout=e.seconds("DBINIT_WAIT_TIMEOUT", 60, ("--wait-timeout", flags.get("wait_timeout"))),
        lock_timeout=e.seconds("DBINIT_LOCK_TIMEOUT", 300, ("--lock-timeout", flags.get("lock_timeout"))),
        lock_lease=e.seconds("DBINIT_LOCK_LEASE", 10, positive=True),
        index_timeout=e.seconds("DBINIT_INDEX_TIMEOUT", 600),
        progress_interval=e.seconds("DBINIT_PROGRESS_INTERVAL", 5, positive=True),
        report=Path(report) if (report := e.get("DBINIT_REPORT")) else None,
        before_migrate=e.get("DBINIT_BEFORE_MIGRATE"),
        redis_bgsave=e.flag("DBINIT_REDIS_BGSAVE"),
        termination_log=Path(e.get("DBINIT_TERMINATION_LOG") or "/dev/termination-log"),
        log_format=log_format,
        out_of_order=bool(out_of_order),
        lint=lint,
    )
