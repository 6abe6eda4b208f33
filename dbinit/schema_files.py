"""The schema files: one per database, named for reviewers (postgres-schema.sql, …), written by
`dbinit schema` (and by `migrate` when asked), and compared with what the migrations produce in CI."""
from __future__ import annotations

import difflib
from pathlib import Path

from . import log, registry
from .errors import InvalidMigrations, Problem
from .description import Description


def path(directory: Path, db: str) -> Path:
    return directory / f"{db}-schema{registry.get(db).extension}"


def write(directory: Path, descriptions: list[Description]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for d in descriptions:
        target = path(directory, d.db)
        text = d.text()
        if not target.is_file() or target.read_text(encoding="utf-8") != text:  # untouched when unchanged
            target.write_text(text, encoding="utf-8")
        log.info(d.db, f"wrote {target}")
        written.append(target)
    return written


def check(directory: Path, descriptions: list[Description]) -> list[Path]:
    """The committed files, refused (65) where one is missing or differs from the live schema: the
    first lines that differ are named."""
    problems = []
    for d in descriptions:
        target = path(directory, d.db)
        if not target.is_file():
            problems.append(Problem(target, "is missing; write it with dbinit schema and commit it"))
            continue
        if problem := difference(target, target.read_text(encoding="utf-8"), d.text(), "run dbinit schema"):
            problems.append(problem)
    if problems:
        raise InvalidMigrations(problems)
    return [path(directory, d.db) for d in descriptions]


def difference(target: Path, committed_text: str, live_text: str, remedy: str) -> Problem | None:
    """A committed file that is not what the migrations produce, with the first lines that differ."""
    committed, live = committed_text.splitlines(), live_text.splitlines()
    if committed == live:
        return None
    diff = [line for line in difflib.unified_diff(committed, live, "committed", "produced", lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    first = next(i for i, (a, b) in enumerate(zip([*committed, None], [*live, None])) if a != b)
    return Problem(target, f"is not what the migrations produce; {remedy} and commit it. It differs in: "
                   + "; ".join(diff[:6]) + (" …" if len(diff) > 6 else ""), first + 1)
