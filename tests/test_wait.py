"""`dbinit wait`: every configured database at once, transient failures waited out, wrong
settings refused at once, one deadline, signals obeyed."""
import signal
import subprocess
import time

import psycopg
import pytest

from conftest import Result, run_dbinit, start_dbinit
from fleet import finish, wait_for_line
from failure_modes import check


def test_waits_for_all_three_servers_started_late(make_server):
    pg, rd, n4 = make_server("postgres"), make_server("redis"), make_server("neo4j")
    env = {"POSTGRES_URL": pg.url(), "REDIS_URL": rd.url(), "NEO4J_URI": n4.uri(),
           "NEO4J_AUTH": f"neo4j/{n4.password}", "DBINIT_WAIT_TIMEOUT": "90"}
    waiter = start_dbinit("wait", **env)
    for server, delay in ((pg, 5), (rd, 7), (n4, 5)):
        server.start_after(delay)
    code = waiter.wait(120)
    err = waiter.stderr.read()
    assert code == 0, err
    assert all(s.ready() for s in (pg, rd, n4))
    for db in ("postgres", "redis", "neo4j"):
        assert f"{db}: ready after" in err
    check(Result(code, "", err), "the server is still starting", "neo4j")
    assert err.count("waiting (") <= 3 * 4  # a progress line every few seconds, not one per try


def test_a_server_restarted_during_the_wait_is_waited_out(make_server):
    """What a waiter sees of a restart: "the database system is shutting down" (held here by a
    session that keeps a smart shutdown going), then nothing listening, then the server back."""
    pg = make_server("postgres").start()
    with psycopg.connect(pg.url()):
        pg.proc.send_signal(signal.SIGTERM)  # smart shutdown: new sessions refused until this one ends
        waiter = start_dbinit("wait", POSTGRES_URL=pg.url(), DBINIT_WAIT_TIMEOUT="60")
        wait_for_line(waiter, "the database system is shutting down")
    pg.proc.wait(30)
    pg.start()
    code, err = finish(waiter, 90)
    assert code == 0, err
    assert "postgres: ready after" in err


def test_redis_answering_loading_is_waited_out(make_server):
    rd = make_server("redis", extra=["--enable-debug-command", "local"]).start()
    rd.restart_loading()
    result = run_dbinit("wait", REDIS_URL=rd.url(), DBINIT_WAIT_TIMEOUT="60")
    check(result, "the server is still starting", "redis")
    assert rd.client().dbsize() == 100000


def test_postgres_refusing_connections_while_starting_is_waited_out(make_server):
    """A standby with hot_standby off refuses every login ("not accepting connections", as a
    server starting up does) until it is promoted."""
    pg = make_server("postgres").start()
    pg.stop()
    (pg.data / "standby.signal").write_text("")
    pg.options["hot_standby"] = "off"
    pg.start(wait=False)
    waiter = start_dbinit("wait", POSTGRES_URL=pg.url(), DBINIT_WAIT_TIMEOUT="60")
    wait_for_line(waiter, "postgres: waiting (")  # refused, and still waiting
    subprocess.run([str(pg.bindir / "pg_ctl"), "promote", "-D", str(pg.data)], check=True, capture_output=True,
                   **pg.popen_kwargs())
    code = waiter.wait(60)
    check(Result(code, "", waiter.stderr.read()), "the server is still starting", "postgres")


def test_postgres_first_listening_on_its_socket_only_then_on_tcp_is_waited_out(make_server):
    """The official image runs its init scripts on a socket-only server, then restarts listening."""
    pg = make_server("postgres")
    pg.listen = ""
    pg.start()
    waiter = start_dbinit("wait", POSTGRES_URL=pg.url(), DBINIT_WAIT_TIMEOUT="60")
    wait_for_line(waiter, "postgres: waiting (")  # the socket answers; the port does not yet
    pg.stop()
    pg.listen = "127.0.0.1"
    pg.start()
    assert waiter.wait(60) == 0


def test_a_host_name_that_does_not_resolve_yet_is_retried_until_the_deadline():
    started = time.monotonic()
    result = run_dbinit("wait", POSTGRES_HOST="dbinit-not-created-yet.invalid", POSTGRES_PASSWORD="x",
                        DBINIT_WAIT_TIMEOUT="3")
    assert result.returncode == 69
    assert time.monotonic() - started >= 3
    assert "postgres" in result.stderr and "dbinit-not-created-yet.invalid" in result.stderr


def test_a_server_that_never_starts_exits_69_at_the_deadline_naming_it(make_server):
    rd = make_server("redis")
    result = run_dbinit("wait", REDIS_URL=rd.url(), DBINIT_WAIT_TIMEOUT="2")
    assert result.returncode == 69
    assert "not ready within 2 s" in result.stderr and "redis: " in result.stderr
    assert rd.password not in result.output


def test_only_configured_databases_are_waited_for(redis_server):
    result = run_dbinit("wait", REDIS_URL=redis_server.url(), DBINIT_WAIT_TIMEOUT="5")
    assert result.returncode == 0
    assert "postgres: not configured" in result.stderr and "neo4j: not configured" in result.stderr


