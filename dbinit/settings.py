"""Immutable settings from the environment, *_FILE secrets and flags. Errors name the variable, never its value."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from . import log
from .errors import ConfigError


@dataclass(frozen=True)
class PostgresSettings:
    conninfo: str  # URL or key=value string; empty means libpq's PG* variables
    password: str | None  # fills in a conninfo that has none

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
    log_format: str
    out_of_order: bool

    def configured(self) -> list[str]:
        return [db for db in ("postgres", "neo4j", "redis") if getattr(self, db) is not None]


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return parts._replace(netloc=user + netloc).geturl()


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

    def number(self, name: str, default: float) -> float:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
        if value < 0:
            raise ConfigError(f"{name} must not be negative")
        return value

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


def _postgres(env: _Env, url_flag: str | None) -> PostgresSettings | None:
    password = env.secret("POSTGRES_PASSWORD")
    url = url_flag or env.get("POSTGRES_URL") or env.get("DATABASE_URL")
    if url:
        log.add_secret(_url_password(url))
        return PostgresSettings(url, password)
    if host := env.get("POSTGRES_HOST"):
        from psycopg.conninfo import make_conninfo

        user = env.get("POSTGRES_USER") or "postgres"
        conninfo = make_conninfo(host=host, port=env.get("POSTGRES_PORT") or "5432", user=user,
                                 dbname=env.get("POSTGRES_DB") or user)
        return PostgresSettings(conninfo, password)
    if env.get("PGHOST") or env.get("PGSERVICE"):
        log.add_secret(env.get("PGPASSWORD"))
        return PostgresSettings("", password)
    return None


def _neo4j(env: _Env, uri_flag: str | None) -> Neo4jSettings | None:
    uri = uri_flag or env.get("NEO4J_URI")
    if not uri:
        return None
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
    return Neo4jSettings(uri, auth, env.get("NEO4J_DATABASE"))


def _redis(env: _Env, url_flag: str | None) -> RedisSettings | None:
    url = url_flag or env.get("REDIS_URL")
    if not url:
        return None
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
    log.add_secret(_url_password(url))
    return RedisSettings(url, env.secret("REDIS_PASSWORD"), env.get("DBINIT_REDIS_PREFIX") or "dbinit:")


def load(env: Mapping[str, str] | None = None, **flags) -> Settings:
    """Settings from the environment; non-None flags (from the command line) override it."""
    e = _Env(os.environ if env is None else env)
    migrations = Path(flags.get("migrations") or e.get("DBINIT_MIGRATIONS") or "migrations")
    log_format = (flags.get("log_format") or e.get("DBINIT_LOG_FORMAT") or "text").lower()
    if log_format not in ("text", "json"):
        raise ConfigError("DBINIT_LOG_FORMAT must be text or json")
    log.configure(log_format)
    out_of_order = flags.get("out_of_order") or e.flag("DBINIT_OUT_OF_ORDER")
    return Settings(
        postgres=_postgres(e, flags.get("postgres_url")),
        neo4j=_neo4j(e, flags.get("neo4j_uri")),
        redis=_redis(e, flags.get("redis_url")),
        migrations=migrations,
        init=Path(e.get("DBINIT_INIT_DIR") or migrations.absolute().parent / "init"),
        wait_timeout=flags.get("wait_timeout") if flags.get("wait_timeout") is not None else e.number("DBINIT_WAIT_TIMEOUT", 60),
        lock_timeout=flags.get("lock_timeout") if flags.get("lock_timeout") is not None else e.number("DBINIT_LOCK_TIMEOUT", 300),
        lock_lease=e.number("DBINIT_LOCK_LEASE", 10),
        index_timeout=e.number("DBINIT_INDEX_TIMEOUT", 600),
        log_format=log_format,
        out_of_order=bool(out_of_order),
    )
