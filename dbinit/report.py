"""What a run did, for people who read results rather than logs: one JSON document at exit whatever
the outcome (DBINIT_REPORT=path, its schema in report.schema.json), and a short summary where
Kubernetes shows why a container ended (`kubectl describe pod`: /dev/termination-log)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import audit, log, registry, telemetry
from .errors import DbinitError, InvalidMigrations, MigrationFailed
from .history import Applied
from .migration import Migration
from .version import VERSION

MEANINGS = {
    0: "ready and up to date", 1: "a migration failed", 3: "migrations are pending",
    4: "a schema drifted from the one recorded", 5: "some tenants failed; the others finished",
    6: "a precondition was not met", 7: "the after-migrate hook failed", 64: "bad command line",
    65: "bad migration files", 69: "a database was not ready", 75: "the migration lock was not had",
    77: "authentication or permission refused", 78: "configuration error", 130: "stopped by SIGINT",
    143: "stopped by SIGTERM",
}
TERMINATION_LOG_LIMIT = 4096  # what Kubernetes keeps of a termination message


def _entry(status: str) -> dict[str, Any]:
    return {"status": status, "wait_s": None, "lock_wait_s": None, "applied": [], "pending": [], "deferred": [],
            "reverted": [], "drift": None, "one_transaction": False}


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class RunReport:
    command: str = "migrate"
    started: datetime = field(default_factory=_now)
    run_id: str = field(default_factory=audit.new_run_id)  # the logs', the history's and the trace's
    databases: dict[str, dict[str, Any]] = field(default_factory=dict)
    tenants: dict[str, dict[str, Any]] | None = None  # a fleet run's: each tenant's outcome
    # Where to write at exit: from the settings once loaded (a run that fails loading them reads the
    # two variables itself).
    path: Path | None = None
    termination_log: Path = Path("/dev/termination-log")

    def _db(self, db: str) -> dict[str, Any]:
        return self.databases.setdefault(db, _entry("configured"))

    def skipped(self, db: str) -> None:
        self._db(db)["status"] = "skipped"

    # What the report is told, the run's telemetry is told too (telemetry.py: nothing when off).
    def ready(self, db: str, seconds: float) -> None:
        self._db(db)["wait_s"] = round(seconds, 3)
        telemetry.waited(db, seconds)

    def locked(self, db: str, seconds: float) -> None:
        self._db(db)["lock_wait_s"] = round(seconds, 3)
        telemetry.locked(db, seconds)

    def applied(self, db: str, migration: Migration, record: Applied) -> None:
        telemetry.applied(db, migration.phase, record.execution_ms / 1000)
        self._db(db)["applied"].append({"version": migration.label, "description": migration.description,
                                        "script": migration.script, "checksum": migration.checksum,
                                        "duration_ms": record.execution_ms, "phase": migration.phase})

    def one_transaction(self, db: str) -> None:
        """Its pending files of a phase ran in one transaction (DBINIT_PG_TRANSACTION=all)."""
        self._db(db)["one_transaction"] = True

    def reverted(self, db: str, migration: Migration, down: Migration, ms: int) -> None:
        self._db(db)["reverted"].append({"version": migration.label, "description": migration.description,
                                         "script": down.script, "duration_ms": ms})

    def drift(self, db: str, comparison: dict[str, Any]) -> None:
        self._db(db)["drift"] = comparison

    def tenant(self, name: str, outcome: dict[str, Any]) -> None:
        if self.tenants is None:
            self.tenants = {}
        self.tenants[name] = outcome

    def pending(self, db: str, migrations: list[Migration], deferred: list[Migration]) -> None:
        telemetry.pending(db, len(migrations))
        self._db(db)["pending"] = [m.label for m in migrations]
        self._db(db)["deferred"] = [m.label for m in deferred]

    def document(self, exit_code: int, error: BaseException | None) -> dict[str, Any]:
        for db in registry.names():
            self.databases.setdefault(db, _entry("not configured"))
        for entry in self.databases.values():  # what was applied is no longer pending
            done = {a["version"] for a in entry["applied"]}
            entry["pending"] = [p for p in entry["pending"] if p not in done]
        return {"dbinit_version": VERSION, "run_id": self.run_id, "command": self.command, "exit_code": exit_code,
                "meaning": MEANINGS.get(exit_code, "failed"), "started_at": self.started.isoformat(),
                "ended_at": _now().isoformat(), "databases": self.databases, "tenants": self.tenants,
                "error": None if error is None else error_detail(error)}

    def write(self, path: Path, exit_code: int, error: BaseException | None) -> None:
        text = json.dumps(self.document(exit_code, error), indent=2, default=str) + "\n"
        path.write_text(log.redact(text), encoding="utf-8")

    def summary(self, exit_code: int, error: BaseException | None) -> str:
        """A few lines for a termination message: the outcome, and why when it failed."""
        applied = sum(len(d["applied"]) for d in self.databases.values())
        head = f"dbinit {self.command}: exit {exit_code} ({MEANINGS.get(exit_code, 'failed')}); {applied} applied"
        text = head + (f"\n{error}" if error is not None else "") + "\n"
        return text.encode()[:TERMINATION_LOG_LIMIT].decode(errors="ignore")


def error_detail(error: BaseException) -> dict[str, Any]:
    """An error as the run report gives it: its type and message, and the file, line and SQLSTATE
    (or other code) where it has them."""
    detail: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, DbinitError):
        detail["database"] = None if error.source == "dbinit" else error.source
    if isinstance(error, MigrationFailed):
        detail.update(file=str(error.path) if error.path else None, line=error.line, statement=error.statement,
                      code=error.code)
    if isinstance(error, InvalidMigrations):
        detail["problems"] = [{"file": str(p.path) if p.path else None, "line": p.line, "message": p.message}
                              for p in error.problems]
    return detail
