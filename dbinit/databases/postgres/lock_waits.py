"""Bounded lock waits: every migration waits for a table lock at most the lock timeout, then is
rolled back and retried, naming who holds the locks."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TypeVar

from ... import log, telemetry
from ...errors import MigrationFailed
from ...migration import Migration

if TYPE_CHECKING:
    from tenacity import RetryCallState

    from .backend import PostgresBackend

T = TypeVar("T")

LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout ran out (or NOWAIT)


class LockWait(Exception):
    """A statement gave up waiting for a lock; its transaction is rolled back and it may be retried."""


def timeouts(backend: PostgresBackend, lock_ms: int, scope: str) -> str:
    """SET statements for the lock timeout of this attempt and the statement timeout, if any,
    after the fence of a leased lock."""
    text = backend.locking.fence() + f"SET {scope} lock_timeout = {lock_ms};\n"
    if backend.settings.statement_timeout:
        text += f"SET {scope} statement_timeout = {int(backend.settings.statement_timeout * 1000)};\n"
    return text


def with_lock_retries(backend: PostgresBackend, migration: Migration, attempt: Callable[[int], T]) -> T:
    """`attempt(lock_timeout_ms)` until it does not give up on a lock: the transaction waits
    at most the lock timeout, so the application's queries queue behind it no longer than
    that; then it is rolled back, and tried again after a jittered pause with a longer timeout
    (GitLab's with_lock_retries). Each retry names who holds the locks; when the retries run
    out the migration fails with that diagnosis and nothing of it applied."""
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

    base, tries = backend.settings.lock_timeout, backend.settings.lock_retries + 1

    def lock_ms(n: int) -> int:
        return int(base * min(1.5 ** (n - 1), 4) * 1000)

    def report(state: RetryCallState) -> None:
        n = state.attempt_number
        log.warn(backend.name, f"{migration.label} {migration.description}: gave up waiting {lock_ms(n) / 1000:g} s "
                 f"for a lock (attempt {n} of {tries}); {blockers(backend, migration)}; trying again in "
                 f"{state.next_action.sleep if state.next_action else 0:.1f} s", version=migration.version, attempt=n)
        telemetry.retried(backend.name, n, lock_ms(n) / 1000)

    retrying = Retrying(retry=retry_if_exception_type(LockWait), stop=stop_after_attempt(tries), reraise=True,
                        wait=wait_exponential_jitter(multiplier=0.5, max=10, jitter=0.5), before_sleep=report)
    try:
        for state in retrying:
            with state:
                return attempt(lock_ms(state.retry_state.attempt_number))
    except LockWait:
        raise MigrationFailed(backend.name, migration.path, f"gave up waiting for a lock {tries} times (lock timeout "
                              f"{base:g} s growing to {lock_ms(tries) / 1000:g} s, DBINIT_PG_LOCK_TIMEOUT and "
                              f"DBINIT_PG_LOCK_RETRIES); {blockers(backend, migration)}; nothing of this migration "
                              "was applied") from None
    raise AssertionError("unreachable: the last try returns or raises")


def blockers(backend: PostgresBackend, migration: Migration) -> str:
    """Who holds locks on the tables the migration names, oldest transaction first."""
    from .sql import relations

    tables = relations(migration.text)
    rows = backend.connection.execute(
        """SELECT a.pid, a.usename, a.application_name, a.state,
                  extract(epoch FROM now() - coalesce(a.xact_start, a.query_start))::int,
                  left(split_part(btrim(a.query), E'\n', 1), 100)
             FROM pg_stat_activity a
            WHERE a.pid <> pg_backend_pid() AND a.pid IN (
                  SELECT l.pid FROM pg_locks l WHERE l.granted
                     AND l.relation IN (SELECT to_regclass(n) FROM unnest(%s::text[]) n))
            ORDER BY a.xact_start NULLS LAST LIMIT 3""", (tables,)).fetchall()
    if not rows:
        return f"no session holds a lock on {', '.join(tables) or 'its tables'} any more"
    return "blocked by " + "; ".join(
        f"pid {pid} (user {user}, application {app or '-'!r}, {state}, transaction open {age} s: {query})"
        for pid, user, app, state, age, query in rows)
