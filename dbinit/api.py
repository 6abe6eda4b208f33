"""dbinit as a library: the same migrations, waits and checks as the command line, from Python.

    import dbinit
    result = dbinit.migrate("migrations", postgres_url="postgresql://app:secret@localhost/app_test")
    result.databases["postgres"].applied   # what this call applied, with durations

Settings are keyword arguments: each database's connection (`postgres_url`, `neo4j_uri` and
`neo4j_auth`, `redis_url`) and the durations; the environment is read only with `from_environment=True`
(`env` adds variables by name, as the command line takes them: `{"NEO4J_AUTH": "neo4j/pw"}`).
Errors are the typed exceptions of `dbinit.errors` (the command line maps each to its exit code).
Nothing here prints, exits or installs signal handlers; events go to the `dbinit` logger. Each
call opens its own connections and takes its own locks, so calls may run side by side, and masks
its own secrets in its events (forgotten when it returns).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping, ParamSpec, TypeVar

from . import log, registry, schema_commands
from .errors import ConfigError, DbinitError, InvalidMigrations
from .history import Applied, State
from .plan import Plan
from .runner import Runner
from .settings import Settings, load

P = ParamSpec("P")
R = TypeVar("R")

@dataclass(frozen=True)
class DatabaseResult:
    """One database after a call: what it applied (in order, with durations) and what is left."""

    database: str
    applied: list[Applied] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # versions not applied (a dry run, check, status)
    deferred: list[str] = field(default_factory=list)  # pending post-deploy versions, left for the post-deploy run
    already_applied: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return not (self.pending or self.changed or self.failed)


@dataclass(frozen=True)
class Result:
    databases: dict[str, DatabaseResult]

    @property
    def up_to_date(self) -> bool:
        return all(d.up_to_date for d in self.databases.values())


Target = str | tuple[str, str]  # a URL, or for neo4j_auth a (user, password)


def _keywords() -> dict[str, str | None]:
    """Every database's keywords: a flag's dest (postgres_url), or one that sets a variable (neo4j_auth)."""
    out: dict[str, str | None] = {}
    for database in registry.databases():
        out.update({f.dest: None for f in database.flags})
        out.update({k: variable for k, (variable, _) in database.api_env.items()})
    return out


def _settings(call: str, migrations: str | Path, settings: Settings | None, from_environment: bool,
              env: Mapping[str, str] | None, targets: Mapping[str, Target], **flags: object) -> Settings:
    """Settings from keywords; `targets` are the databases' keywords (postgres_url=, neo4j_uri=,
    neo4j_auth=, redis_url=: as their packages register them)."""
    known = _keywords()
    for name in targets:
        if name not in known:
            raise TypeError(f"{call}() got an unexpected keyword argument {name!r}")
    if settings is not None:
        settings.use()
        return settings
    variables = dict(os.environ) if from_environment else {}
    variables.update(env or {})
    for database in registry.databases():
        for keyword, (variable, text) in database.api_env.items():
            if targets.get(keyword) is not None:
                variables[variable] = text(targets[keyword])
    urls = {name: value for name, value in targets.items() if known[name] is None}
    loaded = load(variables, migrations=str(migrations), **urls, **flags)
    loaded.use()
    if loaded.fleet is not None:  # never a run of the shared part alone that looks like the whole fleet's
        raise ConfigError(f"{call}(): a fleet's tenants (DBINIT_TENANTS, DBINIT_TENANTS_QUERY, DBINIT_TENANTS_FROM) "
                          "are migrated by the command line (dbinit migrate); the Python API runs one target")
    return loaded


def _own_secrets(call: Callable[P, R]) -> Callable[P, R]:
    """A call of the API masks its own secrets, in its events and in the error it raises (which the
    application logs: a server's message may quote a placeholder's value), and forgets them when
    it returns: an application's process makes many calls, with other passwords."""
    @functools.wraps(call)
    def scoped(*args: P.args, **kwargs: P.kwargs) -> R:
        with log.secrets():
            try:
                return call(*args, **kwargs)
            except DbinitError as e:
                e.args = tuple(log.redact(a) if isinstance(a, str) else a for a in e.args)
                if isinstance(e, InvalidMigrations):
                    e.problems = [replace(p, message=log.redact(p.message)) for p in e.problems]
                raise
    return scoped


