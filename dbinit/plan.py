"""Files versus history, as pure functions, so status, check, migrate, down, baseline and repair agree."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Collection, Sequence

from pathlib import Path

from . import registry, skeleton
from .errors import InvalidMigrations, MigrationFailed, Problem
from .history import NEEDS_REPAIR, Applied, State
from .migration import INIT_VERSION, Migration, versioned
from .registry import version_key, version_label

__all__ = ["Applied", "Entry", "Plan", "State", "reconcile", "to_baseline", "to_revert", "to_roll_back",
           "without_down"]


@dataclass(frozen=True)
class Entry:
    db: str
    version: str
    label: str
    description: str
    state: State
    migration: Migration | None
    applied: Applied | None

    @property
    def shown(self) -> str:
        """The state as status shows it: an applied one that a checkpoint made, or that `baseline`
        recorded, says so."""
        if self.state is State.APPLIED and self.applied:
            if self.checkpointed:
                return "Checkpoint"
            if self.applied.baselined:
                return "Baselined"
        return self.state

    @property
    def checkpointed(self) -> bool:
        """Made by a checkpoint, not by its own file: never reverted (its down script was written for
        what its file made, on a database that ran it)."""
        return self.applied is not None and registry.get(self.db).naming.is_checkpoint(self.applied.script)


@dataclass
class Plan:
    db: str
    entries: list[Entry]
    out_of_order: list[Entry] = field(default_factory=list)
    post_deploy: bool = False  # whether pending post-deploy files run now (phase.py)
    upto: str | None = None  # migrate --to: no version above this one runs
    checkpoint: Migration | None = None  # on a database with no history: run instead of the files it covers

    def of(self, *states: State) -> list[Entry]:
        return [e for e in self.entries if e.state in states]

    @property
    def pending(self) -> list[Migration]:
        """What a run applies now, in version order."""
        return [m for m in self._unapplied if self.post_deploy or not m.post_deploy]

    @property
    def deferred(self) -> list[Migration]:
        """Pending post-deploy files left for the post-deploy run."""
        return [m for m in self._unapplied if not self.post_deploy and m.post_deploy]

    @property
    def _unapplied(self) -> list[Migration]:
        cap = None if self.upto is None else version_key(self.db, self.upto)
        unapplied = [e.migration for e in self.of(State.PENDING, State.OUTDATED) if e.migration is not None
                     and (cap is None or e.migration.key <= cap)]
        if self.checkpoint is None:
            return unapplied
        # The baseline script and the files up to the checkpoint are in it; repeatable files run after it.
        covers = tuple((m.version, m.description, m.checksum) for m in self.covered
                       if m.version != self.checkpoint.version and versioned(m.version))
        return [replace(self.checkpoint, covers=covers), *(m for m in unapplied if m.key > self.checkpoint.key)]

    @property
    def covered(self) -> list[Migration]:
        """The files (and baseline script) the checkpoint this run applies stands for."""
        if self.checkpoint is None:
            return []
        return [e.migration for e in self.of(State.PENDING) if e.migration is not None and not e.migration.repeatable
                and e.migration.key <= self.checkpoint.key]

    @property
    def needs_repair(self) -> list[Entry]:
        return [e for e in self.entries if e.state in NEEDS_REPAIR]

    def unrepairable(self) -> list[Problem]:
        """Changed files that `repair` must not accept: the history's version is another migration
        altogether, or the file was applied while it held only what `dbinit new` wrote (what it
        holds now never ran)."""
        problems = []
        for e in self.of(State.CHANGED):
            assert e.migration is not None and e.applied is not None
            if e.applied.description != e.migration.description:
                problems.append(Problem(e.migration.path, (
                    f"{e.label} in the history is {e.applied.script}, not this file: another migration of the same "
                    "version (another project's history? check DBINIT_MIGRATIONS and the database URL); repair "
                    "would record this file as applied without running it")))
            elif e.applied.checksum in skeleton.checksums(self.db, e.migration.description):
                problems.append(Problem(e.migration.path, (
                    f"{e.label} was applied while it held only what dbinit new wrote, so what it holds now never ran; "
                    "move that into a new migration (dbinit new), and put this file back as dbinit new wrote it")))
        return problems

    def check(self, allow_out_of_order: bool) -> None:
        """Refuse to migrate over changed files, failed marks or (unless allowed) out-of-order files."""
        problems = self.unrepairable()
        other = {p.path for p in problems}
        for e in self.of(State.CHANGED):  # a changed entry has its file and its record
            assert e.migration is not None and e.applied is not None
            if e.migration.path not in other:
                problems.append(Problem(e.migration.path, (
                    f"{e.label} was changed after it was applied (checksum {e.applied.checksum[:12]}… in history, "
                    f"{e.migration.checksum[:12]}… on disk); restore the file, or run 'dbinit repair' if the change "
                    "is intended")))
        if not allow_out_of_order:
            for e in self.out_of_order:  # a pending entry has its file
                assert e.migration is not None
                problems.append(Problem(e.migration.path, (
                    f"{e.label} is pending but older than the newest applied {self.db} migration; give it a newer "
                    "version, or allow it with --out-of-order")))
        if problems:
            raise InvalidMigrations(problems)
        failed = self.of(State.FAILED)
        if failed:
            e = failed[0]
            raise MigrationFailed(self.db, e.migration.path if e.migration else None,
                                  f"{e.label} failed partway in an earlier run (no-transaction migration); "
                                  "fix the database by hand, then run 'dbinit repair'")


def _state(migration: Migration | None, applied: Applied | None) -> State:
    if applied is None:
        return State.PENDING
    if not applied.success:
        return State.FAILED
    if migration is None:
        return State.MISSING
    if migration.version != INIT_VERSION and migration.checksum != applied.checksum:
        return State.OUTDATED if migration.repeatable else State.CHANGED
    return State.APPLIED


def _label_applied(db: str, version: str, applied: Applied | None) -> str:
    """A version whose file is gone, as its file spelt it when applied (V002, not V2)."""
    if applied is not None:
        try:
            return registry.get(db).naming.parse(Path(applied.script)).label
        except InvalidMigrations:
            pass
    return version_label(db, version)


def reconcile(db: str, migrations: list[Migration], history: list[Applied], init: Migration | None = None,
              post_deploy: bool = False, upto: str | None = None, checkpoints: Sequence[Migration] = ()) -> Plan:
    """Each version's state: found on disk, applied, failed, changed. Pending post-deploy files run
    now when asked (`post_deploy`) or on a database with no history but its baseline script (CI, a
    new environment: every file in version order); otherwise they wait for the post-deploy run,
    and are out of order only below an applied post-deploy file, never below a pre-deploy one.

    `checkpoints` (oldest first): a database with no history gets the newest (up to `upto`) instead
    of the files it covers, and records each of them as made by it (its script the checkpoint's). A
    file gone at or below a checkpoint here was squashed into it: applied, not missing."""
    applied = {a.version: a for a in history}
    on_disk = {m.version: m for m in migrations}
    if init is not None and (not history or INIT_VERSION in applied):
        on_disk[INIT_VERSION] = init
    naming = registry.get(db).naming
    squashed = checkpoints[-1].key if checkpoints else None
    entries: list[Entry] = []
    for version in sorted(on_disk.keys() | applied.keys(), key=lambda v: version_key(db, v)):
        m, a = on_disk.get(version), applied.get(version)
        label = m.label if m else _label_applied(db, version, a)
        description = m.description if m else a.description if a else ""
        state = _state(m, a)
        # A checkpoint's own record (run, not baselined) is of the checkpoint, not of its version's file.
        if a is not None and a.success and ((naming.is_checkpoint(a.script) and not a.baselined) or (
                state is State.MISSING and squashed is not None and version_key(db, version) <= squashed)):
            state = State.APPLIED
        entries.append(Entry(db, version, label, description, state, m, a))
    newest = max((version_key(db, a.version) for a in history if versioned(a.version)), default=None)
    newest_post = max((version_key(db, e.version) for e in entries if e.applied is not None and e.migration is not None
                       and e.migration.post_deploy and not e.migration.repeatable), default=None)
    late = [e for e in entries if e.state is State.PENDING and e.migration is not None and not e.migration.repeatable
            and (bound := newest_post if e.migration.post_deploy else newest) is not None
            and version_key(db, e.version) < bound]
    fresh = all(a.version == INIT_VERSION for a in history)
    cap = None if upto is None else version_key(db, upto)
    checkpoint = None if history else next((c for c in reversed(checkpoints) if cap is None or c.key <= cap), None)
    return Plan(db, entries, late, post_deploy or fresh, upto, checkpoint)


def to_revert(plan: Plan, target: str) -> list[Entry]:
    """What `down --to target` reverts, newest first: every applied version above `target` but a
    baseline script."""
    above = version_key(plan.db, target)
    return [e for e in reversed(plan.entries) if e.applied is not None and versioned(e.version)
            and version_key(plan.db, e.version) > above]


def without_down(entries: list[Entry], kept: Collection[str]) -> list[Entry]:
    """Those of `entries` that nothing can revert: no down file beside their file, and no down
    script kept with their history record (`kept`: the versions that have one)."""
    return [e for e in entries if (e.migration is None or e.migration.down is None) and e.version not in kept]


def to_roll_back(plan: Plan) -> list[Entry]:
    """What `rollback` reverts, newest first: the applied versions whose files this image does not
    have, above the newest applied one it has (a file gone from below that, a squash say, stays)."""
    kept = [e.version for e in plan.entries if e.applied is not None and e.migration is not None]
    floor = version_key(plan.db, kept[-1]) if kept else None
    return [e for e in reversed(plan.of(State.MISSING)) if versioned(e.version)
            and (floor is None or version_key(plan.db, e.version) > floor)]


def to_baseline(migrations: list[Migration], history: list[Applied], init: Migration | None,
                target: str) -> list[Migration]:
    """What `baseline --to target` records as applied: every file up to `target` not yet in the
    history, after the baseline script when the database has no history at all (an adopted
    database already has its baseline)."""
    known = {a.version for a in history}
    chosen = [m for m in migrations if m.key <= version_key(m.db, target) and m.version not in known]
    if not history and init is not None:
        chosen.insert(0, init)
    return chosen
