"""PostgreSQL migration text: split with Postgres's own parser (pglast), checked offline."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidMigrations, Problem
from .files import Migration, Statement, line_of

NO_TRANSACTION = re.compile(r"--\s*dbinit:\s*no-transaction\s*")


@dataclass(frozen=True)
class SqlScript:
    statements: list[Statement]
    transactional: bool


def _needs_no_transaction(node) -> str | None:
    """Why this statement cannot run inside a transaction block, or None."""
    from pglast import ast

    kind = type(node).__name__
    if isinstance(node, (ast.IndexStmt, ast.DropStmt)) and node.concurrent:
        return "CONCURRENTLY"
    if isinstance(node, ast.ReindexStmt) and any(p.defname == "concurrently" for p in node.params or ()):
        return "REINDEX CONCURRENTLY"
    if isinstance(node, ast.VacuumStmt) and node.is_vacuumcmd:
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


def parse(migration: Migration) -> SqlScript:
    """Statements of a migration, or InvalidMigrations naming file, line and column."""
    from pglast import ast, enums, parser

    text, path = migration.text, migration.path
    transactional = not NO_TRANSACTION.fullmatch(text.split("\n", 1)[0].strip())
    try:
        raw = parser.parse_sql(text)
    except parser.ParseError as e:
        offset = e.args[1] if len(e.args) > 1 and isinstance(e.args[1], int) else 0
        line = line_of(text, offset)
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        message = f"SQL syntax error: {e.args[0]}"
        if text.split("\n")[line - 1].lstrip().startswith("\\"):
            message += " (psql meta-commands such as \\i or \\set are not SQL; dbinit runs plain SQL)"
        raise InvalidMigrations([Problem(path, message, line, column)]) from None

    statements: list[tuple[object, Statement]] = []
    for r in raw:
        end = len(text) if not r.stmt_len else r.stmt_location + r.stmt_len
        statements.append((r.stmt, Statement(text[r.stmt_location:end].strip(), line_of(text, r.stmt_location))))

    def is_tx(node, *kinds) -> bool:
        return isinstance(node, ast.TransactionStmt) and node.kind in kinds

    TK = enums.TransactionStmtKind
    if transactional and len(statements) >= 2 and is_tx(statements[0][0], TK.TRANS_STMT_BEGIN, TK.TRANS_STMT_START) \
            and is_tx(statements[-1][0], TK.TRANS_STMT_COMMIT):
        # A file wrapped in BEGIN ... COMMIT (as written for psql) runs in dbinit's own transaction.
        statements = statements[1:-1]

    problems = []
    if transactional:
        for node, stmt in statements:
            if isinstance(node, ast.TransactionStmt) and node.kind not in (
                TK.TRANS_STMT_SAVEPOINT, TK.TRANS_STMT_RELEASE, TK.TRANS_STMT_ROLLBACK_TO
            ):
                problems.append(Problem(path, f"transaction control ({stmt.text.split()[0].upper()}) inside a migration: "
                                        "dbinit runs each migration in one transaction; remove it, or put "
                                        "'-- dbinit: no-transaction' on the first line", stmt.line))
            elif (why := _needs_no_transaction(node)) is not None:
                problems.append(Problem(path, f"{why} cannot run inside a transaction; put "
                                        "'-- dbinit: no-transaction' on the first line of the file", stmt.line))
    if problems:
        raise InvalidMigrations(problems)
    return SqlScript([s for _, s in statements], transactional)
