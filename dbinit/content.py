"""Offline checks of what migration files hold, per database, without a server."""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import InvalidMigrations, Problem
from .files import Migration, down_of


def parse(migration: Migration) -> list:
    """The statements (or Redis commands) of a migration; InvalidMigrations names file and line."""
    if migration.db == "postgres":
        from . import sql

        return sql.parse(migration).statements
    if migration.db == "neo4j":
        from . import cypher

        return cypher.parse(migration)
    from . import redis_commands

    return redis_commands.parse(migration)


def _warnings(migration: Migration) -> list[Problem]:
    if migration.db == "neo4j":
        from . import cypher

        return cypher.warnings(migration)
    return []


@dataclass
class Report:
    checked: int = 0
    empty: list[Migration] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    lint_skipped: bool = False  # squawk is not installed


def check(migrations: list[Migration], downs: bool = True, lint: str = "off") -> Report:
    """Parse every file (and, for validate, every down file), then lint the PostgreSQL ones
    (`lint`: off, warn, or error); raise one InvalidMigrations listing every problem."""
    report, problems = Report(), []
    for m in migrations:
        scripts = [m, down_of(m)] if downs and m.down is not None else [m]
        for script in scripts:
            try:
                if not parse(script) and script is m:
                    report.empty.append(m)
                report.warnings += _warnings(script)
            except InvalidMigrations as e:
                problems += e.problems
        report.checked += 1
    if not problems and lint != "off":
        from . import lint as ddl_lint

        findings = ddl_lint.lint(migrations)
        if findings is None:
            report.lint_skipped = True
        elif lint == "error":
            problems += findings
        else:
            report.warnings += findings
    if problems:
        raise InvalidMigrations(problems)
    return report
