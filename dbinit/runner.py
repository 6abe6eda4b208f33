"""Orders the work: settings → files → wait → lock → plan → apply → report. Logs, never prints or exits."""
from __future__ import annotations

import time
from contextlib import ExitStack, contextmanager
from functools import partial
from datetime import date, datetime, timezone
from typing import Iterator

from . import content, files, hooks, log, readiness
from .backends.base import PROGRESS_EVERY, Backend
from .errors import ConfigError, DbinitError, InvalidMigrations, MigrationFailed, NotReady, Problem, UsageError
from .files import Catalog, Migration
from .progress import Monitor
from .report import RunReport
from .plan import Applied, Plan, reconcile
from .settings import Settings

VARIABLES = {
    "postgres": "POSTGRES_URL, DATABASE_URL, POSTGRES_HOST or PGHOST",
    "neo4j": "NEO4J_URI",
    "redis": "REDIS_URL",
}


def make_backend(db: str, settings: Settings) -> Backend:
    """Import only the client library of a configured database: the start-up path stays light."""
    if db == "postgres":
        from .backends.postgres import PostgresBackend

        backend: Backend = PostgresBackend(settings.postgres)
    elif db == "neo4j":
        from .backends.neo4j import Neo4jBackend

        backend = Neo4jBackend(settings.neo4j)
    elif settings.redis.topology == "cluster":
        from .backends.redis_cluster import RedisClusterBackend

        backend = RedisClusterBackend(settings.redis)
    else:
        from .backends.redis import RedisBackend

        backend = RedisBackend(settings.redis)
    backend.lease_s = settings.lock_lease
    return backend


