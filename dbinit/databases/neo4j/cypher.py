"""Cypher migration text: split into statements, respecting strings, comments and backticks."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ...errors import InvalidMigrations, Problem
from ...migration import Migration, Statement

# cypher-shell's own transaction commands: dbinit manages transactions itself, so they are dropped.
_SHELL_TX = {":begin", ":commit", ":rollback"}
_SCHEMA = re.compile(
    r"(CREATE|DROP)\s+((OR\s+REPLACE\s+)?(FULLTEXT|TEXT|RANGE|POINT|LOOKUP|VECTOR|BTREE)\s+)?(INDEX|CONSTRAINT)\b",
    re.IGNORECASE,
)
_CREATE_SCHEMA = re.compile(r"CREATE\s+(\w+\s+)?(INDEX|CONSTRAINT)\b", re.IGNORECASE)
_IF_NOT_EXISTS = re.compile(r"\bIF\s+NOT\s+EXISTS\b", re.IGNORECASE)
_IN_TRANSACTIONS = re.compile(r"\bIN\s+(\d+\s+)?(CONCURRENT\s+)?TRANSACTIONS\b|\bUSING\s+PERIODIC\s+COMMIT\b", re.IGNORECASE)
_SHOW = re.compile(r"SHOW\b", re.IGNORECASE)
# What may remove dbinit's own nodes or constraints: deletes, label removal, drops, and any
# procedure (apoc.schema.assert drops every constraint, apoc.periodic.* deletes in batches).
_MAY_DELETE = re.compile(r"\b(DELETE|REMOVE|DROP)\b|\bCALL\s+[A-Za-z_]", re.IGNORECASE)


@dataclass(frozen=True)
class CypherStatement(Statement):
    code: str = ""  # the text with string contents and comments blanked, for classification

    @property
    def kind(self) -> str:
        """schema (index/constraint), auto (must run in an implicit transaction), read (SHOW), or data."""
        if _SCHEMA.match(self.code):
            return "schema"
        if _IN_TRANSACTIONS.search(self.code):
            return "auto"
        if _SHOW.match(self.code):
            return "read"
        return "data"

    @property
    def may_delete(self) -> bool:
        return bool(_MAY_DELETE.search(self.code))


def split(text: str, path: Path | None = None) -> list[CypherStatement]:
    """Statements separated by ';' outside strings, backtick names and comments."""
    statements: list[CypherStatement] = []
    buf: list[str] = []  # the statement as written
    code: list[str] = []  # the same with literals and comments blanked
    start_line = None
    line = 1
    i, n = 0, len(text)

    def flush() -> None:
        nonlocal start_line
        stmt = "".join(buf).strip()
        if stmt and start_line is not None:
            statements.append(CypherStatement(stmt, start_line, " ".join("".join(code).split())))
        buf.clear()
        code.clear()
        start_line = None

    def fail(message: str, at: int) -> None:
        raise InvalidMigrations([Problem(path, message, at)])

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            buf.append(c)
            code.append(" ")
            i += 1
        elif c.isspace():
            buf.append(c)
            code.append(" ")
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                fail("unterminated /* comment", line)
            newlines = text.count("\n", i, end)
            line += newlines
            i = end + 2
            buf.append("\n" * newlines or " ")  # keep line numbers of the statement true
            code.append(" ")
        elif c == ":" and start_line is None:
            end = text.find("\n", i)
            command = text[i: n if end < 0 else end].strip()
            if command.split()[0].lower() not in _SHELL_TX:
                fail(f"cypher-shell command {command.split()[0]} is not Cypher; dbinit runs plain Cypher statements", line)
            i = n if end < 0 else end
        elif c == ";":
            flush()
            i += 1
        elif c in "'\"`":
            if start_line is None:
                start_line = line
            j, opened = i + 1, line
            while True:
                if j >= n:
                    what = "backtick name" if c == "`" else "string"
                    fail(f"unterminated {what} (opened with {c})", opened)
                ch = text[j]
                if ch == "\\" and c != "`":
                    j += 2
                    continue
                if ch == c:  # `` (an escaped backtick) reads as two names back to back: the same text
                    break
                j += 1
            literal = text[i: j + 1]
            line += literal.count("\n")
            buf.append(literal)
            code.append(c + c if c != "`" else literal)
            i = j + 1
        else:
            if start_line is None:
                start_line = line
            buf.append(c)
            code.append(c)
            i += 1
    flush()
    return statements


@lru_cache(maxsize=None)
def parse(migration: Migration) -> list[CypherStatement]:
    """Split once per file: validation, warnings and apply all ask."""
    return split(migration.text, migration.path)


def warnings(migration: Migration) -> list[Problem]:
    """Schema statements that fail when a partly applied file is retried."""
    return [
        Problem(migration.path, "CREATE INDEX/CONSTRAINT without IF NOT EXISTS fails when the file is retried "
                "after a later statement failed; add IF NOT EXISTS", s.line)
        for s in parse(migration)
        if _CREATE_SCHEMA.match(s.code) and not _IF_NOT_EXISTS.search(s.code)
    ]
