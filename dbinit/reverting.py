"""Reverting: `down --to` and `rollback` revert, newest first, with the down file beside a migration or
the down script kept with its history record, and nothing at all when any of them cannot be."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Mapping

from . import content, log, registry
from .contract import Backend, Prechecks, Reverts
from .errors import InvalidMigrations, Problem
from .migration import Migration, down_of
from .plan import Entry, without_down
from .report import RunReport


def revert(work: list[tuple[Backend, list[Entry]]], report: RunReport, placeholders: Mapping[str, str]) -> None:
    """Each backend's entries reverted, newest first, the databases in the reverse of the order of
    applying; nothing at all when any of them cannot be (no down script, a forward-only database,
    a down script that does not parse)."""
    problems: list[Problem] = []
    downs: list[tuple[Backend, list[tuple[Migration, Migration]]]] = []
    for backend, entries in work:
        if entries and not isinstance(backend, Reverts):
            problems += [Problem(None, f"{registry.get(backend.name).title} migrations are forward-only: "
                                 f"{e.label} {e.description} is applied and cannot be reverted; nothing was "
                                 "reverted") for e in entries]
            continue
        if not entries:
            log.info(backend.name, "nothing to revert")
            continue
        assert isinstance(backend, Reverts)
        kept = backend.kept_downs([e.version for e in entries])
        suffixes = registry.get(backend.name).naming.suffixes
        if without := without_down(entries, kept):
            problems += [Problem(e.migration.path if e.migration else None,
                                 f"{e.label}{'' if e.migration else f' ({e.applied.script if e.applied else e.description})'} "
                                 f"has no down file ({suffixes[1]}) and no down script kept in the history; nothing was "
                                 "reverted") for e in without]
        else:
            fill = registry.get(backend.name).fill
            downs.append((backend, [(m, fill(d, placeholders)) for m, d in (down_script(e, kept, suffixes)
                                                                            for e in entries)]))
    if problems:
        raise InvalidMigrations(problems)
    for backend, pairs in downs:  # every down script checked before the first is run
        content.check([d for _, d in pairs])
        if isinstance(backend, Prechecks):
            backend.precheck([d for _, d in pairs])
    for backend, pairs in reversed(downs):
        assert isinstance(backend, Reverts)
        for m, d in pairs:
            start = time.perf_counter()
            with backend.under_lease():
                backend.revert(m, d)
            ms = round((time.perf_counter() - start) * 1000)
            report.reverted(backend.name, m, d, ms)
            log.info(backend.name, f"reverted {m.label} {m.description} ({ms} ms)", script=d.script)


def down_script(entry: Entry, kept: dict[str, str], suffixes: tuple[str, ...]) -> tuple[Migration, Migration]:
    """The migration to revert and its down script: the file beside it, or the one kept in the
    history when this image has no such file."""
    m = entry.migration
    if m is not None and m.down is not None:
        return m, down_of(m)
    assert entry.applied is not None
    if m is None:  # named as its file was (the plan's label: V002, not V2)
        m = Migration(entry.db, entry.version, entry.label, entry.description, Path(entry.applied.script), "",
                      entry.applied.checksum)
    name = m.script.removesuffix(suffixes[0]) + suffixes[1]
    text = kept[entry.version]
    return m, Migration(m.db, m.version, m.label, m.description, Path(f"{name} (kept in the history)"), text,
                        hashlib.sha256(text.encode()).hexdigest())
