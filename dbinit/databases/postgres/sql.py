"""PostgreSQL migration text: split with Postgres's own parser (pglast), checked offline."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...errors import InvalidMigrations, Problem
from ...migration import Migration, Statement, line_of

NO_TRANSACTION = re.compile(r"--\s*dbinit:\s*no-transaction\s*")
# pg_dump (since 17.6, 16.10, 15.14, 14.19, 13.22) wraps its output in these: they only guard psql
# against a malicious dump's meta-commands, and dbinit runs no meta-command at all.
_RESTRICT = re.compile(r"\\(un)?restrict\s+\S+")
_COPY_FROM_STDIN = re.compile(r"COPY\s.+\sFROM\s+stdin\b.*;", re.IGNORECASE)
_STDIN = re.compile(r"FROM\s+stdin", re.IGNORECASE)


@dataclass(frozen=True)
class SqlStatement(Statement):
    copy: str | None = None  # the rows of a COPY … FROM stdin, as pg_dump writes them after it
    index: str | None = None  # the (schema-qualified where written) name of an index it creates
    schemas: frozenset[str] = frozenset()  # the schemas it names: a dump's statements on dbinit's own are left to it


@dataclass(frozen=True)
class SqlScript:
    statements: list[SqlStatement]
    transactional: bool

    @property
    def copies(self) -> bool:
        return any(s.copy is not None for s in self.statements)


def _take_pg_dump_lines(text: str, path: Path | None) -> tuple[str, list[str]]:
    """pg_dump's lines that are not SQL: \\restrict and \\unrestrict dropped, the data blocks after
    COPY … FROM stdin (up to their \\. line) taken out in order. Blank lines keep line numbers."""
    if "\n\\" not in "\n" + text and not _STDIN.search(text):
        return text, []
    lines, copies, i = text.split("\n"), [], 0
    while i < len(lines):
        stripped = lines[i].strip()
        if _RESTRICT.fullmatch(stripped):
            lines[i] = ""
        elif _COPY_FROM_STDIN.fullmatch(stripped):
            end = i + 1
            while end < len(lines) and lines[end] != "\\.":
                end += 1
            if end == len(lines):
                raise InvalidMigrations([Problem(path, "COPY … FROM stdin has no \\. line ending its rows", i + 1)])
            copies.append("".join(line + "\n" for line in lines[i + 1:end]))
            lines[i + 1:end + 1] = [""] * (end - i)
            i = end
        i += 1
    return "\n".join(lines), copies


def _needs_no_transaction(kind: str, node: dict[str, Any]) -> str | None:
    """Why this statement cannot run inside a transaction block, or None."""
    if kind in ("IndexStmt", "DropStmt") and node.get("concurrent"):
        return "CONCURRENTLY"
    if kind == "ReindexStmt" and any(p["DefElem"]["defname"] == "concurrently" for p in node.get("params", ())):
        return "REINDEX CONCURRENTLY"
    if kind == "VacuumStmt" and node.get("is_vacuumcmd"):
        return "VACUUM"
    return {
        "CreatedbStmt": "CREATE DATABASE",
        "DropdbStmt": "DROP DATABASE",
        "AlterSystemStmt": "ALTER SYSTEM",
        "CreateTableSpaceStmt": "CREATE TABLESPACE",
        "DropTableSpaceStmt": "DROP TABLESPACE",
        "CreateSubscriptionStmt": "CREATE SUBSCRIPTION",
        "DropSubscriptionStmt": "DROP SUBSCRIPTION",
    }.get(kind)


_TX_ALLOWED = ("TRANS_STMT_SAVEPOINT", "TRANS_STMT_RELEASE", "TRANS_STMT_ROLLBACK_TO")


@lru_cache(maxsize=None)
def parse(migration: Migration) -> SqlScript:
    """Statements of a migration, or InvalidMigrations naming file, line and column.

    Parsed once per file (validation, then apply), through pglast's JSON output: building its
    Python syntax tree costs 25 times as much.
    """
    from pglast import parser

    path = migration.path
    text, copies = _take_pg_dump_lines(migration.text, path)
    transactional = not NO_TRANSACTION.fullmatch(text.split("\n", 1)[0].strip())
    try:
        tree = json.loads(parser.parse_sql_json(text))
    except parser.ParseError as e:
        offset = e.args[1] if len(e.args) > 1 and isinstance(e.args[1], int) else 0  # characters
        line = line_of(text, offset)
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        message = f"SQL syntax error: {e.args[0]}"
        if text.split("\n")[line - 1].lstrip().startswith("\\"):
            message += " (psql meta-commands such as \\i or \\set are not SQL; dbinit runs plain SQL)"
        raise InvalidMigrations([Problem(path, message, line, column)]) from None

    data = text.encode()  # the parser's locations are byte offsets
    statements: list[tuple[str, dict[str, Any], SqlStatement]] = []
    rows = iter(copies)
    for raw in tree.get("stmts", ()):
        (kind, node), = raw["stmt"].items()
        start = raw.get("stmt_location", 0)
        end = start + raw["stmt_len"] if raw.get("stmt_len") else len(data)
        stdin = kind == "CopyStmt" and node.get("is_from") and not node.get("filename")
        index = None
        if kind == "IndexStmt" and node.get("idxname"):
            schema = node.get("relation", {}).get("schemaname")
            index = f'"{schema}"."{node["idxname"]}"' if schema else f'"{node["idxname"]}"'
        statement = SqlStatement(data[start:end].decode().strip(), data.count(b"\n", 0, start) + 1,
                                 next(rows, None) if stdin else None, index, _schemas(kind, node))
        if stdin and statement.copy is None:
            raise InvalidMigrations([Problem(path, "COPY … FROM stdin without its rows; end them with a \\. line "
                                             "as pg_dump does, or use INSERT", statement.line)])
        statements.append((kind, node, statement))

    def tx_kind(entry: tuple[str, dict[str, Any], SqlStatement]) -> str | None:
        return entry[1].get("kind") if entry[0] == "TransactionStmt" else None

    if transactional and len(statements) >= 2 and tx_kind(statements[0]) in ("TRANS_STMT_BEGIN", "TRANS_STMT_START") \
            and tx_kind(statements[-1]) == "TRANS_STMT_COMMIT":
        # A file wrapped in BEGIN ... COMMIT (as written for psql) runs in dbinit's own transaction.
        statements = statements[1:-1]

    problems = []
    if transactional:
        for kind, node, stmt in statements:
            if kind == "TransactionStmt" and node.get("kind") not in _TX_ALLOWED:
                problems.append(Problem(path, f"transaction control ({stmt.text.split()[0].upper()}) inside a migration: "
                                        "dbinit runs each migration in one transaction; remove it, or put "
                                        "'-- dbinit: no-transaction' on the first line", stmt.line))
            elif (why := _needs_no_transaction(kind, node)) is not None:
                problems.append(Problem(path, f"{why} cannot run inside a transaction; put "
                                        "'-- dbinit: no-transaction' on the first line of the file", stmt.line))
    if problems:
        raise InvalidMigrations(problems)
    return SqlScript([s for _, _, s in statements], transactional)


def _schemas(kind: str, node: dict[str, Any]) -> frozenset[str]:
    """The schemas a statement names: in its relations, or as the schema it creates, alters,
    grants on, comments on or drops."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if "relname" in value and "relpersistence" in value and value.get("schemaname"):
                found.add(value["schemaname"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(node)
    if kind == "CreateSchemaStmt" and node.get("schemaname"):
        found.add(node["schemaname"])
    objects = node.get("objects") or [node.get("object")]
    if "OBJECT_SCHEMA" in (node.get("objectType"), node.get("objtype"), node.get("removeType")):
        found.update(o["String"]["sval"] for o in objects if isinstance(o, dict) and "String" in o)
    elif kind == "DropStmt":  # DROP TABLE schema.name: a list of names, the schema before the last
        for o in objects:
            names = [i["String"]["sval"] for i in o.get("List", {}).get("items", []) if "String" in i]
            if len(names) >= 2:
                found.add(names[-2])
    return frozenset(found)


def relations(text: str) -> list[str]:
    """Every table a script names (schema-qualified where written), to find who holds their locks."""
    from pglast import parser

    found: dict[str, None] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "relname" in node and "relpersistence" in node:  # a RangeVar, with or without its wrapper key
                found[f"{node['schemaname']}.{node['relname']}" if node.get("schemaname") else node["relname"]] = None
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(parser.parse_sql_json(_take_pg_dump_lines(text, None)[0])))
    return list(found)
