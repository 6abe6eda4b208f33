"""A fleet: one set of files over many tenants (a PostgreSQL schema or database each), as a layer
above the run of one target. The shared migrations run first, as an ordinary run; then each tenant
of this process's share is a `Runner` of its own, with the settings its database's `Tenancy` gives
it (its history, and so its lock, of its own; `${tenant}`), at most DBINIT_PARALLEL at once, each on
one connection, one more listing and checking them. A tenant that fails is reported and the others
go on; the next run finishes what is left. Runner and the backends know nothing of fleets."""
from __future__ import annotations

import concurrent.futures as futures
import contextvars
import dataclasses
import functools
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from . import archive, files, integrity, log, placeholders, readiness, registry, retry
from .contract import Backend
from .description import Comparison
from .errors import ConfigError, DbinitError, InvalidMigrations, NotReady, Problem, TenantsFailed
from .files import Catalog
from .plan import Plan, reconcile
from .report import RunReport, error_detail
from .placeholders import Public
from .runner import Runner
from .settings import Settings
from .tenants import NAME, PLACEHOLDER, checked

# A tenant's run says nothing while a file runs long: describing it takes a second connection, and
# a fleet's bound is one connection a tenant. The fleet's own line names what is still running.
_QUIET = 10.0 ** 6


@dataclass
class Outcome:
    """What became of one tenant: applied, up to date, pending, failed or not attempted."""

    tenant: str
    state: str
    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    plans: list[Plan] = field(default_factory=list)
    drifts: list[Comparison] = field(default_factory=list)  # its schema against its record (status, check --drift)

    def document(self) -> dict[str, Any]:
        return {"state": self.state, "applied": self.applied, "pending": self.pending, "error": self.error}


