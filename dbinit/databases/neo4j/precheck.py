"""Every pending statement planned by the server before the first one runs (EXPLAIN runs nothing):
a syntax error or a missing procedure in the last file stops the run before the first. The common
index and constraint commands are recognised here instead (schema_commands)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from neo4j.exceptions import ClientError

from ...errors import InvalidMigrations, Problem
from ...migration import Migration
from .cypher import CypherStatement, parse
from .schema_commands import certainly_valid
from .server_errors import failure

if TYPE_CHECKING:
    from .backend import Neo4jBackend

# EXPLAIN errors that are the file's fault; any other error means EXPLAIN cannot judge the statement.
_EXPLAIN_FINDS = ("Neo.ClientError.Statement.SyntaxError", "Neo.ClientError.Procedure.ProcedureNotFound")
# Planning is the server's CPU, one core per session: two sessions halve the wait on a server with
# two cores or more (bench/RESULTS.md).
_SESSIONS = 2

Located = tuple[int, Migration, CypherStatement]


def precheck(backend: Neo4jBackend, migrations: list[Migration]) -> None:
    pending = [(n, m, stmt) for n, m in enumerate(migrations) for stmt in parse(m)
               if not stmt.code.upper().startswith(("EXPLAIN", "PROFILE")) and not certainly_valid(stmt.code)]

    def explain(share: list[Located]) -> list[tuple[int, int, Problem]]:
        found = []
        with backend.session() as session:
            for n, m, stmt in share:
                try:
                    session.run("EXPLAIN " + stmt.text, dict(m.parameters)).consume()
                except ClientError as e:
                    if e.code in _EXPLAIN_FINDS:
                        found.append((n, stmt.line, Problem(
                            m.path, f"{e.code}: {(e.message or '').splitlines()[0]} "
                            "(found by EXPLAIN before anything ran)", failure(backend.name, m, stmt, e, []).line)))
        return found

    sessions = min(_SESSIONS, len(pending))  # a second session only for a second statement
    if not sessions:
        return
    with ThreadPoolExecutor(sessions) as pool:
        shares = pool.map(explain, [pending[i::sessions] for i in range(sessions)])
        problems = [p for *_, p in sorted((f for share in shares for f in share), key=lambda f: f[:2])]
    if problems:
        raise InvalidMigrations(problems)
