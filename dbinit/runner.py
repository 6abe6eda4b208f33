"""Orders the work: settings → files → wait → lock → plan → apply → report. Logs, never prints or exits."""
from __future__ import annotations

from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Mapping

from . import (archive, audit, content, drift, files, hooks, integrity, log, placeholders, readiness, registry, retry,
               reverting, schema_files, skeleton, targets, telemetry)
from .contract import Backend, BacksUp, Creates, Describes, Finishes, Groups, Prechecks, Scripts
from .description import Comparison
from .errors import (ConfigError, DbinitError, InvalidMigrations, NotReady, PreconditionFailed, Problem,
                     UsageError)
from .files import Catalog
from .history import Applied
from .migration import INIT_VERSION, Migration, versioned
from .peers import Peer
from .plan import Entry, Plan, State, reconcile, to_baseline, to_revert, to_roll_back
from .progress import Monitor
from .report import RunReport
from .settings import Settings


class Runner:
    def __init__(self, settings: Settings, report: RunReport | None = None, announce: bool = True,
                 said: log.Once | None = None):
        self.settings = settings
        self.report = report or RunReport()
        audit.begin(self.report.run_id)
        # Runs of many targets (a fleet's tenants) share `said`: a file's finding is said once, and
        # which databases they wait for is said by the fleet (`announce`).
        self.announce = announce
        self.said = said or log.Once()
        self.drifts: list[Comparison] = []  # what status, and check --drift, found of each schema

    def files(self) -> Catalog:
        """The migration files; none at all is a mistake (a volume mounted at another path) unless
        the settings say none is expected."""
        catalog = files.discover(self.settings.migrations, self.settings.init)
        if not catalog.all() and not self.settings.allow_empty:
            raise InvalidMigrations([Problem(self.settings.migrations, (
                "holds no migration files: is the volume or ConfigMap mounted at another path? (DBINIT_MIGRATIONS "
                "names the directory; DBINIT_ALLOW_EMPTY=true when no files are expected)"))])
        return catalog

    def catalog(self) -> Catalog:
        """The migration files, refusing files for a database that is not configured."""
        catalog = self.files()
        configured = self.settings.configured()
        for db in catalog.databases():
            if db not in configured:
                example = (catalog.migrations[db] or [catalog.init[db]])[0].path
                raise ConfigError(f"there are {db} migrations ({example}) but {db} is not configured; "
                                  f"set {registry.get(db).variables}")
        return catalog

    @contextmanager
    def connected(self, dbs: list[str], create: bool | None = None) -> Iterator[list[Backend]]:
        """Backends for `dbs`, each answering real queries, closed afterwards; `create` (by default
        DBINIT_CREATE_DATABASE): a missing database is made first."""
        for database in registry.databases() if self.announce else []:
            if database.name in dbs:
                log.info(database.name, f"waiting for {self.settings.of(database.name).display()}")
            elif database.name not in self.settings.configured():
                log.info(database.name, f"not configured ({database.variables} unset): skipped")
                self.report.skipped(database.name)
        backends = [registry.get(db).open(self.settings.of(db), self.settings.lock_lease) for db in dbs]
        try:
            readiness.wait(backends, self.settings.wait_timeout, self.report.ready,
                           self.settings.create_database if create is None else create)
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

    @contextmanager
    def locked(self, backends: list[Backend]) -> Iterator[None]:
        """Every backend's migration lock held, in the order of applying; all released after,
        whatever happens (neo4j-migrations' executeWithinLock)."""
        with ExitStack() as locks:
            for b in backends:
                with telemetry.span(f"lock {registry.get(b.name).system}", b.name):
                    waited = locks.enter_context(b.lock(self.settings.lock_timeout))
                self.report.locked(b.name, waited)
            yield

    def wait(self) -> None:
        with self.connected(self.settings.configured()):
            pass

    def create(self) -> None:
        """Every configured database made where the server has not got it, then waited for as `wait` does."""
        with self.connected(self.settings.configured(), create=True) as backends:
            for b in backends:
                if isinstance(b, Creates):
                    log.info(b.name, f"the database {b.database()} is there")
                else:
                    log.info(b.name, "nothing to create: the server's databases are always there")

    def drop(self, db: str, confirm: str) -> None:
        """Remove a database for a fresh start on a laptop: only when `confirm` names it as the settings do."""
        if db not in self.settings.configured():
            raise ConfigError(f"{db} is not configured; set {registry.get(db).variables}")
        backend = registry.get(db).open(self.settings.of(db), self.settings.lock_lease)
        try:
            if not isinstance(backend, Creates):
                raise UsageError(f"dbinit drop: {registry.get(db).title} has no database dbinit can drop")
            if confirm != backend.database():
                raise UsageError(f"dbinit drop: --confirm {confirm!r} is not the database {db} is set to "
                                 f"({backend.database()}); nothing was dropped")
            dropped = backend.drop(self.settings.wait_timeout)
        finally:
            backend.close()
        log.info(db, f"dropped the database {confirm}" if dropped else f"there is no database {confirm}: nothing to drop")

    def _intact(self, catalog: Catalog) -> Catalog:
        integrity.check(self.settings.migrations, catalog, self.settings.require_sum)
        return catalog

    def validate(self, servers: bool = False) -> content.Report:
        """The files checked offline; with `servers`, also by each configured server that can
        judge them (Neo4j plans every statement), without a lock and changing nothing."""
        values = self.settings.placeholders
        catalog = self._intact(self.files()).filled(values)
        report = content.check(catalog.all(), lint=self.settings.lint, placeholders=values)
        for m in report.empty:
            log.info(m.db, f"{m.path}: has no statements; it is valid and is recorded when applied")
        self._log_findings("validate", report)
        reachable = [db for db in catalog.databases() if servers and db in self.settings.configured()]
        for database in registry.databases():
            if database.server_check and database.name in catalog.databases() and database.name not in reachable:
                log.info("validate", f"{database.name}: {database.server_check} was skipped; it runs with "
                         f"--servers and {database.variables} set")
        guarded = {m.db for m in catalog.all() if m.preconditions}
        for database in registry.databases():
            if database.name in reachable and not database.server_check and database.name not in guarded:
                log.info("validate", f"{database.name}: the server has no check of its own to add: its files were "
                         "checked offline by its own parser, as without --servers")
        if reachable:
            with self.connected(reachable) as backends:
                for backend in backends:
                    if isinstance(backend, Prechecks):
                        backend.precheck([m for m in catalog.all() if m.db == backend.name])
                    _ask_now(backend, [m for m in catalog.all() if m.db == backend.name])
        log.info("validate", f"{report.checked} migration files are valid")
        return report

    def _log_findings(self, source: str, report: content.Report) -> None:
        skipped = ("the lint of blocking DDL was skipped: squawk is not installed (pip install 'dbinit[lint]'; "
                   "DBINIT_LINT=off to silence this)")
        for level, line in [*((log.warn, str(w)) for w in report.warnings),
                            *([(log.info, skipped)] if report.lint_skipped else [])]:
            if self.said.first(line):
                level(source, line)

    def _plans(self, catalog: Catalog, backends: list[Backend], post_deploy: bool = False,
               upto: Mapping[str, str | None] | None = None) -> list[tuple[Backend, Plan]]:
        return [(b, self._reconcile(catalog, b, post_deploy, (upto or {}).get(b.name))) for b in backends]

    def _reconcile(self, catalog: Catalog, backend: Backend, post_deploy: bool = False,
                   upto: str | None = None) -> Plan:
        db = backend.name
        return reconcile(db, catalog.migrations[db], backend.history(), catalog.init.get(db), post_deploy, upto,
                         catalog.checkpoints.get(db, []) if self.settings.checkpoints else [])

    def _state(self, catalog: Catalog) -> Catalog:
        """The files as far as their state needs them: a repeatable file whose checksum covers its
        placeholders' values is filled; the others' checksums are of the file as written."""
        return catalog.filled(self.settings.placeholders, only=placeholders.checksummed)

    def status(self) -> list[Plan]:
        """Files versus history, and each schema against its record (`drifts`)."""
        catalog = self._state(self.catalog())
        with self.connected(self.settings.configured()) as backends:
            pairs = self._plans(catalog, backends)
            for db, said in self._unadopted(catalog, pairs):  # its Pending rows ran under the other tool
                log.warn(db, said)
            self._compare(backends)
        return [plan for _, plan in pairs]

    def _compare(self, backends: list[Backend]) -> None:
        self.drifts = drift.comparisons(backends)
        drift.announce(self.drifts, self.report)

    def _checked(self, pairs: list[tuple[Backend, Plan]]) -> list[Plan]:
        """The plans (of the databases that have files), refused as `migrate` would refuse them."""
        plans = [plan for _, plan in pairs]
        for plan in plans:
            plan.check(self.settings.out_of_order)
        return plans

    def check(self, schemas: bool = False) -> list[Plan]:
        """Files versus history without the lock and without writing: what `migrate` would do; with
        `schemas`, each schema against its record too (`drifts`)."""
        catalog = self._state(self._intact(self.catalog()))
        with self.connected(self.settings.configured()) as backends:
            pairs = self._plans(catalog, [b for b in backends if b.name in catalog.databases()])
            self._refuse_unadopted(catalog, pairs)
            plans = self._checked(pairs)
            if schemas:
                self._compare(backends)
        for plan in plans:
            self.report.pending(plan.db, plan.pending, plan.deferred)
        return plans

    def wait_migrated(self) -> None:
        """Until nothing is pending (migrated elsewhere: a Job, a Helm hook), or the deadline:
        NotReady naming what is still pending. No lock, no writes; the history is read again every
        half second over the same connections, with a progress line every few seconds."""
        catalog = self._state(self.catalog())
        with self.connected(self.settings.configured()) as backends:
            pending: list[str] = []

            def up_to_date() -> bool | None:
                pairs = self._plans(catalog, [b for b in backends if b.name in catalog.databases()])
                pending[:] = [f"{p.db} {m.label}" for p in self._checked(pairs) for m in p.pending]
                return None if pending else True

            def waiting(elapsed: float) -> None:
                log.info("dbinit", f"waiting for migrations applied elsewhere; pending: {', '.join(pending[:10])}")

            if retry.poll(up_to_date, self.settings.wait_timeout, first=0.5, most=0.5, jitter=False,
                          waiting=waiting) is None:
                raise NotReady(f"still pending after {self.settings.wait_timeout:g} s (DBINIT_WAIT_TIMEOUT): "
                               + ", ".join(pending))
            log.info("dbinit", "every configured database is up to date with the migrations")

    def _pending(self, catalog: Catalog, backends: list[Backend], post_deploy: bool,
                 upto: Mapping[str, str | None] | None = None) -> list[tuple[Backend, Plan]]:
        """The plans, and in the run report what they leave pending."""
        plans = self._plans(catalog, backends, post_deploy, upto)
        for _, plan in plans:
            self.report.pending(plan.db, plan.pending, plan.deferred)
        return plans

    def _refuse(self, plans: list[Plan]) -> None:
        """The checks that need no server, before any lock is taken: a broken file stops every
        replica at once rather than after its turn at the lock. Down files are not run here."""
        for plan in plans:
            plan.check(self.settings.out_of_order)
        self._log_findings("dbinit", content.check([m for plan in plans for m in plan.pending], downs=False,
                                                   lint=self.settings.lint))

    def migrate(self, dry_run: bool = False, post_deploy: bool = False, to: list[str] | None = None,
                script: Callable[[str], None] | None = None) -> list[tuple[Plan, list[Applied]]]:
        """Apply what is pending; each database's plan (as found under the lock) and what was applied.
        Pending post-deploy files are left for a run with `post_deploy` (but on a new database); `to`
        (VERSION or DATABASE=VERSION) stops a database at that version. A dry run hands `script`
        what each database would be sent."""
        catalog = self._intact(self.catalog()).filled(self.settings.placeholders)
        upto = targets.parse(to, catalog.databases()) if to else {}
        with self.connected(self.settings.configured()) as backends, ExitStack() as held:
            active = [b for b in backends if b.name in catalog.databases()]
            # Read without the locks first: history rows are written only with their migration's
            # commit, so if nothing is pending now, nothing is; the replicas of a deploy then
            # neither queue for the lock nor write to take it.
            plans = self._pending(catalog, active, post_deploy, upto)
            self._refuse_unadopted(catalog, plans)
            targets.check(catalog, [plan for _, plan in plans], upto)
            self._refuse([plan for _, plan in plans])
            if ungroupable := [p for b, plan in plans if isinstance(b, Groups) and b.grouping
                               for p in b.ungroupable(plan.pending)]:
                raise InvalidMigrations(ungroupable)
            if not dry_run and any(plan.pending for _, plan in plans):
                held.enter_context(self.locked(active))
                # Decided again under the locks: a runner that waited finds nothing pending. What
                # is pending now is a part of what passed the checks above.
                plans = self._pending(catalog, active, post_deploy, upto)
                for _, plan in plans:
                    plan.check(self.settings.out_of_order)
            for _, plan in plans:
                for e in plan.of(State.MISSING):
                    log.warn(plan.db, f"{e.label} {e.description} is applied but its file is missing")
                if plan.deferred:
                    log.info(plan.db, "left for the post-deploy run (dbinit migrate --post-deploy): "
                             + ", ".join(f"{m.label} {m.description}" for m in plan.deferred))
            for backend, plan in plans:
                if plan.pending and isinstance(backend, Prechecks):
                    backend.precheck(plan.pending)
            drifts = {} if dry_run else drift.before_applying([b for b, p in plans if p.pending], self.settings.drift,
                                                               self.report)
            if dry_run:
                self._show(plans)
                if script is not None:
                    script(_script(plans))
                return [(p, []) for _, p in plans]
            if any(plan.pending for _, plan in plans):
                self._before_first([(b, p) for b, p in plans if p.pending])
            done = [self._apply_plan(catalog, backend, plan, drifts.get(backend.name)) for backend, plan in plans]
            if self.settings.after_migrate and any(records for _, records in done):
                with telemetry.span("hook DBINIT_AFTER_MIGRATE"):
                    hooks.after_migrate(self.settings.after_migrate, [p for p, _ in done], [r for _, r in done],
                                        self.report.run_id)
            if self.settings.schema_on_migrate:
                schema_files.write(self.settings.schema_dir, drift.descriptions(backends))
            return done

    @staticmethod
    def _show(plans: list[tuple[Backend, Plan]]) -> None:
        for backend, plan in plans:
            for m in plan.pending:
                log.info(plan.db, f"would apply {m.label} {m.description}{_kind(m, plan)} ({m.path})")
            if plan.pending and isinstance(backend, Groups) and backend.grouping:
                log.info(plan.db, "would apply them in one transaction (post-deploy files in one of their own)")
            if not plan.pending:
                log.info(plan.db, "up to date; nothing would be applied")

    def _before_first(self, changing: list[tuple[Backend, Plan]]) -> None:
        """Under the locks, before the first pending migration: the user's hook, then each
        database's own backup."""
        if self.settings.before_migrate:
            with telemetry.span("hook DBINIT_BEFORE_MIGRATE"):
                hooks.before_migrate(self.settings.before_migrate, [plan for _, plan in changing], self.report.run_id)
        for backend, _ in changing:
            if isinstance(backend, BacksUp):
                backend.backup()

    def _apply_plan(self, catalog: Catalog, backend: Backend, plan: Plan,
                    before: Comparison | None = None) -> tuple[Plan, list[Applied]]:
        """Every pending file in order; the plan as it ends, and what was applied; the schema recorded
        after, keeping what had drifted `before`."""
        done: list[Applied] = []
        already = len(plan.of(State.APPLIED))
        changing = [(backend, drift.what("migrate", [m.label for m in plan.pending]))] if plan.pending else []
        changing = changing if self._records else []
        with Monitor(backend.name, self.settings.progress_interval) as monitor, \
                drift.recorded(changing, {backend.name: before} if before else {}):
            if plan.pending:
                backend.prepare()
            queue = plan.pending
            grouping = isinstance(backend, Groups) and backend.grouping
            while queue:
                if grouping and queue[0].version != INIT_VERSION:
                    batch = _one_phase(queue)
                    del queue[:len(batch)]
                    with monitor.watch(f"{len(batch)} files in one transaction", partial(backend.describe, batch[0])
                                       if isinstance(backend, Describes) else _silent), _traced(backend, batch):
                        done += self._apply_all(backend, batch, plan)
                    continue
                m = queue.pop(0)
                describe = partial(backend.describe, m) if isinstance(backend, Describes) else _silent
                with monitor.watch(f"{m.label} {m.description}", describe), _traced(backend, [m]):
                    applied = self._apply(backend, m)
                done.append(applied)
                self._applied(backend, m, applied, plan)
                if m.version == INIT_VERSION and queue:
                    # A baseline script may bring the history of the database it was dumped from: what
                    # is pending is decided again (and refused again, for a file changed since).
                    (_, plan), = self._pending(catalog, [backend], plan.post_deploy, {plan.db: plan.upto})
                    plan.check(self.settings.out_of_order)
                    queue, already = plan.pending, len(plan.of(State.APPLIED)) - len(done)
            if isinstance(backend, Finishes):
                with monitor.watch(backend.finishing, backend.describe_finish):
                    backend.finish(self.settings.index_timeout)
        log.info(backend.name, f"up to date: {len(done)} applied, {already} already applied")
        return plan, done

    def _apply_all(self, backend: Backend, batch: list[Migration], plan: Plan) -> list[Applied]:
        """Pending files of one phase in one transaction (a backend that `Groups`, asked to)."""
        assert isinstance(backend, Groups)
        log.info(backend.name, f"applying {len(batch)} file(s) in one transaction: {batch[0].label} to "
                 f"{batch[-1].label}{' (post-deploy)' if batch[0].post_deploy else ''}")
        self.report.one_transaction(backend.name)
        with backend.under_lease():
            _require(backend, batch)  # as the database is before the transaction: all of them, or none
            records = backend.apply_all(batch)
        for m, applied in zip(batch, records):
            self._applied(backend, m, applied, plan)
        return records

    def _applied(self, backend: Backend, m: Migration, applied: Applied, plan: Plan) -> None:
        self.report.applied(backend.name, m, applied)
        log.info(backend.name, f"applied {m.label} {m.description}{_kind(m, plan)} ({applied.execution_ms} ms)",
                 version=m.version, script=m.script, execution_ms=applied.execution_ms, phase=m.phase)

    @staticmethod
    def _apply(backend: Backend, migration: Migration) -> Applied:
        """One migration under the lock: never started once the lease is known lost, nor when one of
        its preconditions is not met; a failure after the lease ran out is reported as the lost lock
        (another runner's work may be why)."""
        with backend.under_lease():
            _require(backend, [migration])
            return backend.apply(migration)

    def down(self, to: list[str]) -> None:
        """Run down scripts newer than each target, newest first, each with its history record, in
        every configured database whose files have down scripts (`to`: VERSION or DATABASE=VERSION)."""
        able = [d for d in registry.databases() if d.naming.down_suffix]  # databases whose files have downs
        dbs = [d.name for d in able if d.name in self.settings.configured()]
        if not dbs:
            raise ConfigError(f"down needs {' or '.join(d.title for d in able)}; set "
                              f"{' or '.join(d.variables for d in able)}")
        wanted = targets.parse(to, dbs)
        catalog = self.catalog()
        with self.connected(list(wanted)) as backends, self.locked(backends):
            plans = [(b, self._reconcile(catalog, b)) for b in backends]
            for b, plan in plans:
                if wanted[b.name] != "0":  # 0: every migration
                    targets.among(b.name, wanted[b.name], {e.version: e.label for e in plan.entries
                                                           if versioned(e.version)}, "the files or the history")
            work = [(b, to_revert(plan, wanted[b.name])) for b, plan in plans]
            if made := [e for _, entries in work for e in entries if e.checkpointed]:
                raise InvalidMigrations([Problem(None, (
                    f"down --to: {made[0].db} {', '.join(e.label for e in made[-3:])}{' …' if len(made) > 3 else ''} "
                    f"came from the checkpoint {made[0].applied.script if made[0].applied else ''}, not from their own "
                    "files, so nothing at or below it is reverted (a down script undoes what its file did on a "
                    "database that ran it); restore a backup, or make the database again. Nothing was reverted"))])
            changing = _reverting("down", work) if self._records else []
            with drift.recorded(changing, self._before([b for b, entries in work if entries])):
                reverting.revert(work, self.report, self.settings.placeholders)

    def rollback(self) -> None:
        """Revert, newest first, every applied migration whose file this image does not have (a newer
        release's, after its image was rolled back), from the down scripts kept in the history."""
        catalog = self.catalog()
        with self.connected(self.settings.configured()) as backends, self.locked(backends):
            work = [(b, to_roll_back(self._reconcile(catalog, b))) for b in backends]
            changing = _reverting("rollback", work) if self._records else []
            with drift.recorded(changing, self._before([b for b, entries in work if entries])):
                reverting.revert(work, self.report, self.settings.placeholders)

    @property
    def _records(self) -> bool:
        """Whether work that changes schemas records them after it: not with DBINIT_DRIFT=off (a drift
        neither checked nor recorded; describing a schema costs more than applying a small file)."""
        return self.settings.drift != "off"

    def _before(self, backends: list[Backend]) -> dict[str, Comparison]:
        """Each schema against its record before reverting, so that a drift outlives the revert's record."""
        return {} if self.settings.drift == "off" else {c.db: c for c in drift.comparisons(backends)}

    def baseline(self, to: list[str] | None = None, tool: str | None = None) -> None:
        """Record migrations as applied without running them (adopting an existing database): up to
        each target of `to` (VERSION or DATABASE=VERSION), or exactly what another tool's history
        says it applied (`tool`: golang-migrate, dbmate, flyway)."""
        catalog = self.catalog()
        if tool is not None:
            if to:
                raise UsageError("baseline: --from takes the versions from the other tool's history; leave out --to")
            peer = registry.peer(tool)
            wanted: dict[str, str | None] = {peer.database: None}
        elif to:
            dbs = [db for db in catalog.databases() if db in self.settings.configured()] or self.settings.configured()
            wanted, typed = {}, {}  # the canonical versions, and each as given (for messages)
            for text in to:
                for db, version in targets.parse([text], dbs).items():
                    wanted[db], typed[db] = version, text.rpartition("=")[2]
        else:
            raise UsageError("baseline: give --to [DATABASE=]VERSION, or --from TOOL to adopt what another tool applied")
        for db, target in wanted.items():
            if db not in self.settings.configured():
                raise ConfigError(f"{db} is not configured; set {registry.get(db).variables}")
            if target is not None:
                targets.among(db, target, {m.version: m.label for m in catalog.migrations[db] if versioned(m.version)},
                              given=typed[db])
        with self.connected(list(wanted)) as backends, self.locked(backends):
            for backend in backends:
                db, history = backend.name, backend.history()
                if tool is None:
                    target = wanted[db]
                    assert target is not None
                    chosen = to_baseline(catalog.migrations[db], history, catalog.init.get(db), target)
                else:
                    chosen = self._adopted(peer, backend, catalog)
                    if not history and db in catalog.init:
                        chosen.insert(0, catalog.init[db])
                backend.prepare()
                now = datetime.now(timezone.utc)
                known = {a.version for a in history}
                for m in [m for m in chosen if m.version not in known]:
                    backend.record(Applied(m.version, m.description, m.script, m.checksum, now, 0, True, baselined=True))
                    log.info(db, f"baselined {m.label} {m.description} (recorded as applied, not run)")
                if not chosen:
                    log.info(db, f"nothing to baseline up to {typed[db]}" if tool is None else "nothing to baseline")
                elif self._records:  # the schema it has is the one these migrations made
                    drift.record(backend, drift.what("baseline", [m.label for m in chosen]))

    @staticmethod
    def _adopted(peer: Peer, backend: Backend, catalog: Catalog) -> list[Migration]:
        """The files another tool's history says it applied; refused when it is unsure (a failed
        migration) or names a version no file has."""
        found = peer.history(backend, catalog.migrations[backend.name])
        if found is None:
            raise ConfigError(f"there is no {peer.title} history in this database ({backend.name}); dbinit baseline "
                              f"--to {backend.name}=VERSION records the files up to VERSION instead")
        if found.refused:
            raise ConfigError(found.refused)
        if found.unknown:
            raise ConfigError(f"{found.table} says {peer.title} applied {', '.join(found.unknown)}, and no file here "
                              f"has that version: import the folder of the release that applied it (dbinit import "
                              f"{peer.name}); nothing was recorded")
        for warning in found.warnings:
            log.warn(backend.name, warning)
        log.info(backend.name, f"{peer.title}'s history {found.table}: {found.summary}")
        return [m for m in catalog.migrations[backend.name] if m.version in set(found.versions)]

    def _unadopted(self, catalog: Catalog, plans: list[tuple[Backend, Plan]]) -> list[tuple[str, str]]:
        """Each database another tool migrated and dbinit never saw, said with the command that
        adopts it: its files would run again over what is there (`extension already exists`)."""
        if self.settings.peer_history == "ignore":
            return []
        found = []
        for backend, plan in plans:
            if any(e.applied for e in plan.entries):
                continue
            for peer in registry.get(backend.name).peers:
                if (history := peer.history(backend, catalog.migrations[backend.name])) is not None:
                    found.append((backend.name, (
                        f"{history.table} holds {peer.title}'s history ({history.summary}) and dbinit has none here: "
                        f"{peer.title} migrated this database, and its files would run again over what is there. Adopt "
                        f"it first: dbinit baseline --from {peer.name} (records what {peer.title} applied, runs "
                        "nothing); DBINIT_PEER_HISTORY=ignore if that table is another application's")))
        return found

    def _refuse_unadopted(self, catalog: Catalog, plans: list[tuple[Backend, Plan]]) -> None:
        if found := self._unadopted(catalog, plans):
            db, said = found[0]
            raise ConfigError(f"{db}: {said}. Nothing was run")

    def repair(self) -> None:
        """Re-sync stored checksums with the files and clear failed marks, after a person fixed things."""
        catalog = self.catalog()
        with self.connected(self.settings.configured()) as backends, self.locked(backends):
            plans = self._plans(catalog, backends)
            if refused := [problem for _, plan in plans for problem in plan.unrepairable()]:
                raise InvalidMigrations(refused)
            for backend, plan in plans:
                for e in plan.needs_repair:
                    if e.state is State.CHANGED and e.migration is not None:
                        backend.set_checksum(e.version, e.migration.checksum)
                        log.info(plan.db, f"repaired {e.label}: stored checksum now matches {e.migration.script}")
                for e in plan.of(State.FAILED):
                    backend.forget(e.version)
                    log.info(plan.db, f"repaired {e.label}: failed mark cleared; the next migrate runs it again")
                if not plan.needs_repair:
                    log.info(plan.db, "nothing to repair")

    def new(self, db: str, description: str, now: datetime | None = None, post_deploy: bool = False,
            repeatable: bool = False) -> list[Path]:
        directory = archive.writable(self.settings.migrations, "new")
        catalog = files.discover(directory, self.settings.init) if directory.is_dir() else Catalog.empty()
        try:
            paths = files.new_paths(directory, catalog, db, description, now or datetime.now(timezone.utc), repeatable)
        except ValueError as e:
            raise UsageError(str(e)) from None
        directory.mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(paths):  # the up file first; a down file takes its phase
            path.write_text(skeleton.text(db, description, post_deploy and i == 0), encoding="utf-8")
            log.info(db, f"created {path}")
        if (directory / integrity.NAME).is_file():
            self.hash()
        return paths

    def hash(self) -> Path:
        """Write the integrity file of the migrations as they are."""
        catalog = files.discover(archive.writable(self.settings.migrations, "hash"), self.settings.init)
        path = integrity.write(self.settings.migrations, catalog)
        log.info("dbinit", f"wrote {path} ({len(catalog.all())} migrations)")
        return path