@pytest.mark.parametrize("env, expected", [
    ({"POSTGRES_HOST": "127.0.0.1", "POSTGRES_DB": "no_such_db"}, "does not exist"),
    ({"NEO4J_DATABASE": "nosuchdb"}, "NEO4J_DATABASE"),
])
def test_a_missing_database_fails_at_once_with_78(postgres_server, neo4j_server, env, expected):
    if "POSTGRES_HOST" in env:
        env = {**env, "POSTGRES_PORT": str(postgres_server.port), "POSTGRES_PASSWORD": postgres_server.password}
    else:
        env = {**env, "NEO4J_URI": neo4j_server.uri(), "NEO4J_AUTH": f"neo4j/{neo4j_server.password}"}
    started = time.monotonic()
    result = run_dbinit("wait", DBINIT_WAIT_TIMEOUT="60", **env)
    assert result.returncode == 78, result.stderr
    assert expected in result.stderr
    assert time.monotonic() - started < 20  # at once: far below the deadline a retried mistake would reach


def test_neo4j_auth_none_against_a_server_that_wants_a_password_is_refused(neo4j_server):
    result = run_dbinit("wait", NEO4J_URI=neo4j_server.uri(), NEO4J_AUTH="none", DBINIT_WAIT_TIMEOUT="30")
    assert result.returncode == 77


def test_tls_required_against_a_server_without_tls_fails_at_once(postgres_server):
    result = run_dbinit("wait", POSTGRES_URL=postgres_server.url() + "?sslmode=require", DBINIT_WAIT_TIMEOUT="30")
    check(result, "TLS at a port without it", "postgres")


def test_secrets_from_files_and_the_official_images_variables(postgres_server, redis_server, neo4j_server, tmp_path):
    (tmp_path / "pg").write_text(postgres_server.password + "\n")
    (tmp_path / "redis").write_text(redis_server.password)
    (tmp_path / "neo4j").write_text(f"neo4j/{neo4j_server.password}\n")
    result = run_dbinit(
        "wait", DBINIT_WAIT_TIMEOUT="10",
        POSTGRES_HOST="127.0.0.1", POSTGRES_PORT=str(postgres_server.port), POSTGRES_USER="postgres",
        POSTGRES_PASSWORD_FILE=str(tmp_path / "pg"),
        REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/0", REDIS_PASSWORD_FILE=str(tmp_path / "redis"),
        NEO4J_URI=neo4j_server.uri(), NEO4J_AUTH_FILE=str(tmp_path / "neo4j"))
    assert result.returncode == 0, result.stderr
    for secret in (postgres_server.password, redis_server.password, neo4j_server.password):
        assert secret not in result.output


def test_libpq_variables_are_used_when_nothing_else_is_set(postgres_server):
    result = run_dbinit("wait", PGHOST="127.0.0.1", PGPORT=str(postgres_server.port), PGUSER="postgres",
                        PGPASSWORD=postgres_server.password, DBINIT_WAIT_TIMEOUT="10")
    assert result.returncode == 0, result.stderr
    assert postgres_server.password not in result.output


@pytest.mark.parametrize("env, variable, secret", [
    ({"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PASSWORD": "pw-Zq81", "POSTGRES_PASSWORD_FILE": "/etc/hostname"},
     "POSTGRES_PASSWORD_FILE", "pw-Zq81"),
    ({"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PASSWORD_FILE": "/nonexistent/secret"}, "POSTGRES_PASSWORD_FILE", None),
    ({"REDIS_URL": "redis://127.0.0.1:1", "REDIS_PASSWORD_FILE": "/nonexistent/secret"}, "REDIS_PASSWORD_FILE", None),
    ({"NEO4J_URI": "bolt://127.0.0.1:1", "NEO4J_AUTH": "neo4j/pw-Kd02", "NEO4J_AUTH_FILE": "/etc/hostname"},
     "NEO4J_AUTH_FILE", "pw-Kd02"),
    ({"NEO4J_URI": "bolt://127.0.0.1:1", "NEO4J_AUTH": "no-slash-pw-Lm33"}, "NEO4J_AUTH", "no-slash-pw-Lm33"),
    ({"REDIS_URL": "http://:pw-Rt44@127.0.0.1:1"}, "REDIS_URL", "pw-Rt44"),
    ({"REDIS_URL": "redis://127.0.0.1:1", "DBINIT_WAIT_TIMEOUT": "soon"}, "DBINIT_WAIT_TIMEOUT", None),
    ({"REDIS_URL": "redis://127.0.0.1:1", "DBINIT_LOG_FORMAT": "xml"}, "DBINIT_LOG_FORMAT", None),
])
def test_bad_configuration_exits_78_naming_the_variable_and_not_its_value(env, variable, secret):
    result = run_dbinit("wait", **env)
    assert result.returncode == 78, result.stderr
    assert variable in result.stderr
    if secret is not None:
        assert secret not in result.output


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_the_wait_at_once(make_server, sig, code):
    rd = make_server("redis")
    waiter = start_dbinit("wait", REDIS_URL=rd.url(), DBINIT_WAIT_TIMEOUT="60")
    wait_for_line(waiter, "redis: waiting (")
    started = time.monotonic()
    waiter.send_signal(sig)
    assert waiter.wait(10) == code
    # "At once": the wait had 55 s to go and pauses at most 0.1 s between tries; 5 s is far from
    # both, and from a loaded machine's noise.
    assert time.monotonic() - started < 5


def test_json_logs_are_one_object_per_line(redis_server):
    import json

    result = run_dbinit("wait", REDIS_URL=redis_server.url(), DBINIT_LOG_FORMAT="json")
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert {"time", "level", "source", "message"} <= records[-1].keys()
    assert any(r["source"] == "redis" and r["message"].startswith("ready after") for r in records)