class Runner:
    def __init__(self, settings: Settings, report: RunReport | None = None):
        self.settings = settings
        self.report = report or RunReport()

    def catalog(self) -> Catalog:
        """The migration files, refusing files for a database that is not configured."""
        catalog = files.discover(self.settings.migrations, self.settings.init)
        configured = self.settings.configured()
        for db in catalog.databases():
            if db not in configured:
                example = (catalog.migrations[db] or [catalog.init.get(db)])[0].path
                raise ConfigError(f"there are {db} migrations ({example}) but {db} is not configured; "
                                  f"set {VARIABLES[db]}")
        return catalog

    @contextmanager
    def connected(self, dbs: list[str]) -> Iterator[list[Backend]]:
        """Backends for `dbs`, each answering real queries, closed afterwards."""
        for db in files.DATABASES:
            if db in dbs:
                log.info(db, f"waiting for {getattr(self.settings, db).display()}")
            elif db not in self.settings.configured():
                log.info(db, f"not configured ({VARIABLES[db]} unset): skipped")
                self.report.skipped(db)
        backends = [make_backend(db, self.settings) for db in dbs]
        try:
            try:
                readiness.wait(backends, self.settings.wait_timeout)
            finally:
                for b in backends:
                    if b.ready_after_s is not None:
                        self.report.ready(b.name, b.ready_after_s)
            yield backends
        except DbinitError:
            raise
        except Exception as e:  # a client library's own exception: typed, naming its database
            for backend in backends:
                if (typed := backend.translate(e)) is not None:
                    raise typed from None
            raise
        finally:
            for backend in backends:
                try:
                    backend.close()
                except Exception:  # closing a connection to a server that went away
                    pass

    def wait(self) -> None:
        with self.connected(self.settings.configured()):
            pass

    def validate(self) -> content.Report:
        catalog = files.discover(self.settings.migrations, self.settings.init)
        report = content.check(catalog.all(), lint=self.settings.lint)
        for m in report.empty:
            log.info(m.db, f"{m.path}: has no statements; it is valid and is recorded when applied")
        self._log_findings("validate", report)
        log.info("validate", f"{report.checked} migration files are valid")
        return report

    def _log_findings(self, source: str, report: content.Report) -> None:
        for w in report.warnings:
            log.warn(source, str(w))
        if report.lint_skipped:
            log.info(source, "the lint of blocking DDL was skipped: squawk is not installed "
                     "(pip install 'dbinit[lint]'; DBINIT_LINT=off to silence this)")

    def _plans(self, catalog: Catalog, backends: list[Backend]) -> list[tuple[Backend, Plan]]:
        return [(b, reconcile(b.name, catalog.migrations[b.name], b.history(), catalog.init.get(b.name)))
                for b in backends]

    def status(self) -> list[Plan]:
        catalog = self.catalog()
        with self.connected(self.settings.configured()) as backends:
            return [plan for _, plan in self._plans(catalog, backends)]

    def _checked(self, catalog: Catalog, backends: list[Backend]) -> list[Plan]:
        """The plans of the databases that have files, refused as `migrate` would refuse them."""
        plans = [plan for _, plan in self._plans(catalog, [b for b in backends if b.name in catalog.databases()])]
        for plan in plans:
            plan.check(self.settings.out_of_order)
        return plans

    def check(self) -> list[Plan]:
        """Files versus history without the lock and without writing: what `migrate` would do."""
        catalog = self.catalog()
        with self.connected(self.settings.configured()) as backends:
            plans = self._checked(catalog, backends)
        for plan in plans:
            self.report.pending(plan.db, plan.pending)
        return plans

    def wait_migrated(self) -> None:
        """Until nothing is pending (migrated elsewhere: a Job, a Helm hook), or the deadline:
        NotReady naming what is still pending. No lock, no writes; the history is read again every
        half second over the same connections, with a progress line every few seconds."""
        catalog = self.catalog()
        with self.connected(self.settings.configured()) as backends:
            deadline = time.monotonic() + self.settings.wait_timeout
            next_report = time.monotonic() + PROGRESS_EVERY
            while True:
                plans = self._checked(catalog, backends)
                pending = [f"{p.db} {m.label}" for p in plans for m in p.pending]
                if not pending:
                    log.info("dbinit", "every configured database is up to date with the migrations")
                    return
                if time.monotonic() >= deadline:
                    raise NotReady(f"still pending after {self.settings.wait_timeout:g} s (DBINIT_WAIT_TIMEOUT): "
                                   + ", ".join(pending))
                if time.monotonic() >= next_report:
                    log.info("dbinit", f"waiting for migrations applied elsewhere; pending: {', '.join(pending[:10])}")
                    next_report = time.monotonic() + PROGRESS_EVERY
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    def migrate(self, dry_run: bool = False) -> list[tuple[Plan, list[Applied]]]:
        """Apply what is pending; each database's plan (as found under the lock) and what was applied."""
        catalog = self.catalog()
        with self.connected(self.settings.configured()) as backends, ExitStack() as locks:
            active = [b for b in backends if b.name in catalog.databases()]
            # Read without the locks first: history rows are written only with their migration's
            # commit, so if nothing is pending now, nothing is; the replicas of a deploy then
            # neither queue for the lock nor write to take it.
            plans = self._plans(catalog, active)
            if not dry_run and any(plan.pending for _, plan in plans):
                for b in active:
                    locks.enter_context(b.lock(self.settings.lock_timeout))
                    self.report.locked(b.name, b.lock_wait_s or 0.0)
                # Decided again under the locks: a runner that waited finds nothing pending.
                plans = self._plans(catalog, active)
            for _, plan in plans:
                self.report.pending(plan.db, plan.pending)
            for _, plan in plans:
                plan.check(self.settings.out_of_order)
                for e in plan.of("Missing"):
                    log.warn(plan.db, f"{e.label} {e.description} is applied but its file is missing")
            # Every pending file parses before the first one runs; down files are not run here.
            self._log_findings("dbinit", content.check([m for _, plan in plans for m in plan.pending], downs=False,
                                                       lint=self.settings.lint))
            for backend, plan in plans:
                if plan.pending:
                    backend.precheck(plan.pending)
            if dry_run:
                for _, plan in plans:
                    for m in plan.pending:
                        log.info(plan.db, f"would apply {m.label} {m.description} ({m.path})")
                    if not plan.pending:
                        log.info(plan.db, "up to date; nothing would be applied")
                return [(p, []) for _, p in plans]
            if any(plan.pending for _, plan in plans):
                if self.settings.before_migrate:
                    hooks.before_migrate(self.settings.before_migrate, [plan for _, plan in plans])
                for backend, plan in plans:
                    if plan.pending and self.settings.redis_bgsave and backend.name == "redis":
                        backend.backup()
            done: list[tuple[Plan, list[Applied]]] = []
            for backend, plan in plans:
                done.append((plan, []))
                with Monitor(backend.name, self.settings.progress_interval) as monitor:
                    if plan.pending:
                        backend.prepare()
                    for m in plan.pending:
                        with monitor.watch(f"{m.label} {m.description}", partial(backend.describe, m)):
                            applied = self._apply(backend, m)
                        done[-1][1].append(applied)
                        self.report.applied(backend.name, m, applied)
                        log.info(backend.name, f"applied {m.label} {m.description} ({applied.execution_ms} ms)",
                                 version=m.version, script=m.script, execution_ms=applied.execution_ms)
                    # Even with nothing applied: a killed earlier run may have left an index populating.
                    with monitor.watch("waiting for indexes", backend.describe_finish):
                        backend.finish(self.settings.index_timeout)
                log.info(backend.name, f"up to date: {len(plan.pending)} applied, "
                         f"{len(plan.of('Applied'))} already applied")
            return done

    @staticmethod
    def _apply(backend: Backend, migration: Migration) -> Applied:
        """One migration under the lock: never started once the lease is known lost, and a failure
        after the lease ran out is reported as the lost lock (another runner's work may be why)."""
        backend.fence()
        try:
            return backend.apply(migration)
        except MigrationFailed as e:
            raise backend.lost_lock() or e from None

    def down(self, to: str) -> None:
        """Postgres: run down scripts newer than `to`, newest first, each with its history row."""
        if self.settings.postgres is None:
            raise ConfigError(f"down needs PostgreSQL; set {VARIABLES['postgres']}")
        target = files.version_key("postgres", _version("postgres", to))
        catalog = self.catalog()
        with self.connected(["postgres"]) as (backend,), backend.lock(self.settings.lock_timeout):
            plan = reconcile("postgres", catalog.migrations["postgres"], backend.history())
            undo = [e for e in reversed(plan.entries) if e.applied is not None and e.version != files.INIT_VERSION
                    and files.version_key("postgres", e.version) > target]
            problems = [Problem(e.migration.path if e.migration else None,
                                f"{e.label} has no down file (-down.sql); nothing was reverted")
                        for e in undo if e.migration is None or e.migration.down is None]
            if problems:
                raise InvalidMigrations(problems)
            downs = [(e.migration, files.down_of(e.migration)) for e in undo]
            content.check([d for _, d in downs])
            for m, d in downs:
                start = time.perf_counter()
                backend.revert(m, d)
                log.info("postgres", f"reverted {m.label} {m.description} ({(time.perf_counter() - start) * 1000:.0f} ms)")
            if not downs:
                log.info("postgres", f"nothing applied above {to}; nothing reverted")

    def baseline(self, db: str, to: str) -> None:
        """Record migrations up to `to` as applied without running them (adopting an existing database)."""
        target = files.version_key(db, _version(db, to))
        if db not in self.settings.configured():
            raise ConfigError(f"{db} is not configured; set {VARIABLES[db]}")
        catalog = self.catalog()
        with self.connected([db]) as (backend,), backend.lock(self.settings.lock_timeout):
            backend.prepare()
            history = backend.history()
            known = {a.version for a in history}
            chosen = [m for m in catalog.migrations[db] if m.key <= target and m.version not in known]
            if not history and db in catalog.init:
                chosen.insert(0, catalog.init[db])  # an adopted database already has its baseline
            now = datetime.now(timezone.utc)
            for m in chosen:
                backend.record(Applied(m.version, m.description, m.script, m.checksum, now, 0, True))
                log.info(db, f"baselined {m.label} {m.description} (recorded as applied, not run)")
            if not chosen:
                log.info(db, f"nothing to baseline up to {to}")

    def repair(self) -> None:
        """Re-sync stored checksums with the files and clear failed marks, after a person fixed things."""
        catalog = self.catalog()
        with self.connected(self.settings.configured()) as backends, ExitStack() as locks:
            for b in backends:
                locks.enter_context(b.lock(self.settings.lock_timeout))
            for backend, plan in self._plans(catalog, backends):
                for e in plan.of("Changed"):
                    backend.set_checksum(e.version, e.migration.checksum)
                    log.info(plan.db, f"repaired {e.label}: stored checksum now matches {e.migration.script}")
                for e in plan.of("Failed"):
                    backend.forget(e.version)
                    log.info(plan.db, f"repaired {e.label}: failed mark cleared; the next migrate runs it again")
                if not plan.of("Changed") and not plan.of("Failed"):
                    log.info(plan.db, "nothing to repair")

    def new(self, db: str, description: str, today: date | None = None) -> list:
        directory = self.settings.migrations
        catalog = files.discover(directory) if directory.is_dir() else Catalog({d: [] for d in files.DATABASES}, {})
        try:
            paths = files.new_paths(directory, catalog, db, description, today or date.today())
        except ValueError as e:
            raise UsageError(str(e)) from None
        directory.mkdir(parents=True, exist_ok=True)
        for path in paths:
            comment = "#" if db == "redis" else "//" if db == "neo4j" else "--"
            path.write_text(f"{comment} {description}\n", encoding="utf-8")
            log.info(db, f"created {path}")
        return paths


def _version(db: str, text: str) -> str:
    try:
        return files.normalise_version(db, text)
    except ValueError as e:
        raise UsageError(str(e)) from None
