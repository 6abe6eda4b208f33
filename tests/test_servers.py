"""The harness itself: each server answers the real client library, refuses a wrong password,
and stop / kill / restart / delayed start do what they say."""
import time

import neo4j
import psycopg
import pytest
import redis

from servers import port_open


def test_postgres_answers_select_1_with_psycopg(postgres_server):
    with psycopg.connect(postgres_server.url()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_postgres_refuses_a_wrong_password(postgres_server):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_server.url(password="wrong"))


def test_redis_set_and_get_with_redis_py(redis_db):
    client = redis_db.client()
    assert client.set("k", "v")
    assert client.get("k") == "v"


def test_redis_refuses_a_wrong_password(redis_server):
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=redis_server.port, password="wrong").ping()


def test_neo4j_creates_an_index_and_shows_it(neo4j_db):
    with neo4j_db.driver() as driver:
        driver.execute_query("CREATE INDEX harness_idx IF NOT EXISTS FOR (n:Harness) ON (n.x)")
        names = [r["name"] for r in driver.execute_query("SHOW INDEXES").records]
    assert "harness_idx" in names


def test_neo4j_refuses_a_wrong_password(neo4j_server):
    with neo4j.GraphDatabase.driver(neo4j_server.uri(), auth=("neo4j", "wrong")) as driver:
        with pytest.raises(neo4j.exceptions.AuthError):
            driver.verify_connectivity()


@pytest.mark.parametrize("kind", ["postgres", "redis"])
def test_stop_kill_restart_and_delayed_start(make_server, kind):
    server = make_server(kind).start()
    server.stop()
    assert not port_open(server.port)
    server.start()
    assert port_open(server.port)
    server.kill()
    assert not port_open(server.port)
    server.start()
    server.restart()
    assert server.ready()
    server.stop()
    started = time.monotonic()
    server.start_after(1.0).join()
    server.wait_ready()
    assert time.monotonic() - started >= 1.0
    assert server.ready()


def test_neo4j_kill_and_restart(make_server):
    server = make_server("neo4j").start()
    server.kill()
    assert not port_open(server.port)
    server.start()
    with server.driver() as driver:
        assert driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1
    server.stop()
    assert not port_open(server.port)
