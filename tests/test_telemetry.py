"""OpenTelemetry against a real collector: one trace per run under the deploy's parent, with the
wait, the lock and each migration of every database; metrics; errors on their spans with the exit
code; and a collector that is down or silent costs a run no more than the flush bound."""
from __future__ import annotations

import json
import secrets
import socket
import time

import pytest

from collector import Collector
from conftest import run_dbinit

ROOT_SPAN = "dbinit migrate"


@pytest.fixture
def collector():
    c = Collector().start()
    yield c
    c.stop()


def parent() -> tuple[str, str, str]:
    """A deploy tool's trace context: (trace id, span id, TRACEPARENT)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def test_a_three_database_run_arrives_as_one_trace_under_the_deploys_span(pg, neo4j_db, redis_db, migrations,
                                                                             collector, tmp_path):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\nCREATE INDEX a_id ON a (id);\n")
    migrations.write("V2-b-up.sql", "CREATE TABLE b (id int);\n")
    migrations.write("2025-01-01-001-people.cypher", "CREATE INDEX person_name IF NOT EXISTS FOR (p:Person) ON (p.name);\n")
    migrations.write("V1-flags.redis", "SET feature:x on\n")
    trace_id, span_id, traceparent = parent()
    report = tmp_path / "report.json"
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        NEO4J_URI=neo4j_db.uri(), NEO4J_AUTH=f"neo4j/{neo4j_db.password}", REDIS_URL=redis_db.url(),
                        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint, TRACEPARENT=traceparent,
                        OTEL_SERVICE_NAME="shop-migrations", OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=staging",
                        DBINIT_BEFORE_MIGRATE="true", DBINIT_REPORT=str(report), POD_NAMESPACE="shop")
    assert result.returncode == 0, result.stderr
    spans = {s["name"]: s for s in collector.wait_for_span(trace_id, ROOT_SPAN)}
    run = spans[ROOT_SPAN]
    assert run["parentSpanId"] == span_id
    assert run["attributes"]["dbinit.run.id"] == json.loads(report.read_text())["run_id"]
    assert run["attributes"]["dbinit.exit_code"] == 0
    assert run["resource"]["service.name"] == "shop-migrations"
    assert run["resource"]["deployment.environment.name"] == "staging"
    assert run["resource"]["k8s.namespace.name"] == "shop"
    expected = {f"{kind} {system}" for kind in ("wait", "lock") for system in ("postgresql", "neo4j", "redis")} | {
        "migrate postgresql V1", "migrate postgresql V2", "migrate neo4j 2025-01-01-001", "migrate redis V1",
        "hook DBINIT_BEFORE_MIGRATE"}
    assert set(spans) == expected | {ROOT_SPAN}
    assert {s["parentSpanId"] for name, s in spans.items() if name != ROOT_SPAN} == {run["spanId"]}
    v1 = spans["migrate postgresql V1"]["attributes"]
    assert v1 == {"db.system.name": "postgresql", "dbinit.migration.version": "V1", "dbinit.migration.file": "V1-a-up.sql",
                  "dbinit.migration.description": "a", "dbinit.migration.phase": "pre-deploy",
                  "dbinit.migration.files": 1, "dbinit.migration.statements": 2, "dbinit.migration.outcome": "applied"}
    assert spans["migrate neo4j 2025-01-01-001"]["attributes"]["db.system.name"] == "neo4j"
    wait = spans["wait redis"]
    assert int(wait["endTimeUnixNano"]) >= int(wait["startTimeUnixNano"])
    applied = {p["attributes"]["db.system.name"]: int(p["asInt"]) for p in collector.points("dbinit.migrations.applied")}
    assert applied == {"postgresql": 2, "neo4j": 1, "redis": 1}
    assert {p["attributes"]["db.system.name"] for p in collector.points("dbinit.lock.wait")} == \
           {"postgresql", "neo4j", "redis"}
    assert [p["attributes"]["dbinit.exit_code"] for p in collector.points("dbinit.run.duration")] == [0]


def test_a_failed_migration_is_an_error_on_its_span_and_the_runs_with_the_exit_code(pg, migrations, collector):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    migrations.write("V2-bad-up.sql", "INSERT INTO no_such_table VALUES (1);\n")
    trace_id, _, traceparent = parent()
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint, TRACEPARENT=traceparent)
    assert result.returncode == 1
    spans = {s["name"]: s for s in collector.wait_for_span(trace_id, ROOT_SPAN)}
    for name in ("migrate postgresql V2", ROOT_SPAN):
        assert spans[name]["status"]["code"] == 2, name  # STATUS_CODE_ERROR
        assert spans[name]["attributes"]["dbinit.exit_code"] == 1
        assert spans[name]["attributes"]["error.type"] == "MigrationFailed"
    assert "42P01" in spans["migrate postgresql V2"]["status"]["message"]
    assert spans["migrate postgresql V1"]["attributes"]["dbinit.migration.outcome"] == "applied"
    assert [int(p["asInt"]) for p in collector.points("dbinit.migrations.failed")] == [1]


def test_a_lock_timeout_retry_is_an_event_on_the_migrations_span(pg, migrations, collector):
    import psycopg

    pg.sql("CREATE TABLE busy (id int)")
    migrations.write("V1-alter-up.sql", "ALTER TABLE busy ADD COLUMN n int;\n")
    trace_id, _, traceparent = parent()
    with psycopg.connect(pg.url) as holder:
        holder.execute("LOCK TABLE busy IN ACCESS SHARE MODE")  # open until the block ends
        result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                            OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint, TRACEPARENT=traceparent,
                            DBINIT_PG_LOCK_TIMEOUT="0.2", DBINIT_PG_LOCK_RETRIES="1")
    assert result.returncode == 1 and "gave up waiting for a lock 2 times" in result.stderr
    spans = {s["name"]: s for s in collector.wait_for_span(trace_id, ROOT_SPAN)}
    events = spans["migrate postgresql V1"].get("events", [])
    assert [e["name"] for e in events][:1] == ["lock timeout, trying again"]
    assert [int(p["asInt"]) for p in collector.points("dbinit.lock_timeout.retries")] == [1]


def test_a_collector_that_is_down_or_silent_changes_nothing_and_costs_at_most_the_bound(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    env = {"POSTGRES_URL": pg.url, "DBINIT_OTEL_FLUSH_TIMEOUT": "2"}
    started = time.monotonic()
    plain = run_dbinit("check", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    without = time.monotonic() - started
    assert plain.returncode == 3
    with socket.socket() as closed:  # a port nothing listens on: connection refused
        closed.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with socket.socket() as silent:  # a port that takes connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        hanging = f"http://127.0.0.1:{silent.getsockname()[1]}"
        for endpoint in (down, hanging):
            started = time.monotonic()
            result = run_dbinit("migrate", "--migrations", str(migrations.path), OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                                **env)
            took = time.monotonic() - started
            assert result.returncode == 0, result.stderr
            assert "telemetry: the collector did not take this run's trace and metrics within 2 s" in result.stderr
            # The bound (2 s) and a wide margin for a shared machine over a run without telemetry:
            # an exporter left to its own retries and timeouts would hold the exit for 10 s a signal.
            assert took < without + 2 + 5, (endpoint, took, without)
            pg.sql("DROP TABLE a; DROP SCHEMA dbinit CASCADE")
    assert pg.sql("SELECT to_regclass('a') IS NULL") == "t"


def test_a_malformed_traceparent_starts_a_trace_of_its_own_and_says_so(pg, migrations, collector):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint, TRACEPARENT="not-a-traceparent")
    assert result.returncode == 0, result.stderr
    assert "TRACEPARENT is not a W3C traceparent" in result.stderr
    (run,) = collector.wait_for_name(ROOT_SPAN)
    assert not run.get("parentSpanId")


@pytest.mark.parametrize("variable, value", [("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                                             ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
                                             ("DBINIT_OTEL_FLUSH_TIMEOUT", "0"), ("DBINIT_OTEL_FLUSH_TIMEOUT", "soon")])
def test_a_telemetry_setting_dbinit_cannot_take_is_a_configuration_error(pg, migrations, variable, value):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318", **{variable: value})
    assert result.returncode == 78 and f"{variable} is {value!r}" in result.stderr
    assert pg.sql("SELECT to_regclass('a') IS NULL") == "t"


def test_otel_sdk_disabled_sends_nothing(pg, migrations, collector):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint, OTEL_SDK_DISABLED="true")
    assert result.returncode == 0
    # A later run that sends: once its trace is in, the disabled run's would have been too.
    canary = run_dbinit("check", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint)
    assert canary.returncode == 0
    collector.wait_for_name("dbinit check")
    assert {s["name"] for s in collector.spans()} == {"dbinit check", "wait postgresql"}
