"""Typed errors. Each carries its exit code; cli.py is the one place that turns them into an exit."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, pointing at the line where it is."""

    path: Path | None
    message: str
    line: int | None = None
    column: int | None = None

    @property
    def where(self) -> str:
        """path:line:column, as far as known."""
        where = "" if self.path is None else str(self.path)
        if self.path is not None and self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class DbinitError(Exception):
    exit_code = 1
    source = "dbinit"  # what the log line names: a database, or dbinit itself


class UsageError(DbinitError):
    exit_code = 64


class Pending(DbinitError):
    """`dbinit check`: migrations are pending (nothing is wrong, but the databases are not current)."""

    exit_code = 3


class Drifted(DbinitError):
    """A database's schema is not the one dbinit recorded: changed by hand since (check --drift, or
    migrate with DBINIT_DRIFT=fail)."""

    exit_code = 4


class TenantsFailed(DbinitError):
    """A fleet run in which some tenants failed (or were not attempted after too many failures);
    the others finished. Each tenant's outcome is in the run report."""

    exit_code = 5


class InvalidMigrations(DbinitError):
    """Bad names, duplicates, syntax, changed checksums, out-of-order files."""

    exit_code = 65

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class NotReady(DbinitError):
    """A database did not answer before the deadline (or one attempt failed transiently)."""

    exit_code = 69


class LockTimeout(DbinitError):
    exit_code = 75


class LockLost(LockTimeout):
    """The lease ran out (a paused or partitioned runner) and another runner may hold the lock:
    stopped before the next write, which the database's own fence would refuse anyway."""

    def __init__(self, db: str, detail: str):
        self.source = db
        super().__init__(f"{db}: the migration lock was lost: {detail}; stopped before writing anything more, "
                         "what this run applied is recorded, the holder finishes the rest")


class ConnectionLost(NotReady):
    """A database went away in the middle of a run; names the file it was running, if any."""

    def __init__(self, db: str, reason: str, path: Path | None = None, outcome: str = ""):
        self.source, self.path = db, path
        where = f"while running {path}" if path is not None else "during the run"
        super().__init__(f"{db}: the connection was lost {where}: {reason}"
                         + (f"; {outcome}" if outcome else "") + "; the next run picks up from the recorded history")


class AuthRefused(DbinitError):
    exit_code = 77


def credentials_refused(db: str, where: str, given: bool, said: str, check: str, ask: str = "a password") -> AuthRefused:
    """Credentials the server refused, with the variables to set: none given (`ask`: what the server
    wants), or the ones given are wrong (`check`: where they are set)."""
    if not given:
        return AuthRefused(f"{db}: the server at {where} asks for {ask} and none was given: {check}")
    return AuthRefused(f"{db}: authentication refused at {where}: {said.rstrip('.')}; {check}")


class ConfigError(DbinitError):
    exit_code = 78


class MissingDatabase(ConfigError):
    """The server answers, but the database dbinit is set to is not there (`dbinit create` makes it;
    DBINIT_CREATE_DATABASE lets a run make it)."""


class MigrationFailed(DbinitError):
    """A migration ran and failed; names the database, the file and the line."""

    exit_code = 1

    def __init__(self, db: str, path: Path | None, detail: str, line: int | None = None,
                 statement: str | None = None, code: str | None = None):
        self.db, self.path, self.detail, self.line = db, path, detail, line
        self.statement, self.code = statement, code  # the statement's first line; SQLSTATE or Neo4j code
        self.source = db
        super().__init__(str(Problem(path, detail, line)))


class HookFailed(DbinitError):
    """DBINIT_BEFORE_MIGRATE exited non-zero (or could not run): nothing was applied."""

    exit_code = 1


class PreconditionFailed(DbinitError):
    """A migration's precondition was false, or could not be asked: nothing of that file or after it
    was applied (what ran before it stays applied)."""

    exit_code = 6

    def __init__(self, db: str, path: Path | None, line: int | None, detail: str):
        self.source = db
        super().__init__(str(Problem(path, detail, line)))


class AfterHookFailed(DbinitError):
    """DBINIT_AFTER_MIGRATE exited non-zero (or could not run): what was applied stays applied and
    recorded; a run that finds nothing pending does not run the hook again."""

    exit_code = 7


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised from the signal handler so open transactions roll back.

    A KeyboardInterrupt, not a DbinitError: no `except Exception` may swallow it, and psycopg
    cancels a running query on it.
    """

    def __init__(self, signum: int):
        import signal

        self.exit_code = 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")
