"""Fixtures: real servers shared across the suite (reset between tests), fresh ones for fault tests,
and a helper that runs dbinit as users run it: a process with an environment and an exit code."""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from servers import Neo4jServer, PgBouncerServer, PostgresServer, RedisSentinel, RedisServer, wait_for

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["pytester"]
_db_numbers = itertools.count(1)
# The container tests need a Docker engine and root: scripts/e2e.sh runs them.
collect_ignore = [] if os.environ.get("DBINIT_E2E") else ["e2e"]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def dbinit_env(**env: str) -> dict[str, str]:
    """A clean environment: only what the test gives, so the machine's variables do not leak in
    (but coverage's own, so that the run measures this process too)."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ") or k.startswith("COVERAGE_")}
    return {**base, "PYTHONPATH": str(ROOT), **{k: str(v) for k, v in env.items()}}


# Every password the harness and the tests use: none may appear in any output of any test.
# The servers' passwords, and the value test_placeholders.py fills in (as it and its quoted forms begin).
SECRETS = ("pg-test-pw-7Qx", "redis-test-pw-3Kd", "neo4j-test-pw-9Lm", "not-the-password", "s3cr'et", "s3cr''et",
           "s3cr\\'et")
_outputs: list[str] = []  # what dbinit processes printed during the current test


class _Recording:
    """A process's output stream that keeps a copy of whatever the test reads from it."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, *args):
        text = self._stream.read(*args)
        _outputs.append(text)
        return text

    def readline(self, *args):
        line = self._stream.readline(*args)
        _outputs.append(line)
        return line

    def __iter__(self):
        return iter(self.readline, "")

    def __getattr__(self, name):
        return getattr(self._stream, name)


class DbinitProcess(subprocess.Popen):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stdout, self.stderr = _Recording(self.stdout), _Recording(self.stderr)

    def communicate(self, *args, **kwargs):
        self.stdout, self.stderr = self.stdout._stream, self.stderr._stream  # raw reads from here on
        out, err = super().communicate(*args, **kwargs)
        _outputs.extend(filter(None, (out, err)))
        return out, err


def start_dbinit(*args: str, cwd: Path | None = None, **env: str) -> subprocess.Popen:
    return DbinitProcess([sys.executable, "-m", "dbinit", *args], cwd=cwd or ROOT, env=dbinit_env(**env),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _leaks(texts) -> list[str]:
    return sorted({secret for secret in SECRETS for text in texts if text and secret in text})


@pytest.fixture(autouse=True)
def no_password_in_any_dbinit_output():
    _outputs.clear()
    yield
    leaked = _leaks(_outputs)
    _outputs.clear()
    assert not leaked, f"a password reached dbinit's output: {leaked}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """The test's own captured output (prints, logs) is searched for the passwords too."""
    outcome = yield
    report = outcome.get_result()
    if report.passed and report.when == "call":
        leaked = _leaks([report.capstdout, report.capstderr, report.caplog])
        if leaked:
            report.outcome, report.longrepr = "failed", f"a password appeared in the test's output: {leaked}"


def unique(name: str) -> str:
    """A database or role name of this test's own on a server other tests (and workers) share."""
    return f"{name}_{os.getpid()}_{next(_db_numbers)}"


def write_files(directory: Path, files: dict[str, str]) -> Path:
    """A migrations folder holding `files` (name, or subfolder/name: text), added to what is there."""
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def run_dbinit(*args: str, cwd: Path | None = None, timeout: float = 120, **env: str) -> Result:
    proc = start_dbinit(*args, cwd=cwd, **env)
    out, err = proc.communicate(timeout=timeout)
    return Result(proc.returncode, out, err)


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer().start()
    yield server
    server.remove()


@pytest.fixture
def pg(postgres_server):
    """A fresh, empty database on the shared server; .url connects to it."""
    name = unique("t")
    postgres_server.psql(f"CREATE DATABASE {name}")

    class Db:
        server = postgres_server
        dbname = name
        url = postgres_server.url(dbname=name)

        @staticmethod
        def sql(query: str) -> str:
            return postgres_server.psql(query, dbname=name)

        @staticmethod
        @contextmanager
        def gate():
            """While the block runs, a migration running GATE waits in the server, so a test knows a
            runner is mid-migration (await_statement) without sleeping and hoping."""
            with psycopg.connect(postgres_server.url(dbname=name), application_name=f"gate {name}"):
                yield

        @staticmethod
        def await_statement(fragment: str, timeout: float = 30) -> None:
            """Until a dbinit session on this database is running a statement containing `fragment`
            (dbinit sends a file's last semicolon on a line of its own)."""
            fragment = fragment.rstrip(";")
            wait_for(lambda: postgres_server.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'dbinit%' AND state = 'active' "
                f"AND datname = '{name}' AND strpos(query, $f${fragment}$f$) > 0", dbname=name) != "0",
                timeout, f"no dbinit session ran {fragment!r}")

    yield Db
    postgres_server.psql(f"DROP DATABASE {name} WITH (FORCE)")


# A migration's statement that runs while the test holds pg.gate() open (a loop, not a lock wait:
# dbinit would give a lock wait up after DBINIT_PG_LOCK_TIMEOUT and try again; the snapshot is
# cleared because a transaction otherwise sees pg_stat_activity as it first read it).
GATE = ("DO $$ BEGIN WHILE EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'gate ' || current_database()) "
        "LOOP PERFORM pg_sleep(0.05), pg_stat_clear_snapshot(); END LOOP; END $$;")


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.remove()


@pytest.fixture
def redis_db(redis_server):
    redis_server.client().flushall()
    redis_server.client().function_flush()  # FLUSHALL keeps the Functions libraries
    return redis_server


@pytest.fixture(scope="session")
def neo4j_server():
    server = Neo4jServer().start()
    yield server
    server.remove()


@pytest.fixture
def neo4j_db(neo4j_server):
    neo4j_server.reset()
    return neo4j_server


@pytest.fixture
def make_server():
    """Servers of the test's own, for stopping, killing and delayed starts; removed afterwards."""
    made = []

    def make(kind, **kwargs):
        server = {"postgres": PostgresServer, "redis": RedisServer, "neo4j": Neo4jServer,
                  "pgbouncer": PgBouncerServer, "sentinel": RedisSentinel}[kind](**kwargs)
        made.append(server)
        return server

    yield make
    for server in made:
        server.remove()


@pytest.fixture
def migrations(tmp_path):
    """An empty migrations directory; write(name, text) adds a file."""
    directory = tmp_path / "migrations"
    directory.mkdir()

    class Dir:
        path = directory

        @staticmethod
        def write(name: str, text: str | bytes) -> Path:
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                target.write_bytes(text)
            else:
                target.write_text(text, encoding="utf-8")
            return target

    return Dir


@pytest.fixture(params=["postgres", "neo4j", "redis"])
def target(request):
    """Each database behind the same behaviour: the conformance suite runs once per backend."""
    from targets import Neo4jTarget, PostgresTarget, RedisTarget

    if request.param == "postgres":
        return PostgresTarget(request.getfixturevalue("pg"))
    if request.param == "neo4j":
        return Neo4jTarget(request.getfixturevalue("neo4j_db"))
    return RedisTarget(request.getfixturevalue("redis_db"))
