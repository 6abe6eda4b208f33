"""One file applied: BEGIN, its statements, its history row and COMMIT as one round trip (rows of
pg_dump's COPY through the COPY protocol), or a no-transaction file statement by statement; every
attempt bounded by the lock timeout and retried; a failure named by its statement's line."""
from __future__ import annotations

import re
from dataclasses import astuple
from functools import partial
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql as pgsql

from ... import audit, log
from ...errors import ConnectionLost, MigrationFailed, Problem
from ...history import AUDIT, Applied, Audit
from ...migration import Migration, Statement, kept_down
from .lock_waits import LOCK_NOT_AVAILABLE, LockWait, timeouts, with_lock_retries
from .locking import TABLE
from .server_errors import describe_error, last_words
from .sql import SqlScript, SqlStatement, parse

if TYPE_CHECKING:
    from .backend import PostgresBackend

COLUMNS = "version, description, script, checksum, applied_at, execution_ms, success, applied_by"
DOWN = "down_script"  # the down script's text, kept for a rollback from an image without the file
BASELINED = "baselined"  # recorded by `baseline`, not run
AUDITED = ", ".join(AUDIT)  # which run wrote the record (NULL in a record of dbinit 0.2)


def stored(row: tuple[Any, ...]) -> Applied:
    """A history record from a row of COLUMNS, BASELINED and AUDITED."""
    version, description, script, checksum, applied_at, ms, success, by, baselined, *run = row
    return Applied(version, description, script, checksum, applied_at, ms, success, by, baselined, Audit(*run))


def audit_values() -> pgsql.Composed:
    """The run's AUDITED, as literals."""
    return pgsql.SQL(", ").join(map(pgsql.Literal, astuple(audit.current())))


def row_of(result: psycopg.Cursor[tuple[Any, ...]] | tuple[Any, ...] | None) -> tuple[Any, ...]:
    """The one row a statement of dbinit's own returns."""
    row = result.fetchone() if isinstance(result, psycopg.Cursor) else result
    assert row is not None, "dbinit's own statement returned no row"
    return row


def _position(e: psycopg.Error) -> int | None:
    """Where in its statement the server found the error, from 0."""
    return int(e.diag.statement_position) - 1 if e.diag.statement_position else None


# Where a file began in a transaction of many files (DBINIT_PG_TRANSACTION=all): set as it begins.
_FILE_STARTED = "dbinit.file_started"


def _history_row(b: PostgresBackend, migration: Migration, success: bool, among: bool = False) -> pgsql.Composed:
    # now() is the transaction's start and clock_timestamp() the present: the server measures the run
    # (`among` others in one transaction: from where this file began).
    values = pgsql.SQL(", ").join(map(pgsql.Literal, (migration.version, migration.description, migration.script,
                                                      migration.checksum)))
    # A repeatable file's record is replaced by each run of it; a versioned one's is written once.
    again = pgsql.SQL(" ON CONFLICT (version) DO UPDATE SET ") + pgsql.SQL(", ").join(
        pgsql.SQL("{0} = excluded.{0}").format(pgsql.Identifier(c))
        for c in [*COLUMNS.split(", ")[1:], DOWN, BASELINED, *AUDIT]
    ) if migration.repeatable else pgsql.SQL("")
    began = pgsql.SQL("current_setting({})::timestamptz").format(pgsql.Literal(_FILE_STARTED)) if among else \
        pgsql.SQL("now()")
    return pgsql.SQL("{}INSERT INTO {} ({}, {}, {}) VALUES ({}, now(), "
                     "(extract(epoch FROM clock_timestamp() - {}) * 1000)::int, {}, {}, {}, {}){} RETURNING {}").format(
        _covered(b, migration), pgsql.Identifier(b.schema, TABLE), pgsql.SQL(COLUMNS), pgsql.Identifier(DOWN),
        pgsql.SQL(AUDITED), values, began, pgsql.Literal(success), pgsql.Literal(b.owner),
        pgsql.Literal(kept_down(migration)), audit_values(), again, pgsql.SQL(f"{COLUMNS}, {BASELINED}, {AUDITED}"))


def _covered(b: PostgresBackend, migration: Migration) -> pgsql.Composable:
    """A checkpoint's records of the files it stands for, in the same statement as its own."""
    if not migration.covers:
        return pgsql.SQL("")
    rows = pgsql.SQL(", ").join(
        pgsql.SQL("({}, now(), 0, true, {}, true, {})").format(
            pgsql.SQL(", ").join(map(pgsql.Literal, (version, description, migration.script, checksum))),
            pgsql.Literal(b.owner), audit_values())
        for version, description, checksum in migration.covers)
    return pgsql.SQL("WITH covered AS (INSERT INTO {} ({}, {}, {}) VALUES {}) ").format(
        pgsql.Identifier(b.schema, TABLE), pgsql.SQL(COLUMNS), pgsql.Identifier(BASELINED), pgsql.SQL(AUDITED), rows)


