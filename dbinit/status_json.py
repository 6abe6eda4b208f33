"""`status --format json` and `check --format json`: the plans as one document for CI dashboards and
scripts (Flyway's `info -outputType=json`), its schema in status.schema.json. (Not status.py: a
submodule of that name would hide the API's function `dbinit.status`.)"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .plan import Plan
from .description import Comparison
from .version import VERSION


def status_document(plans: list[Plan], command: str, drifts: list[Comparison] | None = None) -> dict[str, Any]:
    """`drifts`: each schema against its record; a database not among them has `schema` null."""
    schemas = {c.db: c.document() for c in drifts or []}
    return {
        "dbinit_version": VERSION, "command": command,
        "up_to_date": not any(plan.pending or plan.needs_repair for plan in plans),
        "databases": {plan.db: {
            "pending": [m.label for m in plan.pending], "deferred": [m.label for m in plan.deferred],
            "schema": schemas.get(plan.db),
            "migrations": [{
                "version": e.label, "description": e.description, "status": e.shown,
                "phase": e.migration.phase if e.migration else None,
                "script": e.migration.script if e.migration else e.applied.script if e.applied else None,
                "applied_at": e.applied.applied_at.isoformat() if e.applied else None,
                "execution_ms": e.applied.execution_ms if e.applied else None,
                "checksum": e.migration.checksum if e.migration else e.applied.checksum if e.applied else None,
                "applied_by": asdict(e.applied.audit) if e.applied else None,
            } for e in plan.entries]} for plan in plans},
    }
