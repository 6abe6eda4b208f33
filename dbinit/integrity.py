"""The integrity file, `dbinit.sum` beside the migrations (Atlas's atlas.sum): a hash of every
migration file and one over them all. Two branches that each add a migration change its first
line both, so they conflict in git rather than in production; a file edited, lost or added
without `dbinit hash` (a truncated ConfigMap, a bad merge) is refused before anything runs."""
from __future__ import annotations

import hashlib
from pathlib import Path

from . import archive
from .errors import InvalidMigrations, Problem
from .files import Catalog
from .migration import read_text

NAME = "dbinit.sum"


def _lines(directory: Path, catalog: Catalog) -> list[str]:
    """`path sha256` for every migration file and down file, by path; the same checksum as the
    history's (a UTF-8 BOM dropped, CRLF read as LF)."""
    found = {m.path: m.checksum for ms in [*catalog.migrations.values(), *catalog.checkpoints.values()] for m in ms}
    found.update({m.down: read_text(m.down)[1] for ms in catalog.migrations.values() for m in ms if m.down})
    return [f"{path.relative_to(directory).as_posix()} {checksum}" for path, checksum in sorted(found.items())]


def _text(lines: list[str]) -> str:
    total = hashlib.sha256("".join(line + "\n" for line in lines).encode()).hexdigest()
    return "".join(line + "\n" for line in [f"h1:{total}", *lines])


def write(directory: Path, catalog: Catalog) -> Path:
    path = directory / NAME
    path.write_text(_text(_lines(directory, catalog)), encoding="utf-8")
    return path


def check(directory: Path, catalog: Catalog, required: bool) -> None:
    """Refuse files that differ from the integrity file; with `required`, refuse its absence."""
    path = directory / NAME
    if not archive.is_file(path):
        if required:
            raise InvalidMigrations([Problem(path, "is missing and DBINIT_REQUIRE_SUM is set; run 'dbinit hash' "
                                             "and commit it with the migrations")])
        return
    text, _ = read_text(path)
    recorded = text.splitlines()
    if not recorded or _text(recorded[1:]) != text:
        raise InvalidMigrations([Problem(path, "was edited by hand or merged (its first line is not the hash of "
                                         "the others); run 'dbinit hash' once the migrations are as intended", 1)])
    want = dict(line.rsplit(" ", 1) for line in recorded[1:])
    have = dict(line.rsplit(" ", 1) for line in _lines(directory, catalog))
    problems = [Problem(directory / name, f"differs from {NAME} (edited since 'dbinit hash')")
                for name in sorted(want.keys() & have.keys()) if want[name] != have[name]]
    problems += [Problem(directory / name, f"is listed in {NAME} but missing") for name in sorted(want.keys() - have.keys())]
    problems += [Problem(directory / name, f"is not in {NAME}; run 'dbinit hash' (or 'dbinit new') to add it")
                 for name in sorted(have.keys() - want.keys())]
    if problems:
        raise InvalidMigrations(problems)