def _one_round_trip(b: PostgresBackend, migration: Migration, script: SqlScript, tail: pgsql.Composable,
                    lock_ms: int) -> psycopg.Cursor:
    """BEGIN, the statements, `tail` and COMMIT sent as one simple query: one round trip per
    migration. On failure all of it is rolled back and the error names the statement's line."""
    begin = "BEGIN;\n" + timeouts(b, lock_ms, "LOCAL")
    parts, offsets, position = [begin], [], len(begin)
    for stmt in script.statements:
        offsets.append(position)
        parts.append(stmt.text + "\n;\n")  # newline first: a trailing -- comment must not swallow the ;
        position += len(stmt.text) + 3
    parts.append(tail.as_string(b.connection) + ";\nCOMMIT;\n" + b.reset)
    try:
        return b.connection.execute("".join(parts))
    except psycopg.Error as e:
        if b.connection.broken or b.connection.closed:
            raise ConnectionLost(b.name, last_words(e), migration.path,
                                 "a transaction cut off before its COMMIT was rolled back") from None
        if b.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            b.connection.execute("ROLLBACK")
        b.raise_if_fenced(e)
        if e.sqlstate == LOCK_NOT_AVAILABLE:
            raise LockWait() from None
        at = int(e.diag.statement_position or 0) - 1
        for stmt, offset in zip(script.statements, offsets):
            if 0 <= at - offset < len(stmt.text):
                raise _failure(b, migration, stmt, e, [], True, at - offset) from None
        raise _locate(b, migration, script, e, lock_ms) from None


def _locate(b: PostgresBackend, migration: Migration, script: SqlScript, error: psycopg.Error, lock_ms: int) -> MigrationFailed:
    """An error without a position: run the statements again, one by one, in a transaction
    that is always rolled back (with the same timeouts), to find the one that fails (the
    failure path only)."""
    with b.connection.transaction(force_rollback=True):
        b.connection.execute(timeouts(b, lock_ms, "LOCAL"))
        for stmt in script.statements:
            try:
                with b.connection.transaction():
                    b.connection.execute(stmt.text)
            except psycopg.Error as e:
                return _failure(b, migration, stmt, e, [], True, _position(e))
    return MigrationFailed(b.name, migration.path, describe_error(error) + "; the migration was rolled back")


def _run_each(b: PostgresBackend, migration: Migration, script: SqlScript, done: list[Statement]) -> None:
    """A no-transaction migration: each statement on its own, as psql would run them, each with
    the lock timeout and its own retries."""
    for stmt in script.statements:
        with_lock_retries(b, migration, partial(_run_one, b, migration, stmt, done=done))
        done.append(stmt)


def _run_one(b: PostgresBackend, migration: Migration, stmt: SqlStatement, lock_ms: int, *, done: list[Statement]) -> None:
    try:
        b.connection.execute(timeouts(b, lock_ms, "SESSION"))
        _drop_invalid_index(b, migration, stmt)
        _execute(b, stmt)
    except psycopg.Error as e:
        if b.connection.broken or b.connection.closed:
            raise ConnectionLost(b.name, last_words(e), migration.path,
                                 f"{len(done)} statement(s) of this no-transaction file had run") from None
        if e.sqlstate == LOCK_NOT_AVAILABLE:
            raise LockWait() from None
        raise _failure(b, migration, stmt, e, done, False, _position(e)) from None


def _drop_invalid_index(b: PostgresBackend, migration: Migration, stmt: SqlStatement) -> None:
    """A CREATE INDEX CONCURRENTLY that failed (deadlock, lock timeout, a duplicate, a kill)
    leaves an INVALID index, which IF NOT EXISTS would keep forever: drop it before building."""
    if stmt.index is None:
        return
    invalid = b.connection.execute("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
                                (stmt.index,)).fetchone()
    if invalid and invalid[0]:
        log.warn(b.name, f"{migration.path}:{stmt.line}: index {stmt.index} is INVALID, left by a build "
                 "that failed; dropping it to build it again")
        b.connection.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {stmt.index}")


