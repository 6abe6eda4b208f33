"""Immutable settings from the environment, *_FILE secrets and flags. Errors name the variable, never
its value. Each database reads its own settings (its package's settings module)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from . import archive, audit, log, placeholders, registry, telemetry, tenants
from .environment import Env, Variable, unknown
from .errors import ConfigError, UsageError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# dbinit's own variables; each database declares its own (registry.Database.environment).
ENVIRONMENT = (
    Variable("DBINIT_MIGRATIONS", "migrations", "the migrations directory (`/migrations` in the image)"),
    Variable("DBINIT_ALLOW_EMPTY", "false", "`true`: a migrations directory with no files is expected (else exit 65: "
             "a volume mounted at another path), and a tenants' query with no row (else 78: a query that matches "
             "nothing)"),
    Variable("DBINIT_INIT_DIR", "", "the baseline scripts' directory; unset: `init/` beside the migrations"),
    Variable("DBINIT_WAIT_TIMEOUT", "60", "seconds to wait for the databases to answer (then exit 69)"),
    Variable("DBINIT_LOCK_TIMEOUT", "300", "seconds to wait for the migration lock (then exit 75, naming its holder)"),
    Variable("DBINIT_LOCK_LEASE", "10", "seconds a lease-based lock lasts unless renewed (Neo4j, Redis, "
             "PostgreSQL behind a transaction pooler)"),
    Variable("DBINIT_INDEX_TIMEOUT", "600", "seconds to wait for new Neo4j indexes to come ONLINE"),
    Variable("DBINIT_PROGRESS_INTERVAL", "5", "seconds between progress lines while a migration runs long"),
    Variable("DBINIT_LOG_FORMAT", "text", "`text` (one line an event) or `json` (one object a line)"),
    Variable("DBINIT_OUT_OF_ORDER", "false", "`true`: apply pending migrations older than the newest applied one"),
    Variable("DBINIT_LINT", "warn", "the PostgreSQL lint: `off`, `warn` (log findings) or `error` (refuse them, "
             "exit 65)"),
    Variable("DBINIT_REPORT", "", "a path: write the run report (JSON) there when dbinit exits"),
    Variable("DBINIT_TERMINATION_LOG", "/dev/termination-log", "where a short summary goes for Kubernetes, when "
             "the file exists"),
    Variable("DBINIT_BEFORE_MIGRATE", "", "a shell command run once, under the locks, before the first pending "
             "migration (a backup)"),
    Variable("DBINIT_AFTER_MIGRATE", "", "a shell command run once, under the locks, after a run applied something "
             "(grants, a materialised view, a message; exit 7 when it fails, what was applied stays applied)"),
    Variable("DBINIT_REQUIRE_SUM", "false", "`true`: refuse to run without the integrity file `dbinit.sum`"),
    Variable("DBINIT_CREATE_DATABASE", "false", "`true`: make a database the server has not got while waiting, "
             "as `dbinit create` does"),
    Variable("DBINIT_DRIFT", "warn", "what `migrate` does when a schema drifted from the one recorded, before it "
             "applies anything: `off` (neither checked nor recorded after a run), `warn` (log and report it) or `fail` "
             "(exit 4, nothing applied)"),
    Variable("DBINIT_SCHEMA_DIR", "", "where `dbinit schema` writes the schema files (and `--check` reads them); "
             "unset: `schema/` beside the migrations"),
    Variable("DBINIT_SCHEMA_ON_MIGRATE", "false", "`true`: `migrate` writes the schema files after every "
             "successful run (development and CI; never by default: a cluster's root filesystem is read-only)"),
    Variable("DBINIT_PEER_HISTORY", "refuse", "what `migrate` and `check` do on a database with another tool's "
             "history (golang-migrate's, dbmate's, Flyway's) and none of dbinit's: `refuse` (exit 78, naming `dbinit "
             "baseline --from TOOL`) or `ignore` (the table is another application's)"),
    Variable("DBINIT_CHECKPOINTS", "use", "`use`: a database with no history gets the newest checkpoint and the "
             "files after it; `ignore`: every file (`dbinit checkpoint --check` and CI's proof)"),
    Variable(placeholders.PREFIX + "<NAME>", "", "the value of `${name}` in the migration files", secret=True),
)


@dataclass(frozen=True)
class Settings:
    migrations: Path
    init: Path
    wait_timeout: float
    lock_timeout: float
    lock_lease: float
    index_timeout: float
    progress_interval: float
    log_format: str
    out_of_order: bool
    archive_limits: archive.Limits = archive.Limits()
    lint: str = "warn"  # off, warn, error: a database's lint findings in pending files
    report: Path | None = None  # DBINIT_REPORT: the run report's path
    before_migrate: str | None = None  # a command run once before the first pending migration (a backup)
    after_migrate: str | None = None  # a command run once after a run applied something
    termination_log: Path = Path("/dev/termination-log")
    require_sum: bool = False  # DBINIT_REQUIRE_SUM: refuse to run without the integrity file
    create_database: bool = False  # DBINIT_CREATE_DATABASE: make a missing database while waiting
    allow_empty: bool = False  # DBINIT_ALLOW_EMPTY: no migration files is no mistake
    drift: str = "warn"  # DBINIT_DRIFT: off, warn, fail: a drifted schema before migrate applies anything
    schema_dir: Path = Path("schema")  # DBINIT_SCHEMA_DIR: the schema files
    schema_on_migrate: bool = False  # DBINIT_SCHEMA_ON_MIGRATE: migrate writes the schema files
    peer_history: str = "refuse"  # DBINIT_PEER_HISTORY: refuse, ignore: another tool's history and none of dbinit's
    checkpoints: bool = True  # DBINIT_CHECKPOINTS=use: a database with no history starts from the newest checkpoint
    placeholders: Mapping[str, str] = field(default_factory=dict)  # name (lower case) → value, each a secret
    databases: Mapping[str, Any] = field(default_factory=dict)  # each configured database's settings, in order
    fleet: tenants.Fleet | None = None  # DBINIT_TENANTS…: the files of a fleet's tenants, beside the shared ones
    secrets: frozenset[str] = frozenset()  # the passwords and placeholder values read: a run using these masks them

    def configured(self) -> list[str]:
        return list(self.databases)

    def of(self, db: str) -> Any:
        """A configured database's own settings."""
        return self.databases[db]

    def use(self) -> None:
        """The run using these (the command line's, or a call of the Python API's) masks their
        secrets, writes its lines in their format and reads archives under their limits, set before
        it reads a file; each is a context variable, so a call in another thread keeps its own."""
        for secret in self.secrets:
            log.add_secret(secret)
        log.configure(self.log_format)
        archive.configure(self.archive_limits)