def _script(plans: list[tuple[Backend, Plan]]) -> str:
    """Every database's script, in the order of applying, each under a heading in its own comments."""
    parts = []
    for backend, plan in plans:
        comment = registry.get(plan.db).comment
        parts.append(f"{comment} ==== {registry.get(plan.db).title}: {len(plan.pending)} migration(s) ====")
        if plan.pending and isinstance(backend, Scripts):
            parts += backend.script(plan.pending)
        elif plan.pending:
            parts.append(f"{comment} (this database cannot show its statements)")
    return "\n".join(parts) + "\n"


@contextmanager
def _traced(backend: Backend, migrations: list[Migration]) -> Iterator[None]:
    """A span around applying `migrations` (one, or a transaction of many), and each failure counted."""
    first, last = migrations[0], migrations[-1]
    about: dict[str, str | int | None] = {}
    if telemetry.on():
        about = {"dbinit.migration.version": first.label if first is last else f"{first.label}..{last.label}",
                 "dbinit.migration.file": first.script if first is last else None,
                 "dbinit.migration.description": first.description if first is last else None,
                 "dbinit.migration.phase": first.phase, "dbinit.migration.files": len(migrations),
                 "dbinit.migration.statements": sum(len(registry.get(m.db).parse(m)) for m in migrations)}
    try:
        with telemetry.span(f"migrate {registry.get(backend.name).system} {about.get('dbinit.migration.version')}",
                            backend.name, **about) as note:
            yield
            note(**{"dbinit.migration.outcome": "applied"})
    except BaseException:
        for m in migrations:
            telemetry.failed(backend.name, m.phase)
        raise


