"""`dbinit checkpoint`: the schema as of a version, as a file that a database with no history runs
instead of every file up to it (Flyway's baseline migrations, Atlas's `migrate checkpoint`). Made
from the files themselves: they run in a scratch database, whose schema is then described as
`dbinit schema` describes one. `--check` makes it again and compares (CI). A layer over the run of
one set of databases, as schema_commands is; the plan decides where a checkpoint runs (plan.py)."""
from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from . import archive, drift, integrity, log, placeholders, registry, targets
from .errors import ConfigError, InvalidMigrations
from .files import Catalog
from .migration import versioned
from .runner import Runner
from .schema_files import difference

if TYPE_CHECKING:
    from .description import Description

DESCRIPTION = "schema"  # a checkpoint's name: V042-schema-checkpoint.sql


def checkpoint(runner: Runner, to: list[str] | None = None, check: bool = False) -> list[Path]:
    """Write a checkpoint of each configured database whose files can have one, as of `to`
    ([DATABASE=]VERSION; default each newest file), or with `check` compare each newest checkpoint
    with what the files up to its version make (InvalidMigrations where one differs)."""
    if not check:
        archive.writable(runner.settings.migrations, "checkpoint")
    catalog = runner.catalog()
    able = [db for db in catalog.databases() if registry.get(db).naming.checkpoint_suffix]
    for db in catalog.databases():
        if db not in able:
            log.info(db, "has no checkpoints: its files write data, which a schema cannot hold; they run as ever")
    upto = targets.parse(to, able) if to else {}
    done, problems = [], []
    for db in able:
        ms = [m for m in catalog.migrations[db] if versioned(m.version)]
        labels = {m.version: m.label for m in ms}
        if check:
            if not catalog.checkpoints.get(db):
                log.info(db, "no checkpoint to check")
                continue
            newest = catalog.checkpoints[db][-1]
            problem = difference(newest.path, newest.text, _made(runner, catalog, db, newest.version, newest.label),
                                 "write it again with dbinit checkpoint")
            if problem:
                problems.append(problem)
            else:
                log.info(db, f"{newest.path} is what the files up to {newest.label} make")
            done.append(newest.path)
            continue
        version = upto.get(db) or (ms[-1].version if ms else None)
        if version is None:
            log.info(db, "no versioned file: nothing to make a checkpoint of")
            continue
        targets.among(db, version, labels)
        text = _made(runner, catalog, db, version, labels[version])
        covered = [m for m in ms if m.key <= registry.version_key(db, version)]
        path = covered[-1].path.parent / f"{labels[version]}-{DESCRIPTION}{registry.get(db).naming.checkpoint_suffix}"
        path.write_text(text, encoding="utf-8")
        log.info(db, f"wrote {path}: a database with no history runs it instead of the {len(covered)} file(s) up to "
                 f"{labels[version]}")
        done.append(path)
    if problems:
        raise InvalidMigrations(problems)
    if not check and done and (runner.settings.migrations / integrity.NAME).is_file():
        runner.hash()
    return done


def _made(runner: Runner, catalog: Catalog, db: str, version: str, label: str) -> str:
    """The checkpoint's text: the files up to `version` run in a scratch database, then described."""
    described = _scratch_run(runner, catalog, db, version)
    for name, value in runner.settings.placeholders.items():
        if value and not isinstance(value, placeholders.Public) and value in described.text():
            raise ConfigError(f"the schema the files up to {label} make holds the value of ${{{name}}}, which is a "
                              "secret; a checkpoint is committed, so it is not written. Keep that value out of the "
                              "schema (a grant or a setting the application makes), or leave the file after the "
                              "checkpoint")
    comment = registry.get(db).comment
    return (f"{comment} dbinit checkpoint: the schema as of {label}, made by `dbinit checkpoint` from the files up to "
            f"it.\n{comment} A database with no history runs this file instead of them (and instead of the baseline "
            f"script), then the\n{comment} files after it. Data those files wrote is not in it: keep such rows in a "
            f"repeatable file.\n" + described.text())


class _Builder(Runner):
    """A run over one database's files alone (checked whole already), in a scratch database."""

    def __init__(self, runner: Runner, catalog: Catalog, db: str, settings: object) -> None:
        super().__init__(dataclasses.replace(
            runner.settings, databases={db: settings}, checkpoints=False, drift="off", lint="off", report=None,
            before_migrate=None, after_migrate=None, schema_on_migrate=False, fleet=None,
            create_database=registry.get(db).scratch is not None), announce=False, said=runner.said)
        self.only = Catalog({d: ms if d == db else [] for d, ms in catalog.migrations.items()},
                            {d: m for d, m in catalog.init.items() if d == db})

    def catalog(self) -> Catalog:
        return self.only

    def _intact(self, catalog: Catalog) -> Catalog:
        return catalog


def _scratch_run(runner: Runner, catalog: Catalog, db: str, version: str) -> Description:
    """Every file up to `version` (post-deploy ones too, as on a new database) in a scratch
    database: one made on the same server and dropped after, or where the server cannot make one,
    the configured database itself, which must hold neither history nor schema."""
    database = registry.get(db)
    own = runner.settings.of(db)
    name = f"dbinit_checkpoint_{secrets.token_hex(4)}"
    builder = _Builder(runner, catalog, db, database.scratch(own, name) if database.scratch else own)
    if database.scratch is None:
        with builder.connected([db]) as (backend,):
            if backend.history() or any(d.items for d in drift.descriptions([backend])):
                raise ConfigError(f"dbinit checkpoint runs the files in an empty database, and {database.title} "
                                  f"cannot make one here: point {database.variables} at a throwaway server (a CI "
                                  "service container) whose database has no history and no schema; this one has")
    else:
        log.info(db, f"making the scratch database {name} to run the files in")
    try:
        builder.migrate(post_deploy=True, to=[f"{db}={version}"])
        with builder.connected([db]) as backends:
            return drift.descriptions(backends)[0]
    finally:
        if database.scratch is not None:
            builder.drop(db, name)
