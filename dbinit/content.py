"""Offline checks of what migration files hold, by each database's own parser and lint, without a server."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from . import registry, skeleton
from .errors import InvalidMigrations, Problem
from .migration import Migration, down_of


@dataclass
class Report:
    checked: int = 0
    empty: list[Migration] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    lint_skipped: bool = False  # a database's lint tool is not installed


# The findings of each set of files as written (by path and checksum): a fleet's tenants share their
# pending files, and the lint's tool is started once for them, not once a tenant.
_linted: dict[tuple[str, tuple[tuple[str, str], ...]], list[Problem] | None] = {}


def check(migrations: list[Migration], downs: bool = True, lint: str = "off",
          placeholders: Mapping[str, str] | None = None) -> Report:
    """Parse every file (and, for validate, every down file, its placeholders filled from
    `placeholders`), refuse a file that holds only what `dbinit new` wrote, then lint them by the databases that have a lint (`lint`: off, warn, or
    error); raise one InvalidMigrations listing every problem."""
    report, problems = Report(), []
    for m in migrations:
        database = registry.get(m.db)
        scripts = [m] if not downs or m.down is None else [m, down_of(m)]
        for script in scripts:
            try:
                if script is not m:
                    script = database.fill(script, placeholders or {})
                if not database.parse(script) and script is m:
                    if skeleton.holds_only_new(m):
                        problems.append(skeleton.problem(m))
                    report.empty.append(m)
                report.warnings += database.warnings(script)
            except InvalidMigrations as e:
                problems += e.problems
        report.checked += 1
    if not problems and lint != "off":
        for database in registry.databases():
            # A checkpoint runs only on an empty database: no table of it is in use while it runs.
            mine = [m for m in migrations if m.db == database.name and not m.checkpoint]
            if database.lint is None or not mine:
                continue
            key = (database.name, tuple((str(m.path), m.checksum) for m in mine))
            if key not in _linted:
                _linted[key] = database.lint(mine)
            findings = _linted[key]
            if findings is None:
                report.lint_skipped = True
            elif lint == "error":
                problems += findings
            else:
                report.warnings += findings
    if problems:
        raise InvalidMigrations(problems)
    return report