def _failure(b: PostgresBackend, migration: Migration, stmt: Statement, e: psycopg.Error, done: list[Statement],
             transactional: bool, offset: int | None) -> MigrationFailed:
    line = stmt.line + (stmt.text[:offset].count("\n") if offset else 0)
    detail = describe_error(e)
    if transactional:
        detail += "; the migration was rolled back"
    elif done:
        detail += f"; {len(done)} earlier statement(s) of this no-transaction migration stay committed, " \
                  "it is marked failed until 'dbinit repair'"
    first = stmt.text.splitlines()[0][:120]
    return MigrationFailed(b.name, migration.path, f"{detail} (statement: {first})", line, first, e.sqlstate)


def _execute(b: PostgresBackend, stmt: SqlStatement) -> psycopg.Cursor:
    """One statement; a COPY … FROM stdin gets its rows through the COPY protocol."""
    if stmt.copy is None:
        return b.connection.execute(stmt.text)
    cursor = b.connection.cursor()
    with cursor.copy(stmt.text) as copy:
        copy.write(stmt.copy)
    return cursor


def _with_copies(b: PostgresBackend, migration: Migration, script: SqlScript, lock_ms: int) -> Applied:
    """A file with COPY rows (pg_dump's data) cannot go as one simple query: its statements run
    one by one, still in one transaction with the history row."""
    stmt = script.statements[0]
    try:
        with b.connection.transaction():
            b.connection.execute(timeouts(b, lock_ms, "LOCAL"))
            for stmt in script.statements:
                _execute(b, stmt)
            row = row_of(b.connection.execute(_history_row(b, migration, True)))
    except psycopg.Error as e:
        if b.connection.broken or b.connection.closed:
            raise ConnectionLost(b.name, last_words(e), migration.path,
                                 "a transaction cut off before its COMMIT was rolled back") from None
        b.raise_if_fenced(e)
        if e.sqlstate == LOCK_NOT_AVAILABLE:
            raise LockWait() from None
        raise _failure(b, migration, stmt, e, [], True, _position(e)) from None
    b.connection.execute(b.reset)
    return stored(row)


def _left_to_dbinit(b: PostgresBackend, migration: Migration, script: SqlScript) -> SqlScript:
    """A plain pg_dump of a database dbinit managed (a copy of production as a new environment's
    baseline) holds dbinit's own schema: its statements are left to dbinit, which made that schema
    already, and the history rows the dump carries are adopted where their versions are not
    recorded, so the files they name are not run a second time (a changed one is refused as ever)."""
    own = [s for s in script.statements if b.schema in s.schemas]
    if not own:
        return script
    history = re.compile(rf'COPY\s+"?{re.escape(b.schema)}"?\."?{TABLE}"?', re.IGNORECASE)
    kept: list[SqlStatement] = []
    adopted = 0
    for s in script.statements:
        if b.schema not in s.schemas:
            kept.append(s)
        elif s.copy is not None and history.match(s.text):
            adopted += s.copy.count("\n")
            kept += [SqlStatement(f"CREATE TEMP TABLE dbinit_adopted (LIKE {b.table})", s.line),
                     SqlStatement(history.sub("COPY pg_temp.dbinit_adopted", s.text, count=1), s.line, s.copy),
                     SqlStatement(pgsql.SQL("INSERT INTO {} SELECT * FROM pg_temp.dbinit_adopted WHERE version <> {} "
                                            "ON CONFLICT (version) DO NOTHING").format(
                                  pgsql.Identifier(b.schema, TABLE), pgsql.Literal(migration.version)
                                  ).as_string(b.connection), s.line),
                     SqlStatement("DROP TABLE pg_temp.dbinit_adopted", s.line)]
    log.info(b.name, f"{migration.path}: {len(own)} statement(s) on dbinit's own schema {b.schema!r} left to dbinit "
             "(a dump of a database it managed)" + (f"; {adopted} history record(s) it carries adopted" if adopted
                                                     else ""))
    return SqlScript(kept, script.transactional)


def ungroupable(migrations: list[Migration]) -> list[Problem]:
    """DBINIT_PG_TRANSACTION=all: a no-transaction file cannot join the others' transaction."""
    return [Problem(m.path, "is a no-transaction file (CREATE INDEX CONCURRENTLY and the like), and "
                    "DBINIT_PG_TRANSACTION=all runs every pending file in one transaction: move it to a release of "
                    "its own and run that with DBINIT_PG_TRANSACTION=file; nothing was run", 1)
            for m in migrations if not parse(m).transactional]


