"""Drift: the schema each database has now against the one dbinit recorded after the last run that
changed it (or a person accepted). Compared without a lock and changing nothing; recorded under the
locks, after a run applied or reverted something; checked before `migrate` applies anything."""
from __future__ import annotations

import getpass
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from . import log
from .contract import Backend, Inspects
from .description import Comparison, Description, Drift, Record, carried, compare
from .errors import Drifted
from .report import RunReport


def descriptions(backends: list[Backend]) -> list[Description]:
    """The schema of each database that can describe it, as it is now."""
    return [b.inspect() for b in backends if isinstance(b, Inspects)]


def comparisons(backends: list[Backend]) -> list[Comparison]:
    """Each database that can describe its schema, compared with its record."""
    return [compare(b.name, b.schema_record(), b.inspect()) for b in backends if isinstance(b, Inspects)]


def refuse(found: list[Comparison], what: str) -> None:
    """Drifted naming every changed object, when any database drifted."""
    drifted = [c for c in found if c.drifted]
    if drifted:
        raise Drifted("; ".join(f"{c.db}: {c.says()}" for c in drifted) + f"; {what}")


def announce(found: list[Comparison], report: RunReport, quiet: frozenset[Drift] = frozenset()) -> None:
    """Each comparison in the run report, and logged (drift as a warning) unless its state is `quiet`."""
    for c in found:
        if c.state in (Drift.DRIFTED, Drift.INCOMPARABLE):
            log.warn(c.db, c.says())
        elif c.state not in quiet:
            log.info(c.db, c.says())
        report.drift(c.db, c.document())


def before_applying(backends: list[Backend], mode: str, report: RunReport) -> dict[str, Comparison]:
    """Under the locks, once something is pending: drift logged and reported (warn), or nothing applied
    (fail). A record by another major version of the server is never drift. Each comparison, by
    database, for `recorded` to keep the drift in the record."""
    if mode == "off":
        return {}
    found = comparisons(backends)
    announce(found, report, quiet=frozenset({Drift.SAME, Drift.UNRECORDED}))  # only what needs a look
    if mode == "fail":
        refuse(found, "nothing was applied (DBINIT_DRIFT=fail): look at the change, then put it in a migration "
                      "or accept it (dbinit accept --reason \"…\")")
    return {c.db: c for c in found}


def record(backend: Backend, reason: str, by: str | None = None, before: Comparison | None = None,
           now: Description | None = None) -> None:
    """The schema as it is now (`now`, when just read) becomes the one later runs compare with (under
    the lock); with `before`, the comparison made before the run, what had drifted then stays as
    recorded."""
    if isinstance(backend, Inspects):
        now = now or backend.inspect()
        if before is not None and before.drifted and before.record is not None and before.live is not None:
            now = carried(before.record.description, before.live, now)
        backend.keep_schema(Record(now, datetime.now(timezone.utc), by or backend.owner, reason))


def record_after(backend: Backend, reason: str, before: Comparison | None = None) -> None:
    """`record`, after a run that changed the schema: a database that went away meanwhile or a lost
    lease is the run's own error, never hidden by this one."""
    try:
        record(backend, reason, before=before)
    except Exception as e:
        log.warn(backend.name, f"could not record the schema for drift checks ({backend.words(e)}); the next run "
                 "that changes it records it, or dbinit accept")


def person() -> str:
    """Who accepts a change, when --by does not say: the login name where there is one."""
    try:
        return getpass.getuser()
    except Exception:  # a container's numeric user without a passwd entry
        return "unknown"


@contextmanager
def recorded(changing: list[tuple[Backend, str]], before: dict[str, Comparison]) -> Iterator[None]:
    """Around work that changes schemas: each of `changing` (a backend, what the work does there) is
    recorded after it, whether it succeeded or failed partway (a Neo4j file's committed statements
    are dbinit's doing, not drift), keeping what had drifted `before` (by database); not after an
    interruption, which must end the run at once."""
    try:
        yield
    except Exception:
        for backend, reason in changing:
            record_after(backend, reason, before.get(backend.name))
        raise
    for backend, reason in changing:
        record_after(backend, reason, before.get(backend.name))


def what(command: str, labels: list[str]) -> str:
    """A record's reason: the command and the versions it applied or reverted, the first few named."""
    return f"{command}: {', '.join(labels[:5])}" + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")
