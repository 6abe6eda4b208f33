"""`dbinit schema` and `dbinit accept`: the schema files, and a change by hand a person stands by. A
layer over the run of one set of databases (Runner.connected, Runner.locked), as the run's own
commands are; the runner only records and checks (drift.py) on its way."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import drift, log, registry, schema_files
from .contract import Inspects
from .errors import ConfigError, UsageError

if TYPE_CHECKING:
    from .runner import Runner


def schema(runner: Runner, check: bool = False) -> list[Path]:
    """The schema file of every configured database that can describe its schema: written into the
    schema directory, or with `check` compared with the ones there (InvalidMigrations where one is
    missing or differs). Reads under no lock, changes nothing in the databases."""
    with runner.connected(runner.settings.configured()) as backends:
        if check:
            return schema_files.check(runner.settings.schema_dir, drift.descriptions(backends))
        return schema_files.write(runner.settings.schema_dir, drift.descriptions(backends))


def accept(runner: Runner, reason: str, by: str | None = None, dbs: list[str] | None = None) -> None:
    """A person accepts each schema as it is now (a change by hand they stand by): recorded with who
    and why, under the locks; the next drift check compares with it."""
    if not reason.strip():
        raise UsageError("accept: --reason says why the schema as it is now is right (it is kept in the history)")
    chosen = dbs or runner.settings.configured()
    for db in chosen:
        if db not in registry.names():
            raise UsageError(f"accept: no database {db!r} (databases: {', '.join(registry.names())})")
        if db not in runner.settings.configured():
            raise ConfigError(f"{db} is not configured; set {registry.get(db).variables}")
    who = by or drift.person()
    with runner.connected(chosen) as backends, runner.locked(backends):
        for backend in backends:
            if not isinstance(backend, Inspects):
                log.info(backend.name, "has no schema dbinit describes: nothing to accept")
                continue
            before = drift.comparisons([backend])[0]
            drift.record(backend, f"accepted: {reason}", who, now=before.live)
            log.info(backend.name, f"accepted the schema as it is ({before.says()}); recorded by {who}: {reason}")
