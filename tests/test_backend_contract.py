"""The contract every backend keeps (golang-migrate's database/testing), each against its real
server, called as the runner calls it: no command line, no files. The command-level behaviours of
every database are in test_backend_conformance.py."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from dbinit import registry
from dbinit.contract import Backend
from dbinit.errors import ConnectionLost, LockLost
from dbinit.history import Applied
from dbinit.settings import load

LEASE_S = 1.0
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["postgres", "postgres-pooled", "neo4j", "redis"])
def env(request):
    """Each database's settings, and PostgreSQL's second kind of lock: the lease row it takes
    behind a transaction-mode pooler (which needs no pooler to be tested)."""
    if request.param.startswith("postgres"):
        pg = request.getfixturevalue("pg")
        pooled = {"DBINIT_PG_POOLER": "transaction"} if request.param == "postgres-pooled" else {}
        return {"POSTGRES_URL": pg.url, **pooled}
    if request.param == "neo4j":
        server = request.getfixturevalue("neo4j_db")
        return {"NEO4J_URI": server.uri(), "NEO4J_AUTH": f"neo4j/{server.password}"}
    return {"REDIS_URL": request.getfixturevalue("redis_db").url()}


@pytest.fixture
def runners(env):
    """make() a backend connected as the runner connects it; all closed afterwards."""
    made: list[Backend] = []

    def make() -> Backend:
        settings = load(env)
        db, = settings.configured()
        backend = registry.get(db).open(settings.of(db), LEASE_S)
        backend.connect(10)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


def record(version: str, checksum: str = "c1") -> Applied:
    return Applied(version, "step", f"V{version}-step", checksum, NOW, 3, True)


def test_the_history_is_empty_on_a_fresh_database_and_reading_it_creates_nothing(runners):
    backend = runners()
    assert backend.history() == []
    assert backend.history() == []


def test_a_second_runner_cannot_take_the_lock_until_the_first_releases_it(runners):
    first, second = runners(), runners()
    assert first.try_lock()
    assert not second.try_lock()
    assert first.owner in second.lock_holder()
    first.unlock()
    assert second.try_lock()
    assert not first.try_lock()
    second.unlock()


def test_the_lock_context_yields_its_wait_and_releases_even_on_an_error(runners):
    first, second = runners(), runners()
    with pytest.raises(RuntimeError):
        with first.lock(5) as waited:
            assert 0 <= waited < 5
            raise RuntimeError("the work failed")
    assert second.try_lock()
    second.unlock()


def test_record_set_checksum_and_forget_round_trip_under_the_lock(runners):
    backend = runners()
    with backend.lock(5):
        backend.prepare()
        backend.record(record("1"))
        backend.record(record("2"))
        assert [(a.version, a.checksum, a.success) for a in sorted(backend.history(), key=lambda a: a.version)] == [
            ("1", "c1", True), ("2", "c1", True)]
        backend.set_checksum("1", "c2")
        backend.forget("2")
        history = backend.history()
    assert [(a.version, a.checksum, a.description, a.execution_ms) for a in history] == [("1", "c2", "step", 3)]
    assert history[0].applied_by == backend.owner


def _taken_over(runners) -> tuple[Backend, Backend]:
    """A runner whose lease ran out (no renewal, as when paused) and the one that took the lock."""
    lost, taker = runners(), runners()
    if not lost.leased:
        pytest.skip("a session lock is held until its session ends: it cannot run out")
    assert lost.try_lock()
    lost.prepare()
    lost.record(record("1"))
    time.sleep(LEASE_S + 0.3)
    assert taker.try_lock()
    return lost, taker


def test_after_a_takeover_the_old_holder_cannot_renew_and_does_not_hold_the_lock(runners):
    lost, taker = _taken_over(runners)
    assert not lost.renew_lock()
    assert not lost.holds_lock()
    assert taker.holds_lock()
    with pytest.raises(LockLost, match="held by"):  # whatever the database said of the failed write
        with lost.under_lease():
            raise RuntimeError("the transaction has been terminated")
    with pytest.raises(RuntimeError):  # the holder's failure is its own
        with taker.under_lease():
            raise RuntimeError("the transaction has been terminated")
    taker.unlock()


def test_a_write_after_the_lease_was_lost_is_refused_by_the_database(runners):
    lost, taker = _taken_over(runners)
    for write in (lambda: lost.record(record("7")), lambda: lost.forget("1"), lambda: lost.set_checksum("1", "x")):
        with pytest.raises(LockLost, match="held by"):
            write()
    assert [(a.version, a.checksum) for a in taker.history()] == [("1", "c1")]
    taker.unlock()


@pytest.mark.parametrize("db", ["postgres", "neo4j", "redis"])
def test_a_connection_the_server_dropped_is_reported_as_lost(db, make_server):
    server = make_server(db).start()
    env = {"postgres": lambda: {"POSTGRES_URL": server.url()},
           "neo4j": lambda: {"NEO4J_URI": server.uri(), "NEO4J_AUTH": f"neo4j/{server.password}"},
           "redis": lambda: {"REDIS_URL": server.url()}}[db]()
    settings = load(env)
    backend = registry.get(db).open(settings.of(db), LEASE_S)
    backend.connect(10)
    try:
        server.kill()
        with pytest.raises(Exception) as raised:
            backend.history()
        typed = raised.value if isinstance(raised.value, ConnectionLost) else backend.translate(raised.value)
        assert isinstance(typed, ConnectionLost), raised.value
        assert str(typed).startswith(f"{db}: the connection was lost")
        # The driver's words on one line, without Python's reprs of addresses.
        assert "\n" not in str(typed) and "Address((" not in str(typed), str(typed)
        assert backend.words(raised.value) == str(typed)  # as a warning quotes it
    finally:
        backend.close()
