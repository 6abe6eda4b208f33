"""The table of failure modes (tests/failure_modes.py) holds: every mode has a cell for every
database, each cell marked `here` runs below against real servers (exit code, when, the message's
words, no traceback, no password), each other cell's test exists and reads its cell from the table,
and the documentation's page is the table."""
import ast
import http.server
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import pytest

import failure_modes
from conftest import ROOT, run_dbinit, unique
from dbinit import registry
from failure_modes import AT_DEADLINE, HERE, MODES, Cell, Never
from servers import free_port


def test_every_mode_has_a_cell_for_every_database():
    names = registry.names()
    for mode, cells in MODES.items():
        assert sorted(cells) == sorted(names), f"{mode!r}: cells for {sorted(cells)}, databases {names}"
        for db, cell in cells.items():
            assert isinstance(cell, (Cell, Never)) and (cell.why if isinstance(cell, Never) else cell.says), (mode, db)


def test_each_cell_proved_elsewhere_names_a_test_that_reads_that_cell():
    for mode, cells in MODES.items():
        for db, cell in cells.items():
            if not isinstance(cell, Cell) or cell.test == HERE:
                continue
            path, _, name = cell.test.partition("::")
            tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
            found = [f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == name]
            assert found, f"{mode!r}/{db}: no test {cell.test}"
            literals = {n.value for n in ast.walk(found[0]) if isinstance(n, ast.Constant)}
            assert mode in literals, f"{cell.test} does not read the cell {mode!r} from the table"


def test_the_documentation_page_is_the_table():
    assert failure_modes.PAGE.read_text(encoding="utf-8") == failure_modes.render(), \
        "docs/reference/failure-modes.md is out of date: python tests/failure_modes.py"


def cell(mode: str, db: str) -> Cell:
    found = MODES[mode][db]
    assert isinstance(found, Cell)
    return found


def check(result, mode: str, db: str, took: float) -> None:
    """A run's exit code, its last error line and its timing are the table's cell."""
    failure_modes.check(result, mode, db)
    if cell(mode, db).when == AT_DEADLINE:
        assert took >= DEADLINE, took
    else:  # far below the 60 s deadline: the run did not wait it out
        assert took < 20, took


# What each cell marked `here` runs: the command, its environment, its migration files.
@dataclass
class Run:
    env: dict
    command: str = "wait"
    files: dict = field(default_factory=dict)
    deadline: bool = False


DEADLINE = 3