def _ask_now(backend: Backend, migrations: list[Migration]) -> None:
    """`validate --servers`: each precondition's answer as the database is now, read-only. Not an
    error when not met: the files before it may be what makes it true."""
    for m in migrations:
        for condition in m.preconditions:
            answer = backend.ask(condition.query)
            (log.info if answer.holds else log.warn)("validate", (
                f"{m.path}:{condition.line}: precondition {'met' if answer.holds else 'not met'} now "
                f"({condition.query} returned {answer.said}); it is asked again under the locks before the file runs"))


def _require(backend: Backend, migrations: list[Migration]) -> None:
    """Each file's preconditions asked, in order: PreconditionFailed at the first not met."""
    for m in migrations:
        for condition in m.preconditions:
            answer = backend.ask(condition.query)
            if not answer.holds:
                raise PreconditionFailed(backend.name, m.path, condition.line, (
                    f"precondition not met: {condition.query} returned {answer.said}; nothing of this file or after "
                    "it was applied"))
            log.info(backend.name, f"{m.label}: precondition met at line {condition.line} ({condition.query})")


def _reverting(command: str, work: list[tuple[Backend, list[Entry]]]) -> list[tuple[Backend, str]]:
    return [(b, drift.what(command, [e.label for e in entries])) for b, entries in work if entries]


def _one_phase(queue: list[Migration]) -> list[Migration]:
    """The leading files of one phase: post-deploy files never share a transaction with pre-deploy ones."""
    n = next((i for i, m in enumerate(queue) if m.post_deploy != queue[0].post_deploy), len(queue))
    return queue[:n]


def _kind(m: Migration, plan: Plan) -> str:
    """What sort of file a log line names, when not a plain one."""
    if m.checkpoint:
        return f" (checkpoint: the schema as of {m.label}, in place of {len(plan.covered)} file(s))"
    return " (post-deploy)" if m.post_deploy else ""


def _silent(elapsed: float) -> None:
    return None
