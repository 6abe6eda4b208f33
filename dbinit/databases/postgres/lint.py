"""Blocking and breaking DDL in PostgreSQL migrations, found offline by squawk (the `lint` extra).

Only the rules that matter when a migration runs against a live database on deploy are kept:
statements that hold a lock that blocks reads or writes for the length of a table scan or
rewrite, and changes that break the application version still serving traffic. Left out on
purpose: require-lock-timeout and require-statement-timeout (dbinit sets the lock timeout itself
and retries), prefer-robust-stmts (a transactional file is recorded only when it committed, so it
is simply retried), and style rules (prefer-bigint-over-int, prefer-identity, prefer-text-field,
prefer-timestamptz, ban-char-field), which say nothing about a deploy.
"""
from __future__ import annotations

import bisect
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ...archive import within
from ...errors import Problem
from ...migration import Migration
from ...phase import marker

RULES = {
    "require-concurrent-index-creation": "CREATE INDEX CONCURRENTLY IF NOT EXISTS in a '-- dbinit: no-transaction' file",
    "require-concurrent-index-deletion": "DROP INDEX CONCURRENTLY in a '-- dbinit: no-transaction' file",
    "require-concurrent-reindex": "REINDEX … CONCURRENTLY in a '-- dbinit: no-transaction' file",
    "constraint-missing-not-valid": "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration",
    "adding-foreign-key-constraint": "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration",
    "disallowed-unique-constraint": "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … UNIQUE USING INDEX",
    "adding-serial-primary-key-field": "CREATE UNIQUE INDEX CONCURRENTLY, then ADD PRIMARY KEY USING INDEX",
    "adding-not-nullable-field": "add a CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL",
    "adding-required-field": "add the column nullable or with a constant DEFAULT",
    "adding-field-with-default": "add the column without the volatile default, backfill in batches",
    "changing-column-type": "add a new column, backfill, switch readers, drop the old one later",
    "renaming-column": "add the new column and keep both until no running version reads the old one",
    "renaming-table": "create a view with the old name until no running version uses it",
    "ban-drop-column": "stop reading the column in a deploy before the one that drops it",
    "ban-drop-table": "stop using the table in a deploy before the one that drops it",
    "ban-drop-database": "drop databases outside migrations",
    "ban-drop-not-null": "make sure no running version writes NULLs it cannot read back",
}
# What breaks the version still serving while a pre-deploy file runs, and is safe once no instance
# of it is left: allowed in post-deploy files, where these belong.
BREAKS_RUNNING_VERSION = {"ban-drop-column", "renaming-column", "renaming-table", "ban-drop-table", "ban-drop-not-null"}
# `-- dbinit: allow RULE[, RULE…]: reason` right above a statement; at the top of the file, followed
# by a blank line, for the whole file.
ALLOW = re.compile(r"--\s*dbinit:\s*allow\s+(?P<rules>[a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)\s*(?::\s*(?P<reason>\S.*))?")


def squawk() -> str | None:
    """The squawk binary of the `lint` extra (beside this Python), or one on PATH."""
    beside = Path(sys.executable).parent / "squawk"
    return str(beside) if beside.exists() else shutil.which("squawk")


def _allowed(migration: Migration, first_statement_line: int) -> tuple[dict[int, set[str]], set[str], list[Problem]]:
    """Rules allowed per line of a statement, for the whole file, and allow comments without a reason."""
    lines = migration.text.split("\n")
    per_line: dict[int, set[str]] = {}
    whole: set[str] = set()
    problems: list[Problem] = []
    pending: set[str] = set()
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if m := ALLOW.fullmatch(stripped):
            rules = {r.strip() for r in m["rules"].split(",")}
            if not m["reason"]:
                problems.append(Problem(migration.path, "an allow comment needs a reason: "
                                        f"'-- dbinit: allow {', '.join(sorted(rules))}: why it is safe here'", number))
            else:
                pending |= rules
        elif not stripped and pending and number < first_statement_line:
            whole |= pending  # a comment block at the top, apart from the first statement: the whole file
            pending = set()
        elif stripped and not stripped.startswith("--"):
            if pending:
                per_line[number] = pending
                pending = set()
    return per_line, whole, problems


def lint(files: list[Migration]) -> list[Problem] | None:
    """Findings of the chosen rules in these PostgreSQL files, each with the file, line, rule, why and the
    safe alternative; None when squawk is not installed."""
    from .sql import parse

    if not files:
        return []
    binary = squawk()
    if binary is None:
        return None
    scripts = {m.path: (m, parse(m)) for m in files}
    post_deploy = {m.path for m in files if m.post_deploy}
    findings: list[dict[str, Any]] = []
    for transactional in (True, False):
        chosen = [m for m, s in scripts.values() if s.transactional == transactional and s.statements]
        flags = ["--reporter", "json", *(["--assume-in-transaction"] if transactional else [])]
        # Files in an archive exist in memory only: each goes to squawk on its stdin.
        archived = {m.path for m in chosen if within(m.path)}
        runs: list[tuple[list[str], str | None]] = [
            ([binary, *flags, "--stdin-filepath", str(m.path)], m.text) for m in chosen if m.path in archived]
        if on_disk := [str(m.path) for m in chosen if m.path not in archived]:
            runs.append(([binary, *flags, *on_disk], None))
        for command, text in runs:
            out = subprocess.run(command, input=text, capture_output=True, text=True)
            findings += json.loads(out.stdout or "[]")
    problems: list[Problem] = []
    allowed = {p: _allowed(m, s.statements[0].line if s.statements else 1) for p, (m, s) in scripts.items()}
    for path, (_, _, bad) in allowed.items():
        problems += bad
    for f in findings:
        rule, path, line = f["rule_name"], Path(f["file"]), f["line"] + 1
        if rule not in RULES:
            continue
        per_line, whole, _ = allowed[path]
        starts = [s.line for s in scripts[path][1].statements]
        statement = starts[max(0, bisect.bisect_right(starts, line) - 1)]  # the finding may point inside it
        if rule in whole or rule in per_line.get(statement, ()):
            continue
        if rule in BREAKS_RUNNING_VERSION:
            if path in post_deploy:
                continue
            safer = f"move this to a post-deploy migration ('{marker('--')}' at its top), which runs once no " \
                    f"instance of the previous version is left; or {RULES[rule]}"
        else:
            safer = RULES[rule]
        problems.append(Problem(path, f"{rule}: {f['message']} Safer: {safer}; or, if it is safe here, "
                                f"'-- dbinit: allow {rule}: <why>' above the statement", line))
    return problems