@pytest.fixture(scope="module")
def web_port():
    """A web server on loopback: what answers at a database's HTTP port."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # the probes' odd requests are expected
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def read_only_neo4j():
    from servers import Neo4jServer

    server = Neo4jServer().start()  # its store made writable first: a read-only database cannot make one
    server.stop()
    server.read_only = True
    server.start()
    yield server
    server.remove()


@pytest.fixture
def replica(make_server, redis_server):
    return make_server("redis", extra=["--replicaof", "127.0.0.1", str(redis_server.port), "--masterauth",
                                       redis_server.password]).start()


def scenarios(request) -> dict[tuple[str, str], Callable[[], Run]]:
    """Each `here` cell's run, made when asked for from the servers and fixtures it names."""
    def server(name: str):
        return request.getfixturevalue(name)

    pg, redis, neo4j = server("postgres_server"), server("redis_server"), server("neo4j_server")
    neo4j_auth = {"NEO4J_AUTH": f"neo4j/{neo4j.password}"}
    pg_url = f"postgresql://postgres:{pg.password}@127.0.0.1:{pg.port}/postgres"
    redis_url = f"redis://:{redis.password}@127.0.0.1:{redis.port}/0"
    neo4j_uri = f"bolt://127.0.0.1:{neo4j.port}"
    closed = free_port()
    return {
        ("wrong password", "postgres"): lambda: Run({"POSTGRES_URL": pg_url.replace(pg.password, "wrong-pw-x1")}),
        ("wrong password", "neo4j"): lambda: Run({"NEO4J_URI": neo4j_uri, "NEO4J_AUTH": "neo4j/wrong-pw-x1"}),
        ("wrong password", "redis"): lambda: Run({"REDIS_URL": redis_url.replace(redis.password, "wrong-pw-x1")}),
        ("a user that does not exist", "postgres"): lambda: Run(
            {"POSTGRES_URL": f"postgresql://nobody:pw-x1@127.0.0.1:{pg.port}/postgres"}),
        ("a user that does not exist", "neo4j"): lambda: Run({"NEO4J_URI": neo4j_uri, "NEO4J_AUTH": "nobody/pw-x1"}),
        ("a user that does not exist", "redis"): lambda: Run({"REDIS_URL": f"redis://nobody:pw-x1@127.0.0.1:{redis.port}/0"}),
        ("no password given, the server wants one", "postgres"): lambda: Run(
            {"POSTGRES_URL": f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"}),
        ("no password given, the server wants one", "neo4j"): lambda: Run({"NEO4J_URI": neo4j_uri}),
        ("no password given, the server wants one", "redis"): lambda: Run({"REDIS_URL": f"redis://127.0.0.1:{redis.port}/0"}),
        ("the database is missing", "postgres"): lambda: Run(
            {"POSTGRES_URL": f"postgresql://postgres:{pg.password}@127.0.0.1:{pg.port}/nosuchdb"}),
        ("the database is missing", "neo4j"): lambda: Run({"NEO4J_URI": neo4j_uri, "NEO4J_DATABASE": "nosuchdb", **neo4j_auth}),
        ("the database is missing", "redis"): lambda: Run({"REDIS_URL": redis_url.replace("/0", "/99")}),
        ("the user may not write dbinit's history", "postgres"): lambda: Run(
            {"POSTGRES_URL": request.getfixturevalue("weak_role")}, "migrate", {"V1-a-up.sql": "SELECT 1;"}),
        ("the user may not write dbinit's history", "redis"): lambda: Run(
            {"REDIS_URL": request.getfixturevalue("weak_redis_user")}, "migrate", {"V1-a.redis": "SET a 1"}),
        ("another database's port", "postgres"): lambda: Run(
            {"POSTGRES_URL": f"postgresql://postgres:x@127.0.0.1:{redis.port}/postgres"}),
        ("another database's port", "neo4j"): lambda: Run({"NEO4J_URI": f"bolt://127.0.0.1:{pg.port}", **neo4j_auth}),
        ("another database's port", "redis"): lambda: Run({"REDIS_URL": f"redis://127.0.0.1:{pg.port}/0"}),
        ("a web (HTTP) port", "postgres"): lambda: Run(
            {"POSTGRES_URL": f"postgresql://postgres:x@127.0.0.1:{server('web_port')}/postgres"}),
        ("a web (HTTP) port", "neo4j"): lambda: Run({"NEO4J_URI": f"bolt://127.0.0.1:{server('web_port')}", **neo4j_auth}),
        ("a web (HTTP) port", "redis"): lambda: Run({"REDIS_URL": f"redis://127.0.0.1:{server('web_port')}/0"}),
        ("nothing listens at the port (yet)", "postgres"): lambda: Run(
            {"POSTGRES_URL": f"postgresql://postgres:x@127.0.0.1:{closed}/postgres"}, deadline=True),
        ("nothing listens at the port (yet)", "neo4j"): lambda: Run(
            {"NEO4J_URI": f"bolt://127.0.0.1:{closed}", **neo4j_auth}, deadline=True),
        ("nothing listens at the port (yet)", "redis"): lambda: Run({"REDIS_URL": f"redis://127.0.0.1:{closed}/0"},
                                                            deadline=True),
        ("a host name that does not resolve (yet)", "postgres"): lambda: Run(
            {"POSTGRES_URL": "postgresql://postgres:x@nonexistent.invalid:5432/postgres"}, deadline=True),
        ("a host name that does not resolve (yet)", "neo4j"): lambda: Run(
            {"NEO4J_URI": "bolt://nonexistent.invalid:7687", **neo4j_auth}, deadline=True),
        ("a host name that does not resolve (yet)", "redis"): lambda: Run(
            {"REDIS_URL": "redis://nonexistent.invalid:6379/0"}, deadline=True),
        ("only a standby or replica answers", "redis"): lambda: Run(
            {"REDIS_URL": f"redis://:{redis.password}@127.0.0.1:{server('replica').port}/0"}, deadline=True),
        ("a read-only database", "postgres"): lambda: Run(
            {"POSTGRES_URL": request.getfixturevalue("read_only_pg")}, "migrate", {"V1-a-up.sql": "SELECT 1;"}),
        ("a read-only database", "neo4j"): lambda: Run(
            {"NEO4J_URI": server("read_only_neo4j").uri(), **neo4j_auth}, "migrate",
            {"2025-01-01-001-a.cypher": "CREATE (:A);"}),
        ("credentials in the wrong place", "postgres"): lambda: Run(
            {"POSTGRES_URL": f"postgresql://S3cretPassw0rd@127.0.0.1:{pg.port}/postgres"}),
        ("credentials in the wrong place", "neo4j"): lambda: Run({"NEO4J_URI": f"bolt://neo4j:S3cret-x1@127.0.0.1:{neo4j.port}"}),
        ("credentials in the wrong place", "redis"): lambda: Run({"REDIS_URL": f"redis://RedisPw123@127.0.0.1:{redis.port}/0"}),
        ("a password with characters a URL must encode", "postgres"): lambda: Run(
            {"POSTGRES_URL": f"postgresql://postgres:p@ss#w0rd@127.0.0.1:{pg.port}/postgres"}),
        ("a password with characters a URL must encode", "neo4j"): lambda: Run(
            {"NEO4J_URI": f"bolt://neo4j:p@ss@127.0.0.1:{neo4j.port}"}),
        ("a password with characters a URL must encode", "redis"): lambda: Run(
            {"REDIS_URL": f"redis://:p@ss#w0rd@127.0.0.1:{redis.port}/0"}),
        ("a URL ending in a line break", "postgres"): lambda: Run({"POSTGRES_URL": pg_url + "\n"}),
        ("a URL ending in a line break", "neo4j"): lambda: Run({"NEO4J_URI": neo4j_uri + "\n", **neo4j_auth}),
        ("a URL ending in a line break", "redis"): lambda: Run({"REDIS_URL": redis_url + "\n"}),
        ("a port given twice", "postgres"): lambda: Run({"POSTGRES_HOST": "127.0.0.1:5432", "POSTGRES_PASSWORD": "x-y-z-1"}),
        ("a port given twice", "neo4j"): lambda: Run({"NEO4J_URI": f"{neo4j_uri}:{neo4j.port}", **neo4j_auth}),
        ("a port given twice", "redis"): lambda: Run({"REDIS_URL": f"redis://127.0.0.1:{redis.port}:{redis.port}/0"}),
        ("one thing set two ways", "postgres"): lambda: Run({"POSTGRES_URL": pg_url, "POSTGRES_HOST": "127.0.0.1"}),
        ("one thing set two ways", "neo4j"): lambda: Run({"NEO4J_URI": neo4j_uri, "NEO4J_PASSWORD": neo4j.password,
                                                  **neo4j_auth}),
        ("one thing set two ways", "redis"): lambda: Run({"REDIS_URL": redis_url, "REDIS_PASSWORD": "another-pw-1"}),
        ("a misspelt variable", "postgres"): lambda: Run({"POSTGRESS_URL": pg_url}),
        ("a misspelt variable", "neo4j"): lambda: Run({"NEO4J_URL": neo4j_uri, **neo4j_auth}),
        ("a misspelt variable", "redis"): lambda: Run({"REDIS_ULR": redis_url}),
        ("another database's URL scheme", "postgres"): lambda: Run({"POSTGRES_URL": f"mysql://127.0.0.1:{pg.port}/postgres"}),
        ("another database's URL scheme", "neo4j"): lambda: Run({"NEO4J_URI": f"http://127.0.0.1:{neo4j.port}", **neo4j_auth}),
        ("another database's URL scheme", "redis"): lambda: Run({"REDIS_URL": f"tcp://127.0.0.1:{redis.port}/0"}),
    }


@pytest.fixture
def weak_role(pg):
    """A role that may log in but not create dbinit's schema (no CREATE on the database)."""
    role = unique("fm_weak")
    pg.sql(f"CREATE ROLE {role} LOGIN PASSWORD 'weak-pw-x1'")
    yield f"postgresql://{role}:weak-pw-x1@127.0.0.1:{pg.server.port}/{pg.dbname}"
    pg.sql(f"DROP OWNED BY {role}; DROP ROLE {role}")


@pytest.fixture
def read_only_pg(pg):
    pg.sql(f"ALTER DATABASE {pg.dbname} SET default_transaction_read_only = on")
    return pg.url


@pytest.fixture
def weak_redis_user(redis_db):
    """An ACL user that may connect and ask, not write."""
    client = redis_db.client()
    client.execute_command("ACL", "SETUSER", "fm_weak", "on", ">weak-pw-x1", "~*", "+ping", "+info", "+client",
                           "+hello", "+auth", "+hgetall", "+get")
    yield f"redis://fm_weak:weak-pw-x1@127.0.0.1:{redis_db.port}/0"
    client.execute_command("ACL", "DELUSER", "fm_weak")


HERE_CELLS = [(mode, db) for mode, cells in MODES.items() for db, c in cells.items()
              if isinstance(c, Cell) and c.test == HERE]


@pytest.mark.parametrize("mode, db", HERE_CELLS, ids=[f"{m}-{d}" for m, d in HERE_CELLS])
def test_the_cell(mode, db, request, migrations):
    run = scenarios(request)[mode, db]()
    for name, text in run.files.items():
        migrations.write(name, text)
    started = time.monotonic()
    result = run_dbinit(run.command, "--migrations", str(migrations.path),
                        DBINIT_WAIT_TIMEOUT=str(DEADLINE if run.deadline else 60), **run.env)
    check(result, mode, db, time.monotonic() - started)