def variables() -> list[Variable]:
    """Every variable dbinit reads: each database's, in the order of applying, then dbinit's own."""
    return [*(v for d in registry.databases() for v in d.environment), *ENVIRONMENT, *archive.ENVIRONMENT,
            *tenants.ENVIRONMENT, *audit.ENVIRONMENT,
            *telemetry.ENVIRONMENT]


def load(env: Mapping[str, str] | None = None, **flags: Any) -> Settings:
    """Settings from the environment; non-None flags (from the command line) override it. The
    secrets read are the Settings' own: the run that uses them registers them (log.secrets)."""
    with log.secrets() as read:
        loaded = _load(os.environ if env is None else env, flags)
    return replace(loaded, secrets=read.values)


def _load(env: Mapping[str, str], flags: Mapping[str, Any]) -> Settings:
    e = Env(env)
    log_format = (flags.get("log_format") or e.get("DBINIT_LOG_FORMAT") or "text").lower()
    if log_format not in ("text", "json"):
        raise ConfigError("DBINIT_LOG_FORMAT must be text or json")
    migrations = Path(flags.get("migrations") or e.get("DBINIT_MIGRATIONS") or _peer_folder(e) or "migrations")
    archive_limits = archive.Limits(e.count("DBINIT_ARCHIVE_MAX_MB", 256) * archive.MIB,
                                    e.count("DBINIT_ARCHIVE_MAX_FILES", 20000))
    out_of_order = flags.get("out_of_order") or e.flag("DBINIT_OUT_OF_ORDER")
    lint = e.choice("DBINIT_LINT", "warn", ("off", "warn", "error"))
    drift = e.choice("DBINIT_DRIFT", "warn", ("off", "warn", "fail"))
    _misspelt(e)
    _peer_variables(e)
    databases = {d.name: s for d in registry.databases() if (s := d.load_settings(e, flags)) is not None}
    values = {**placeholders.from_environment(e.env), **_given(flags.get("placeholders") or {})}
    placeholders.register(values)
    kinds = tuple(dict.fromkeys(k for d in registry.databases() if d.tenancy for k in d.tenancy.kinds))
    fleet = tenants.load(e, flags, migrations, kinds)
    if fleet is not None and tenants.PLACEHOLDER in values:
        raise ConfigError(f"${{{tenants.PLACEHOLDER}}} is each tenant's name in a fleet run: it takes no value of "
                          f"its own ({placeholders.PREFIX}{tenants.PLACEHOLDER.upper()} or --placeholder)")
    return Settings(
        databases=databases,
        migrations=migrations,
        init=Path(e.get("DBINIT_INIT_DIR") or migrations.absolute().parent / "init"),
        wait_timeout=e.seconds("DBINIT_WAIT_TIMEOUT", 60, ("--wait-timeout", flags.get("wait_timeout"))),
        lock_timeout=e.seconds("DBINIT_LOCK_TIMEOUT", 300, ("--lock-timeout", flags.get("lock_timeout"))),
        lock_lease=e.seconds("DBINIT_LOCK_LEASE", 10, positive=True),
        index_timeout=e.seconds("DBINIT_INDEX_TIMEOUT", 600),
        progress_interval=e.seconds("DBINIT_PROGRESS_INTERVAL", 5, positive=True),
        report=Path(report) if (report := e.get("DBINIT_REPORT")) else None,
        before_migrate=e.raw("DBINIT_BEFORE_MIGRATE"),  # a shell command: its line breaks are its own
        after_migrate=e.raw("DBINIT_AFTER_MIGRATE"),
        termination_log=Path(e.get("DBINIT_TERMINATION_LOG") or "/dev/termination-log"),
        log_format=log_format,
        archive_limits=archive_limits,
        out_of_order=bool(out_of_order),
        lint=lint,
        require_sum=e.flag("DBINIT_REQUIRE_SUM"),
        allow_empty=e.flag("DBINIT_ALLOW_EMPTY"),
        drift=drift,
        schema_dir=Path(flags.get("schema_dir") or e.get("DBINIT_SCHEMA_DIR") or migrations.absolute().parent / "schema"),
        schema_on_migrate=e.flag("DBINIT_SCHEMA_ON_MIGRATE"),
        peer_history=e.choice("DBINIT_PEER_HISTORY", "refuse", ("refuse", "ignore")),
        checkpoints=e.choice("DBINIT_CHECKPOINTS", "use", ("use", "ignore")) == "use",
        create_database=bool(flags.get("create_database") or e.flag("DBINIT_CREATE_DATABASE")),
        placeholders=values,
        fleet=fleet,
    )


