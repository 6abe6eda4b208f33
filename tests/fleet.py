"""Migration sets whose every file leaves a countable mark on all three databases, and the
invariant the reliability suite checks after every fault: each mark at most once, the history
exactly the files whose mark is there, and no gap in it."""
from __future__ import annotations

import os
import threading
from collections import Counter

from conftest import start_dbinit
from servers import wait_for

# DBINIT_SOAK=N multiplies the counts (runners, kills, pauses) for a longer run than CI's.
SOAK = max(1, int(os.environ.get("DBINIT_SOAK") or 1))
LEASE = "2"  # seconds: a killed or paused runner's lease runs out quickly in these tests


class Fleet:
    def __init__(self, migrations, postgres=None, neo4j=None, redis=None):
        self.migrations, self.pg, self.neo4j, self.redis = migrations, postgres, neo4j, redis
        self.env = {"DBINIT_LOCK_LEASE": LEASE, "DBINIT_LOCK_TIMEOUT": "120", "DBINIT_WAIT_TIMEOUT": "30"}
        if postgres is not None:
            self.env["POSTGRES_URL"] = postgres.url
        if neo4j is not None:
            self.env.update(NEO4J_URI=neo4j.uri(), NEO4J_AUTH=f"neo4j/{neo4j.password}")
        if redis is not None:
            self.env["REDIS_URL"] = redis.url()
        self.count = 0

    def write(self, count: int, pg_sleep: float = 0.0) -> None:
        """`count` more migrations per configured database, each leaving mark n."""
        first, self.count = self.count + 1, self.count + count
        for n in range(first, self.count + 1):
            if self.pg is not None:
                sleep = f"SELECT pg_sleep({pg_sleep});\n" if pg_sleep else ""
                self.migrations.write(f"V{n:03d}-mark-up.sql",
                                      f"CREATE TABLE IF NOT EXISTS marks (n int);\n{sleep}INSERT INTO marks VALUES ({n});\n")
            if self.neo4j is not None:
                self.migrations.write(f"2025-01-01-{n:03d}-mark.cypher", f"CREATE (:Mark {{n: {n}}});\n")
            if self.redis is not None:
                self.migrations.write(f"V{n:03d}-mark.redis", f"RPUSH marks {n}\n")

    def start(self, *args: str, **env: str):
        return start_dbinit("migrate", "--migrations", str(self.migrations.path), *args, **{**self.env, **env})

    def settle(self) -> None:
        """After a SIGKILL: PostgreSQL runs a transaction it has been sent whole (dbinit sends a
        file and its history row in one round trip) to its COMMIT before it notices the client is
        gone, so the two reads of marks and history could straddle that commit. Wait until the
        killed runner's session has ended."""
        if self.pg is not None:
            wait_for(lambda: self.pg.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE "
                                         "'dbinit %' AND pid <> pg_backend_pid()") == "0", 30, "the session to end")

    def marks(self) -> dict[str, list[int]]:
        out = {}
        if self.pg is not None:
            exists = self.pg.sql("SELECT to_regclass('marks') IS NOT NULL") == "t"
            out["postgres"] = [int(x) for x in self.pg.sql("SELECT n FROM marks").split()] if exists else []
        if self.neo4j is not None:
            with self.neo4j.driver() as d:
                out["neo4j"] = [r[0] for r in d.execute_query("MATCH (m:Mark) RETURN m.n").records]
        if self.redis is not None:
            out["redis"] = [int(x) for x in self.redis.client().lrange("marks", 0, -1)]
        return out

    def history(self) -> dict[str, list[int]]:
        out = {}
        if self.pg is not None:
            exists = self.pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NOT NULL") == "t"
            rows = self.pg.sql("SELECT version FROM dbinit.dbinit_schema_history").split() if exists else []
            out["postgres"] = [int(v) for v in rows]
        if self.neo4j is not None:
            with self.neo4j.driver() as d:
                out["neo4j"] = [int(r[0].rsplit("-", 1)[1]) for r in
                                d.execute_query("MATCH (m:__DbinitMigration) RETURN m.version").records]
        if self.redis is not None:
            out["redis"] = [int(v) for v in self.redis.client().hkeys("dbinit:migrations")]
        return out

    def assert_consistent(self, complete: bool = False) -> dict[str, int]:
        """No mark twice, history == marks, history a gap-free prefix; returns how many applied."""
        marks, history = self.marks(), self.history()
        applied = {}
        for db, found in marks.items():
            twice = [n for n, c in Counter(found).items() if c > 1]
            assert not twice, f"{db}: applied more than once: {twice}"
            assert sorted(found) == sorted(history[db]), f"{db}: marks {sorted(found)} but history {sorted(history[db])}"
            assert sorted(history[db]) == list(range(1, len(history[db]) + 1)), f"{db}: a gap in {sorted(history[db])}"
            applied[db] = len(found)
            if complete:
                assert len(found) == self.count, f"{db}: {len(found)} of {self.count} applied"
        return applied


def finish(proc, timeout: float = 300) -> tuple[int, str]:
    """Exit code and stderr, reading as it goes: a long run's log would fill the pipe and stall it."""
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def wait_for_line(proc, text: str, timeout: float = 60) -> list[str]:
    """Read the process's stderr until a line contains `text`; the lines read so far. A process
    still silent at the timeout is killed, so the test fails instead of blocking in readline."""
    lines: list[str] = []
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        for line in iter(proc.stderr.readline, ""):
            lines.append(line)
            if text in line:
                return lines
    finally:
        timer.cancel()
    raise AssertionError(f"no {text!r} within {timeout} s (exit {proc.wait()}):\n" + "".join(lines))