def apply_all(b: PostgresBackend, migrations: list[Migration]) -> list[Applied]:
    """DBINIT_PG_TRANSACTION=all: every file and its history row in one transaction (each file's
    own SETs reset after it, as ever), the lock timeout and its retries around all of it."""
    scripts = [(m, _left_to_dbinit(b, m, parse(m))) for m in migrations]
    first, last = migrations[0], migrations[-1]
    group = Migration(first.db, first.version, f"{first.label}…{last.label}",
                      f"({len(migrations)} files in one transaction)", first.path, "", "")

    def attempt(lock_ms: int) -> list[Applied]:
        rows: list[Applied] = []
        m, stmt = first, None
        try:
            with b.connection.transaction():
                for m, script in scripts:
                    b.connection.execute(timeouts(b, lock_ms, "LOCAL") +
                                         f"SELECT set_config('{_FILE_STARTED}', clock_timestamp()::text, true);")
                    for stmt in script.statements:
                        _execute(b, stmt)
                    stmt = None
                    rows.append(stored(row_of(b.connection.execute(_history_row(b, m, True, among=True)))))
                    b.connection.execute(b.reset)  # RESET ALL: what the file SET, and the timeouts, set again next
        except psycopg.Error as e:
            if b.connection.broken or b.connection.closed:
                raise ConnectionLost(b.name, last_words(e), m.path, "a transaction cut off before its COMMIT was "
                                     f"rolled back: none of the {len(migrations)} files is applied") from None
            b.raise_if_fenced(e)
            if e.sqlstate == LOCK_NOT_AVAILABLE:
                raise LockWait() from None
            failed = _failure(b, m, stmt or SqlStatement("(its history row)", 1), e, [], False, _position(e))
            others = len(migrations) - 1
            raise MigrationFailed(b.name, m.path, f"{failed.detail}; rolled back, and with it the {others} other "
                                  "file(s) of this transaction: none is applied (DBINIT_PG_TRANSACTION=all)",
                                  failed.line, failed.statement, failed.code) from None
        return rows

    return with_lock_retries(b, group, attempt)


def apply(b: PostgresBackend, migration: Migration) -> Applied:
    script = _left_to_dbinit(b, migration, parse(migration))
    if script.transactional and script.copies:
        return with_lock_retries(b, migration, lambda ms: _with_copies(b, migration, script, ms))
    if script.transactional:
        cursor = with_lock_retries(b, migration, lambda ms: _one_round_trip(
            b, migration, script, _history_row(b, migration, True), ms))
        row = None
        while True:  # one result each for BEGIN, the statements, the history row and COMMIT
            if cursor.description is not None:
                row = cursor.fetchone()  # the last one with rows is the history row's RETURNING
            if not cursor.nextset():
                return stored(row_of(row))
    done: list[Statement] = []
    try:
        _run_each(b, migration, script, done)
    except MigrationFailed:
        b.connection.execute(b.reset)
        b.connection.execute(_history_row(b, migration, False))
        raise
    applied = stored(row_of(b.connection.execute(_history_row(b, migration, True))))
    b.connection.execute(b.reset)
    return applied


def revert(b: PostgresBackend, migration: Migration, down: Migration) -> None:
    """Run a down script and remove the migration's history row, in one transaction where allowed."""
    script = parse(down)
    forget = pgsql.SQL("DELETE FROM {} WHERE version = {}").format(pgsql.Identifier(b.schema, TABLE),
                                                                  pgsql.Literal(migration.version))
    if script.transactional:
        with_lock_retries(b, down, lambda ms: _one_round_trip(b, down, script, forget, ms))
    else:
        b.locking.refuse_no_transaction(down)
        _run_each(b, down, script, [])
        b.connection.execute(b.reset)
        b.connection.execute(forget)


def script(b: PostgresBackend, migrations: list[Migration]) -> list[str]:
    """What applying `migrations` sends, as a script for `psql -1 -f`: the history table, each file's
    statements (pg_dump's COPY rows with them) and its history row; the lock, the fence and the
    timeouts, which belong to dbinit's own session, as comments."""
    out = ["-- for review, or for psql -1 -f on a copy of the database: one transaction for all of it,",
           f"-- where dbinit gives each file its own. Lock: {b.locking.shown}",
           *(s + ";" for s in b.history_storage())]
    for m in migrations:
        parsed = _left_to_dbinit(b, m, parse(m))
        how = "in one transaction with its history row" if parsed.transactional else \
            "no-transaction: each statement on its own (cannot run under psql -1)"
        out.append(f"\n-- {m.label} {m.description} ({m.script}, {m.phase}), {how}; each try: "
                   + " ".join(timeouts(b, int(b.settings.lock_timeout * 1000), "LOCAL").split()))
        for stmt in parsed.statements:
            out.append(stmt.text + ";" + (f"\n{stmt.copy}\\." if stmt.copy is not None else ""))
        out.append(_history_row(b, m, True).as_string(b.connection) + ";")
    return out