def _misspelt(e: Env) -> None:
    """A variable one edit away from one dbinit reads (POSTGRESS_URL, DBINIT_WAIT_TIMOUT) is refused
    while the one it resembles is unset: dbinit would otherwise go on as if it were not set at all.
    Beside the one it resembles, or a DBINIT_ name like none, it is a warning."""
    declared = variables()
    read = ({v.name for v in declared} | {f"{v.name}_FILE" for v in declared if v.secret}
            | {name for d in registry.databases() for name in d.foreign}
            | {v.name for p in registry.peers() for v in p.variables})
    for name, near in unknown([k for k in e.env if not k.startswith(placeholders.PREFIX)], read, "DBINIT_"):
        if near is not None and e.raw(near) is None and e.raw(f"{near}_FILE") is None:
            raise ConfigError(f"{name} is set, but dbinit reads no such variable: did you mean {near}?")
        log.warn("dbinit", f"{name} is set, but dbinit reads no such variable"
                 + (f" (did you mean {near}? it is set too)" if near else ""))


def _peer_folder(e: Env) -> str | None:
    """Another tool's variable naming the migrations folder (dbmate's, from its .env), when
    dbinit's own is unset: the folder it names is the one the project keeps its files in."""
    for peer in registry.peers():
        if peer.migrations_variable and (folder := e.get(peer.migrations_variable)):
            log.info("dbinit", f"migrations directory {folder} from {peer.migrations_variable} ({peer.title}'s; "
                     "DBINIT_MIGRATIONS is dbinit's own and wins when set)")
            return folder
    return None


def _peer_variables(e: Env) -> None:
    """Another tool's variables that dbinit does not read: said, with what dbinit reads instead,
    rather than taken in silently (a .env shared with dbmate or Flyway)."""
    for peer in registry.peers():
        for v in peer.variables:
            if not v.honoured and e.raw(v.name) is not None:
                log.warn("dbinit", f"{v.name} is {peer.title}'s and dbinit does not read it: {v.instead}")


def _given(values: Mapping[str, str]) -> dict[str, str]:
    """Placeholder values from the command line or the API, by name."""
    for name in values:
        if not NAME.fullmatch(name):
            raise UsageError(f"{name!r} is not a placeholder name (letters, digits and _, not first a digit)")
    return {name.lower(): value for name, value in values.items()}
