"""Files versus history, as one pure function, so status, validate and migrate agree."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .errors import InvalidMigrations, MigrationFailed, Problem
from .files import INIT_VERSION, Migration, version_key, version_label


@dataclass(frozen=True)
class Applied:
    """One history record, as each backend stores it."""

    version: str
    description: str
    script: str
    checksum: str
    applied_at: datetime
    execution_ms: int
    success: bool = True  # False: a no-transaction migration failed partway; repair clears it
    applied_by: str = ""


@dataclass(frozen=True)
class Entry:
    db: str
    version: str
    label: str
    description: str
    state: str  # Applied, Pending, Changed, Missing, Failed
    migration: Migration | None
    applied: Applied | None


@dataclass
class Plan:
    db: str
    entries: list[Entry]
    out_of_order: list[Entry] = field(default_factory=list)

    def of(self, state: str) -> list[Entry]:
        return [e for e in self.entries if e.state == state]

    @property
    def pending(self) -> list[Migration]:
        return [e.migration for e in self.of("Pending")]

    def check(self, allow_out_of_order: bool) -> None:
        """Refuse to migrate over changed files, failed marks or (unless allowed) out-of-order files."""
        problems = [
            Problem(e.migration.path, f"{e.label} was changed after it was applied (checksum "
                    f"{e.applied.checksum[:12]}… in history, {e.migration.checksum[:12]}… on disk); "
                    "restore the file, or run 'dbinit repair' if the change is intended")
            for e in self.of("Changed")
        ]
        if not allow_out_of_order:
            problems += [
                Problem(e.migration.path, f"{e.label} is pending but older than the newest applied {self.db} "
                        "migration; give it a newer version, or allow it with --out-of-order")
                for e in self.out_of_order
            ]
        if problems:
            raise InvalidMigrations(problems)
        failed = self.of("Failed")
        if failed:
            e = failed[0]
            raise MigrationFailed(self.db, e.migration.path if e.migration else None,
                                  f"{e.label} failed partway in an earlier run (no-transaction migration); "
                                  "fix the database by hand, then run 'dbinit repair'")


def reconcile(db: str, migrations: list[Migration], history: list[Applied], init: Migration | None = None) -> Plan:
    """Each version's state: found on disk, applied, failed, changed."""
    applied = {a.version: a for a in history}
    on_disk = {m.version: m for m in migrations}
    if init is not None and (not history or INIT_VERSION in applied):
        on_disk[INIT_VERSION] = init
    entries: list[Entry] = []
    for version in sorted(on_disk.keys() | applied.keys(), key=lambda v: version_key(db, v)):
        m, a = on_disk.get(version), applied.get(version)
        if a is None:
            state = "Pending"
        elif not a.success:
            state = "Failed"
        elif m is None:
            state = "Missing"
        elif version != INIT_VERSION and m.checksum != a.checksum:
            state = "Changed"
        else:
            state = "Applied"
        label = m.label if m else version_label(db, version)
        description = m.description if m else a.description
        entries.append(Entry(db, version, label, description, state, m, a))
    newest = max((version_key(db, a.version) for a in history if a.version != INIT_VERSION), default=None)
    late = [e for e in entries if e.state == "Pending" and newest is not None and version_key(db, e.version) < newest]
    return Plan(db, entries, late)