class FleetRunner:
    def __init__(self, settings: Settings, report: RunReport):
        assert settings.fleet is not None
        self.settings, self.report, self.fleet = settings, report, settings.fleet
        able = [d for d in registry.databases() if d.tenancy and self.fleet.kind in d.tenancy.kinds]
        self.database = able[0]
        tenancy = self.database.tenancy
        assert tenancy is not None
        self.tenancy = tenancy
        if self.database.name not in settings.configured():
            title = self.database.title
            raise ConfigError(f"a fleet's tenants are {title} {self.fleet.kind}s, and {title} is not configured; "
                              f"set {self.database.variables}")
        # The shared part may have no files of its own: the tenants' are the point of the run.
        self.offline = Runner(dataclasses.replace(settings, allow_empty=True, fleet=None), report)
        self.outcomes: dict[str, Outcome] = {}
        self.said = log.Once()  # the tenants' files' findings, each said once

    @functools.cached_property
    def shared(self) -> Runner:
        """The shared part's run, which knows the tenants its database's description leaves out: the
        ones listed before it runs (its migrations may make the registry a query reads: then none)."""
        db = self.database.name
        known: list[str] = list(self.fleet.names or ())
        if self.fleet.query is not None:
            with self.session() as session:
                try:
                    known = [t for t in self.tenancy.listed(session, self.fleet.query) if NAME.fullmatch(t)]
                except ConfigError:  # not there yet: listed again, and refused if still failing, after it
                    known = []
        settings = self.offline.settings
        return Runner(dataclasses.replace(settings, databases={
            **settings.databases, db: self.tenancy.shared(settings.of(db), self.fleet.kind, known)}), self.report)

    # ---- the tenants

    def tenant_settings(self, tenant: str) -> Settings:
        db = self.database.name
        return dataclasses.replace(
            self.settings, migrations=self.fleet.migrations, init=self.fleet.migrations / "init", fleet=None,
            databases={db: self.tenancy.settings(self.settings.of(db), self.fleet.kind, tenant)},
            placeholders={**self.settings.placeholders, PLACEHOLDER: Public(tenant)}, progress_interval=_QUIET,
            report=None, schema_on_migrate=False, drift=self.fleet.drift)

    def files(self) -> Catalog:
        """The tenants' files: of the database that has tenants alone, and intact."""
        if not archive.is_dir(self.fleet.migrations):
            raise ConfigError(f"the tenants' migrations folder {self.fleet.migrations} is not there "
                              "(DBINIT_TENANT_MIGRATIONS; unset: tenant-migrations/ beside the migrations)")
        catalog = files.discover(self.fleet.migrations, self.fleet.migrations / "init")
        for db in catalog.databases():
            if db != self.database.name:
                other = (catalog.migrations[db] or [catalog.init[db]])[0].path
                title = self.database.title
                raise ConfigError(f"{other}: a fleet's tenants are {title} {self.fleet.kind}s, so their files are "
                                  f"{title}'s alone; {registry.get(db).title} files belong with the shared migrations "
                                  "(a tenant of its own there is not built)")
        if made := [m for ms in catalog.checkpoints.values() for m in ms]:
            raise InvalidMigrations([Problem(made[0].path, (
                "a checkpoint among a fleet's tenants' files: a checkpoint names the schema it was made in, every "
                "name qualified, and dbinit checkpoint makes one of the shared migrations alone; a new tenant runs "
                "the tenants' files"))])
        integrity.check(self.fleet.migrations, catalog, self.settings.require_sum)
        return catalog

    @contextmanager
    def session(self) -> Iterator[Backend]:
        """The one connection beside the tenants': to the configured database, to list and check them."""
        backend = self.database.open(self.settings.of(self.database.name), self.settings.lock_lease)
        try:
            readiness.wait([backend], self.settings.wait_timeout)
            yield backend
        finally:
            backend.close()

    def tenants(self, session: Backend) -> list[str]:
        """This process's tenants, each refused at once (78) where its database cannot have it."""
        if self.fleet.names is not None:
            names = self.fleet.names
        else:
            assert self.fleet.query is not None
            names = checked(self.tenancy.listed(session, self.fleet.query), "DBINIT_TENANTS_QUERY",
                            self.settings.allow_empty)
            if self.fleet.only is not None and self.fleet.only not in names:
                raise ConfigError(f"DBINIT_TENANT: {self.fleet.only} is not one of the tenants DBINIT_TENANTS_QUERY "
                                  "returns")
        mine = self.fleet.mine(names)
        for tenant in mine:
            self.tenancy.settings(self.settings.of(self.database.name), self.fleet.kind, tenant)
        share = f" (share {self.fleet.shard[0]} of {self.fleet.shard[1]})" if self.fleet.shard else ""
        log.info("fleet", f"{len(mine)} of {len(names)} tenants ({self.fleet.kind}s, from {self.fleet.source}){share}")
        return mine

    def listed(self) -> list[str]:
        """This process's tenants, their files checked first."""
        self.files()
        with self.session() as session:
            return self.tenants(session)

    def behind(self, session: Backend, catalog: Catalog, tenants: list[str], post_deploy: bool = False) -> list[str]:
        """The tenants that may have something to do, decided from the histories one session can read
        at once (a schema fleet's, in one query); a tenant it cannot read is behind until its own run
        says otherwise."""
        known, unread = self.read(session, catalog, tenants, post_deploy)
        return [t for t in tenants if t in known or t in unread]

    def read(self, session: Backend, catalog: Catalog, tenants: list[str],
             post_deploy: bool = False) -> tuple[set[str], set[str]]:
        """(the tenants whose histories, read at once, say they have something to do; those whose
        histories this session cannot read). The others are up to date, in `outcomes`."""
        db = self.database.name
        read = self.tenancy.histories(session, self.fleet.kind, tenants)
        known: set[str] = set()
        for tenant in [t for t in tenants if t in read]:
            values = {**self.settings.placeholders, PLACEHOLDER: Public(tenant)}
            state = catalog.filled(values, only=placeholders.checksummed)
            plan = reconcile(db, state.migrations[db], read[tenant], state.init.get(db), post_deploy, None,
                             state.checkpoints.get(db, []) if self.settings.checkpoints else [])
            if plan.pending or plan.needs_repair or any(e.state.failed for e in plan.entries):
                known.add(tenant)
            else:
                self.outcomes[tenant] = Outcome(tenant, "up to date")
        return known, {t for t in tenants if t not in read}

    # ---- running them

    def each(self, tenants: list[str], work: Callable[[Runner], Outcome], command: str) -> None:
        """`work` on each tenant's runner, at most DBINIT_PARALLEL at once; after
        DBINIT_TENANT_MAX_FAILURES failures no other starts. A line every few seconds says how far."""
        stop = threading.Event()
        failures = 0
        guard = threading.Lock()

        def one(tenant: str) -> Outcome:
            nonlocal failures
            if stop.is_set():
                return Outcome(tenant, "not attempted")
            runner = Runner(self.tenant_settings(tenant), RunReport(command=command, run_id=self.report.run_id), announce=False, said=self.said)
            with log.scoped(tenant=tenant):
                try:
                    outcome = work(runner)
                except DbinitError as e:
                    if isinstance(e, InvalidMigrations):
                        for problem in e.problems:
                            log.error("dbinit", str(problem), exit_code=e.exit_code)
                    else:
                        log.error(e.source, str(e), exit_code=e.exit_code)
                    outcome = Outcome(tenant, "failed", error={**error_detail(e), "exit_code": e.exit_code})
                except Exception as e:  # a server that went away mid-run: this tenant's failure
                    log.error("dbinit", f"{type(e).__name__}: {e}", exit_code=1)
                    outcome = Outcome(tenant, "failed", error={**error_detail(e), "exit_code": 1})
            said = runner.report.databases.get(self.database.name, {})
            outcome.applied = outcome.applied or [a["version"] for a in said.get("applied", [])]
            if outcome.state == "failed":  # what it had left when it stopped
                outcome.pending = [v for v in said.get("pending", []) if v not in outcome.applied]
            if outcome.state == "failed":
                with guard:
                    failures += 1
                    if self.fleet.max_failures is not None and failures >= self.fleet.max_failures:
                        stop.set()
            return outcome

        pool = futures.ThreadPoolExecutor(max_workers=self.fleet.parallel, thread_name_prefix="tenant")
        try:
            # Each tenant in a copy of this context: its lines mask this run's secrets.
            waiting = {pool.submit(contextvars.copy_context().run, one, t): t for t in tenants}
            while waiting:
                done, _ = futures.wait(waiting, timeout=self.settings.progress_interval,
                                       return_when=futures.ALL_COMPLETED)
                for f in done:
                    outcome = f.result()
                    self.outcomes[outcome.tenant] = outcome
                    del waiting[f]
                if waiting:
                    log.info("fleet", f"{len(tenants) - len(waiting)} of {len(tenants)} tenants done ({failures} "
                             f"failed); running or waiting: {', '.join(sorted(waiting.values())[:5])}"
                             + (" …" if len(waiting) > 5 else ""))
        except BaseException:
            # SIGTERM: no tenant starts again; the ones running end with the process, their open
            # transaction rolled back by the server, as after a SIGKILL.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()

    def finish(self, tenants: list[str], what: str) -> None:
        """The run report's tenants, one line, and TenantsFailed (exit 5) when any failed or was left."""
        for tenant in tenants:
            self.report.tenant(tenant, self.outcomes[tenant].document())
        count = {state: sum(1 for t in tenants if self.outcomes[t].state == state)
                 for state in ("applied", "up to date", "pending", "done", "failed", "not attempted")}
        said = ", ".join(f"{n} {state}" for state, n in count.items() if n)
        log.info("fleet", f"{len(tenants)} tenants {what}: {said or 'none'}")
        failed = [self.outcomes[t] for t in tenants if self.outcomes[t].state in ("failed", "not attempted")]
        if failed:
            raise TenantsFailed(
                f"{count['failed']} of {len(tenants)} tenants failed: "
                + "; ".join(f"{o.tenant}: {_why(o)}" for o in failed if o.state == "failed")
                + (f"; {count['not attempted']} not attempted (DBINIT_TENANT_MAX_FAILURES)" if count["not attempted"]
                   else "") + "; the others finished, and the next run does what is left")

    # ---- commands

    def migrate(self, dry_run: bool = False, post_deploy: bool = False, to: list[str] | None = None) -> None:
        """The shared part first (when it fails, no tenant is touched), then every tenant behind."""
        self.shared.migrate(dry_run=dry_run, post_deploy=post_deploy, to=None)
        catalog = self.files()
        catalog.filled({**self.settings.placeholders, PLACEHOLDER: Public("tenant")})  # a bad placeholder: 65 once
        started = time.monotonic()
        with self.session() as session:
            tenants = self.tenants(session)
            behind = self.behind(session, catalog, tenants, post_deploy) if not to else tenants
        if len(behind) < len(tenants):
            log.info("fleet", f"{len(tenants) - len(behind)} tenants up to date by their histories, read at once "
                     f"({time.monotonic() - started:.2f} s)")

        def work(runner: Runner) -> Outcome:
            done = runner.migrate(dry_run=dry_run, post_deploy=post_deploy, to=to)
            would = [m.label for plan, _ in done for m in plan.pending] if dry_run else []
            state = "pending" if would else "applied" if any(applied for _, applied in done) else "up to date"
            return Outcome(_tenant(runner), state, pending=would)

        self.each(behind, work, "migrate")
        self.finish(tenants, "would be migrated" if dry_run else "migrated")

    def check(self, schemas: bool = False) -> list[Plan]:
        """The shared plans; each tenant's outcome (pending or up to date) in `outcomes`."""
        plans = self.shared.check(schemas)
        catalog = self.files()
        with self.session() as session:
            tenants = self.tenants(session)
            behind = tenants if schemas else self.behind(session, catalog, tenants)  # --drift: each schema looked at

        self.each(behind, _reading(lambda runner: runner.check(schemas)), "check")
        self.finish(tenants, "checked")
        return plans

    def status(self) -> list[Plan]:
        plans = self.shared.status()
        tenants = self.listed()
        self.each(tenants, _reading(Runner.status), "status")
        self.finish(tenants, "read")
        return plans

    def wait_migrated(self) -> None:
        """The shared part, then every tenant (DBINIT_TENANT: its own) up to date, by the deadline."""
        deadline = time.monotonic() + self.settings.wait_timeout
        self.offline.wait_migrated()
        catalog = self.files()
        with self.session() as session:
            tenants = self.tenants(session)
            behind: list[str] = []

            def up_to_date() -> bool | None:
                # What the histories read at once say is final; a tenant they cannot see is asked.
                known, unread = self.read(session, catalog, tenants)
                self.each(sorted(unread), _reading(Runner.check), "wait")
                behind[:] = sorted(known | {t for t in unread if self.outcomes[t].state != "up to date"})
                return None if behind else True

            def waiting(elapsed: float) -> None:
                log.info("fleet", f"waiting for {len(behind)} tenants migrated elsewhere: {', '.join(behind[:10])}")

            if retry.poll(up_to_date, max(0.0, deadline - time.monotonic()), first=0.5, most=2.0, jitter=False,
                          waiting=waiting) is None:
                raise NotReady(f"{len(behind)} tenants still behind after {self.settings.wait_timeout:g} s "
                               f"(DBINIT_WAIT_TIMEOUT): {', '.join(behind[:20])}")
        log.info("fleet", f"every tenant of {len(tenants)} is up to date with the migrations")

    def every(self, command: str, work: Callable[[Runner], None], shared: bool = True) -> None:
        """A command of one target's (rollback, repair, baseline, down) on the shared part, then on
        each tenant."""
        if shared:
            work(self.shared)
        tenants = self.listed()

        def each(runner: Runner) -> Outcome:
            work(runner)
            return Outcome(_tenant(runner), "done")

        self.each(tenants, each, command)
        self.finish(tenants, f"{command}: done")

    def _files_runner(self) -> Runner:
        """A runner of the tenants' folder alone, `${tenant}` filled with a stand-in: for what needs
        no tenant (validate, hash)."""
        return Runner(dataclasses.replace(
            self.settings, migrations=self.fleet.migrations, init=self.fleet.migrations / "init", fleet=None,
            placeholders={**self.settings.placeholders, PLACEHOLDER: Public("tenant")},
            databases={self.database.name: self.settings.of(self.database.name)}), self.report)

    def validate(self, servers: bool = False) -> None:
        self.offline.validate(servers)
        self.files()
        self._files_runner().validate(servers)

    def hash(self) -> list[Any]:
        return [self.offline.hash(), self._files_runner().hash()]


def _tenant(runner: Runner) -> str:
    return runner.settings.placeholders[PLACEHOLDER]


def _reading(read: Callable[[Runner], list[Plan]]) -> Callable[[Runner], Outcome]:
    """A tenant's outcome from what a command that reads (check, status) says of it."""
    def work(runner: Runner) -> Outcome:
        found = read(runner)
        pending = [m.label for p in found for m in p.pending]
        return Outcome(_tenant(runner), "pending" if pending else "up to date", pending=pending, plans=found,
                       drifts=runner.drifts)
    return work


def _why(outcome: Outcome) -> str:
    error = outcome.error or {}
    where = error.get("file") or ""
    if where and error.get("line"):
        where += f":{error['line']}"
    return " ".join(part for part in (where, error.get("code") or "", f"(exit {error.get('exit_code')})") if part)