def _result(plans: list[Plan], applied: dict[str, list[Applied]] | None = None) -> Result:
    done = applied or {}
    out = {}
    for plan in plans:
        ran = {a.version for a in done.get(plan.db, [])}
        out[plan.db] = DatabaseResult(
            plan.db, done.get(plan.db, []),
            pending=[m.label for m in plan.pending if m.version not in ran], deferred=[m.label for m in plan.deferred],
            already_applied=[e.label for e in plan.of(State.APPLIED)], changed=[e.label for e in plan.of(State.CHANGED)],
            missing=[e.label for e in plan.of(State.MISSING)], failed=[e.label for e in plan.of(State.FAILED)])
    return Result(out)


@_own_secrets
def migrate(migrations: str | Path = "migrations", *, env: Mapping[str, str] | None = None,
            from_environment: bool = False, settings: Settings | None = None, dry_run: bool = False,
            post_deploy: bool = False, placeholders: Mapping[str, str] | None = None, out_of_order: bool | None = None, wait_timeout: float | None = None, lock_timeout: float | None = None,
            **targets: Target) -> Result:
    """Wait, lock, apply every pending migration; what `dbinit migrate` does. Pending post-deploy
    migrations are left for a call with `post_deploy=True` (but on a database with no history).
    `placeholders` fill ${name} in the files (with DBINIT_PLACEHOLDER_* of `env`)."""
    runner = Runner(_settings("migrate", migrations, settings, from_environment, env, targets,
                              out_of_order=out_of_order, wait_timeout=_text(wait_timeout),
                              lock_timeout=_text(lock_timeout), placeholders=placeholders))
    done = runner.migrate(dry_run=dry_run, post_deploy=post_deploy)
    return _result([plan for plan, _ in done], {plan.db: applied for plan, applied in done})


@_own_secrets
def status(migrations: str | Path = "migrations", *, env: Mapping[str, str] | None = None,
           from_environment: bool = False, settings: Settings | None = None, **targets: Target) -> Result:
    """Files versus history, as `dbinit status` shows it."""
    return _result(Runner(_settings("status", migrations, settings, from_environment, env, targets)).status())


@_own_secrets
def check(migrations: str | Path = "migrations", *, env: Mapping[str, str] | None = None,
          from_environment: bool = False, settings: Settings | None = None, **targets: Target) -> Result:
    """No lock, no writes: `.up_to_date` when nothing is pending. Changed files, failed marks and
    out-of-order files raise as they would stop `migrate`."""
    return _result(Runner(_settings("check", migrations, settings, from_environment, env, targets)).check())


@_own_secrets
def schema(migrations: str | Path = "migrations", *, directory: str | Path | None = None, check: bool = False,
           env: Mapping[str, str] | None = None, from_environment: bool = False, settings: Settings | None = None,
           **targets: Target) -> list[Path]:
    """Each configured database's schema file, as `dbinit schema` writes it into `directory` (default:
    schema/ beside the migrations); with `check`, compared with the files there instead:
    InvalidMigrations naming a file that is missing or not what the databases' schemas are (a test
    that the committed schema files are current, after the pytest plugin migrated)."""
    runner = Runner(_settings("schema", migrations, settings, from_environment, env, targets,
                              schema_dir=None if directory is None else str(directory)))
    return schema_commands.schema(runner, check=check)


@_own_secrets
def wait(*, env: Mapping[str, str] | None = None, from_environment: bool = False, settings: Settings | None = None,
         timeout: float | None = None, **targets: Target) -> None:
    """Return once every configured database answers a real query; NotReady at the deadline."""
    Runner(_settings("wait", "migrations", settings, from_environment, env, targets,
                     wait_timeout=_text(timeout))).wait()


def _text(seconds: float | None) -> str | None:
    """Durations go through the same checks as the command line's flags."""
    return None if seconds is None else str(seconds)
