"""What a database's history says of a version, and the states of files versus history."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from datetime import datetime


@dataclass(frozen=True)
class Audit:
    """Which run wrote a history record (all None in a record of a dbinit before 0.3)."""

    run_id: str | None = None
    dbinit_version: str | None = None
    image_revision: str | None = None
    host: str | None = None  # the pod's name in Kubernetes
    namespace: str | None = None

    def __str__(self) -> str:
        return f"{self.run_id[:8]} on {self.host}" if self.host and self.run_id else ""


AUDIT = tuple(f.name for f in fields(Audit))


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
    baselined: bool = False  # recorded by `baseline`, not run: the schema was there already
    audit: Audit = field(default_factory=Audit)


class State(enum.StrEnum):
    """A version's state from three facts, as Flyway's MigrationState: whether its file is on disk,
    whether it is applied, whether it failed. The value is what `status` shows."""

    PENDING = "Pending", True, False, False
    APPLIED = "Applied", True, True, False
    CHANGED = "Changed", True, True, False  # applied, and its file differs since
    OUTDATED = "Outdated", True, True, False  # a repeatable file applied, and changed since: pending again
    MISSING = "Missing", False, True, False  # applied, and its file is gone
    FAILED = "Failed", None, True, True  # a no-transaction file failed partway, with or without its file

    on_disk: bool | None
    applied: bool
    failed: bool

    def __new__(cls, display: str, on_disk: bool | None, applied: bool, failed: bool) -> "State":
        state = str.__new__(cls, display)
        state._value_ = display
        state.on_disk, state.applied, state.failed = on_disk, applied, failed
        return state


NEEDS_REPAIR = frozenset({State.CHANGED, State.FAILED})  # what `repair` acts on, and `migrate` refuses
