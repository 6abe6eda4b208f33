"""Fleets on a real PostgreSQL: one set of files over many tenant schemas or databases, the shared
part first, each tenant's history and lock its own, racing runners applying each file once per
tenant, a failing tenant reported while the others finish, shares of an Indexed Job covering each
tenant once, and every bad setting refused at once."""
from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

import failure_modes
from conftest import ROOT, run_dbinit, start_dbinit, unique

QUERY = "SELECT name FROM tenants ORDER BY name"
SOAK = max(1, int(os.environ.get("DBINIT_SOAK") or 1))  # as tests/fleet.py: more tenants for a longer run
FILES = 4


@pytest.fixture
def project(tmp_path):
    """A shared folder whose one file makes the tenant registry, and the tenants' files: each leaves
    a mark in a shared table, so that a file run twice for a tenant shows."""
    shared, tenant = tmp_path / "migrations", tmp_path / "tenant-migrations"
    shared.mkdir()
    tenant.mkdir()
    (shared / "V001-tenant-registry-up.sql").write_text(  # the application may have made the registry first
        "CREATE TABLE IF NOT EXISTS tenants (name text PRIMARY KEY);\nCREATE TABLE marks (tenant text, version int);\n")
    for n in range(1, FILES + 1):
        (tenant / f"V{n:03}-step-{n}-up.sql").write_text(
            f"CREATE TABLE items_{n} (id int PRIMARY KEY, owner text DEFAULT '${{tenant}}');\n"
            f"INSERT INTO marks VALUES ('${{tenant}}', {n});\n")
    return tmp_path


def with_schemas(pg, names: list[str]) -> None:
    """The registry's rows and the tenants' schemas, as the application makes them."""
    pg.sql("CREATE TABLE IF NOT EXISTS tenants (name text PRIMARY KEY); "
           + "".join(f"CREATE SCHEMA {n}; INSERT INTO tenants VALUES ('{n}');" for n in names))


def fleet_env(pg, project: Path, **env: str) -> dict[str, str]:
    return {"POSTGRES_URL": pg.url, "DBINIT_MIGRATIONS": str(project / "migrations"),
            "DBINIT_TENANTS_QUERY": QUERY, "DBINIT_LOCK_TIMEOUT": "120", **env}


def marks(pg) -> Counter:
    rows = pg.sql("SELECT tenant || ':' || version FROM marks").split()
    return Counter(rows)


def report_of(path: Path) -> dict:
    """The run report, as its schema says it is."""
    report = json.loads(path.read_text())
    jsonschema.validate(report, json.loads((ROOT / "dbinit" / "report.schema.json").read_text()))
    return report


def test_each_tenant_schema_gets_each_file_once_while_eight_runners_race(pg, project):
    names = [f"t{n:04}" for n in range(200 * SOAK)]
    with_schemas(pg, names)
    runners = [start_dbinit("migrate", **fleet_env(pg, project, DBINIT_PARALLEL="4")) for _ in range(8)]
    outputs = [r.communicate(timeout=600) for r in runners]
    assert [r.returncode for r in runners] == [0] * 8, outputs[0][1][-3000:]
    assert marks(pg) == Counter({f"{t}:{n}": 1 for t in names for n in range(1, FILES + 1)})
    # each tenant's table in its own schema, filled with its own name
    assert pg.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'items_1' AND schemaname LIKE 't%'") == str(len(names))
    assert pg.sql("SELECT column_default FROM information_schema.columns WHERE table_schema = 't0007' "
                  "AND table_name = 'items_1' AND column_name = 'owner'") == "'t0007'::text"


def test_each_tenant_database_gets_each_file_once_while_eight_runners_race(pg, project):
    names = [f"{pg.dbname}_d{n}" for n in range(20)]
    for name in names:
        pg.server.psql(f"CREATE DATABASE {name}")
        pg.server.psql("CREATE TABLE marks (tenant text, version int)", dbname=name)
    try:
        env = fleet_env(pg, project, DBINIT_TENANT_KIND="database", DBINIT_TENANTS=",".join(names), DBINIT_PARALLEL="3")
        del env["DBINIT_TENANTS_QUERY"]
        runners = [start_dbinit("migrate", **env) for _ in range(8)]
        outputs = [r.communicate(timeout=600) for r in runners]
        assert [r.returncode for r in runners] == [0] * 8, outputs[0][1][-3000:]
        for name in names:
            found = pg.server.psql("SELECT version FROM marks ORDER BY version", dbname=name).split()
            assert found == [str(n) for n in range(1, FILES + 1)], name
            assert pg.server.psql("SELECT count(*) FROM dbinit.dbinit_schema_history", dbname=name) == str(FILES)
    finally:
        for name in names:
            pg.server.psql(f"DROP DATABASE {name} WITH (FORCE)")


def test_a_failing_tenant_is_reported_while_the_others_finish_and_the_next_run_finishes_it(pg, project, tmp_path):
    with_schemas(pg, ["acme", "globex", "initech"])
    assert run_dbinit("migrate", **fleet_env(pg, project)).returncode == 0
    pg.sql("INSERT INTO globex.items_1 (id) VALUES (1)")  # a row the next file's check refuses, in globex alone
    (project / "tenant-migrations" / "V005-refuse-globex-up.sql").write_text(
        "SELECT 1;\nALTER TABLE items_1 ADD CONSTRAINT not_globex CHECK (owner <> 'globex');\n")
    report = tmp_path / "report.json"
    result = run_dbinit("migrate", **fleet_env(pg, project, DBINIT_REPORT=str(report)))
    assert result.returncode == 5, result.stderr
    tenants = report_of(report)["tenants"]
    assert tenants["acme"]["state"] == tenants["initech"]["state"] == "applied"
    failed = tenants["globex"]
    assert failed["state"] == "failed" and failed["pending"] == ["V005"]
    assert (Path(failed["error"]["file"]).name, failed["error"]["line"], failed["error"]["code"]) == (
        "V005-refuse-globex-up.sql", 2, "23514")
    assert report_of(report)["exit_code"] == 5 and "some tenants failed" in report_of(report)["meaning"]
    last = result.stderr.strip().splitlines()[-1]
    assert "1 of 3 tenants failed: globex:" in last and "V005-refuse-globex-up.sql:2 23514" in last
    pg.sql("DELETE FROM globex.items_1")  # fixed by a person: the next run finishes what is left
    again = run_dbinit("migrate", **fleet_env(pg, project, DBINIT_REPORT=str(report)))
    assert again.returncode == 0, again.stderr
    assert {t: o["state"] for t, o in report_of(report)["tenants"].items()} == {
        "acme": "up to date", "globex": "applied", "initech": "up to date"}


def test_after_too_many_failures_no_other_tenant_starts(pg, project, tmp_path):
    with_schemas(pg, ["a1", "a2", "a3", "a4"])
    (project / "tenant-migrations" / "V005-fails-up.sql").write_text("SELECT 1/0;\n")
    report = tmp_path / "report.json"
    result = run_dbinit("migrate", **fleet_env(pg, project, DBINIT_PARALLEL="1", DBINIT_TENANT_MAX_FAILURES="1",
                                                DBINIT_REPORT=str(report)))
    assert result.returncode == 5, result.stderr
    states = Counter(o["state"] for o in report_of(report)["tenants"].values())
    assert states == Counter({"failed": 1, "not attempted": 3})
    assert "3 not attempted (DBINIT_TENANT_MAX_FAILURES)" in result.stderr


def test_when_the_shared_part_fails_no_tenant_is_touched(pg, project):
    with_schemas(pg, ["acme", "globex"])
    (project / "migrations" / "V002-broken-up.sql").write_text("SELECT 1;\nSELECT * FROM no_such_table;\n")
    result = run_dbinit("migrate", **fleet_env(pg, project))
    assert result.returncode == 1, result.stderr
    assert "V002-broken-up.sql:2" in result.stderr and "tenant" not in result.stderr.split("V002")[-1]
    assert pg.sql("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'dbinit\\_%'") == "0"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_fleet_stopped_midway_converges_on_the_next_run(pg, project, sig):
    names = [f"k{n:02}" for n in range(12)]
    with_schemas(pg, names)
    (project / "tenant-migrations" / "V002-step-2-up.sql").write_text(
        "SELECT pg_sleep(0.3);\nCREATE TABLE items_2 (id int);\nINSERT INTO marks VALUES ('${tenant}', 2);\n")
    runner = start_dbinit("migrate", **fleet_env(pg, project, DBINIT_PARALLEL="2"))
    for line in runner.stderr:  # stopped once a tenant has applied a file: the fleet is midway
        if "applied V002" in line and "[k" in line:
            break
    else:
        pytest.fail("no tenant applied V002")
    runner.send_signal(sig)
    runner.communicate(timeout=60)
    assert runner.returncode == (-9 if sig == signal.SIGKILL else 143)
    assert 0 < len(marks(pg)) < len(names) * FILES
    again = run_dbinit("migrate", **fleet_env(pg, project))
    assert again.returncode == 0, again.stderr
    assert marks(pg) == Counter({f"{t}:{n}": 1 for t in names for n in range(1, FILES + 1)})


def test_baseline_and_repair_run_on_each_tenant(pg, project):
    with_schemas(pg, ["acme", "globex"])
    assert run_dbinit("migrate", **fleet_env(pg, project, DBINIT_TENANTS_QUERY="SELECT 'acme'")).returncode == 0
    pg.sql("CREATE TABLE globex.items_1 (id int PRIMARY KEY, owner text); CREATE TABLE globex.items_2 (id int PRIMARY "
           "KEY, owner text)")  # globex made by hand, up to V002
    baseline = run_dbinit("baseline", "--to", "V002", "--tenant", "globex", **fleet_env(pg, project))
    assert baseline.returncode == 0, baseline.stderr
    assert "postgres[globex]: baselined V002" in baseline.stderr
    assert run_dbinit("migrate", **fleet_env(pg, project)).returncode == 0
    assert sorted(marks(pg)) == sorted([f"acme:{n}" for n in range(1, FILES + 1)] + ["globex:3", "globex:4"])
    first = project / "tenant-migrations" / "V001-step-1-up.sql"
    first.write_text(first.read_text() + "-- reviewed\n")
    changed = run_dbinit("migrate", **fleet_env(pg, project))
    assert changed.returncode == 5 and "2 of 2 tenants failed" in changed.stderr and "(exit 65)" in changed.stderr
    repaired = run_dbinit("repair", **fleet_env(pg, project))
    assert repaired.returncode == 0, repaired.stderr
    assert "postgres[acme]: repaired V001" in repaired.stderr and "postgres[globex]: repaired V001" in repaired.stderr
    assert run_dbinit("check", **fleet_env(pg, project)).returncode == 0


def test_validate_and_hash_take_the_tenants_files_too(pg, project):
    broken = project / "tenant-migrations" / "V009-broken-up.sql"
    broken.write_text("CREATE TABLE (;\n")
    invalid = run_dbinit("validate", **fleet_env(pg, project))
    assert invalid.returncode == 65 and "V009-broken-up.sql:1" in invalid.stderr
    broken.unlink()
    hashed = run_dbinit("hash", **fleet_env(pg, project))
    assert hashed.returncode == 0
    assert (project / "migrations" / "dbinit.sum").is_file() and (project / "tenant-migrations" / "dbinit.sum").is_file()


def test_the_shares_of_an_indexed_job_cover_every_tenant_once(pg, project, tmp_path):
    names = [f"s{n:02}" for n in range(30)]
    with_schemas(pg, names)
    assert run_dbinit("migrate", **fleet_env(pg, project, DBINIT_TENANT="s00")).returncode == 0  # the shared part
    reports = [tmp_path / f"share-{i}.json" for i in range(3)]
    shares = [start_dbinit("migrate", **fleet_env(pg, project, DBINIT_SHARDS="3", JOB_COMPLETION_INDEX=str(i),
                                                  DBINIT_REPORT=str(reports[i]))) for i in range(3)]
    outputs = [s.communicate(timeout=300) for s in shares]
    assert [s.returncode for s in shares] == [0, 0, 0], outputs
    taken = [set(report_of(r)["tenants"]) for r in reports]
    assert sorted(t for share in taken for t in share) == names  # each once: no overlap, none left out
    assert all(taken)
    assert marks(pg) == Counter({f"{t}:{n}": 1 for t in names for n in range(1, FILES + 1)})
    # a tenant added later lands in a share; every other tenant stays where it was
    pg.sql("CREATE SCHEMA s99; INSERT INTO tenants VALUES ('s99')")
    later = [tmp_path / f"later-{i}.json" for i in range(3)]
    for i in range(3):
        assert run_dbinit("migrate", **fleet_env(pg, project, DBINIT_SHARDS="3", DBINIT_SHARD=str(i),
                                                 DBINIT_REPORT=str(later[i]))).returncode == 0
    assert [set(report_of(r)["tenants"]) - {"s99"} for r in later] == taken


def test_never_more_connections_than_parallel_plus_one(pg, project):
    """A role allowed parallel + 1 connections: the server refuses (and logs) any more. Each file
    sleeps, so that every worker holds its connection at once. The one connection that lists the
    tenants is closed while they run, so the +1 is what a worker's finished tenant leaves for a
    moment while the server ends its session (one worker more than the setting, and this fails)."""
    names = [f"c{n:02}" for n in range(9)]
    with_schemas(pg, names)
    owner = unique("fleet_owner")
    pg.sql(f"CREATE ROLE {owner} LOGIN PASSWORD 'pg-test-pw-7Qx' CONNECTION LIMIT 4; "
           f"GRANT ALL ON DATABASE {pg.dbname} TO {owner}; ALTER TABLE tenants OWNER TO {owner}; "
           f"GRANT ALL ON SCHEMA public TO {owner}; " + "".join(f"ALTER SCHEMA {n} OWNER TO {owner};" for n in names))
    (project / "tenant-migrations" / "V005-slow-up.sql").write_text("SELECT pg_sleep(0.3);\n")
    log = pg.server.dir / "server.log"
    before = log.stat().st_size
    env = fleet_env(pg, project, POSTGRES_URL=pg.url.replace("postgres:", f"{owner}:", 1), DBINIT_PARALLEL="3")
    result = run_dbinit("migrate", **env)
    assert result.returncode == 0, result.stderr
    assert "9 tenants migrated: 9 applied" in result.stderr
    with log.open("rb") as f:
        f.seek(before)
        assert b"too many connections" not in f.read()
    pg.sql(f"DROP OWNED BY {owner} CASCADE; DROP ROLE {owner}")


def test_with_nothing_pending_the_histories_are_read_at_once_without_a_session_a_tenant(pg, project):
    names = [f"n{n:03}" for n in range(100)]
    with_schemas(pg, names)
    assert run_dbinit("migrate", **fleet_env(pg, project)).returncode == 0
    # by default no tenant's schema is described or recorded (DBINIT_TENANT_DRIFT=off)
    assert pg.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'dbinit_schema_record' "
                  "AND schemaname LIKE 'dbinit\\_%'") == "0"
    again = run_dbinit("migrate", **fleet_env(pg, project))
    assert again.returncode == 0, again.stderr
    assert "100 tenants up to date by their histories, read at once" in again.stderr
    assert "postgres[" not in again.stderr  # no tenant's run was started
    assert "100 tenants migrated: 100 up to date" in again.stderr


def test_a_pod_waits_for_its_own_tenant_and_status_and_check_say_each_tenants_state(pg, project, tmp_path):
    with_schemas(pg, ["acme", "globex"])
    assert run_dbinit("migrate", "--tenant", "acme", **fleet_env(pg, project)).returncode == 0
    env = fleet_env(pg, project, DBINIT_WAIT_TIMEOUT="60")
    waiting = start_dbinit("wait", "--migrated", **env, DBINIT_TENANT="globex")
    for line in waiting.stderr:  # it has seen globex behind before globex is migrated
        if "waiting for 1 tenants migrated elsewhere: globex" in line:
            break
    else:
        pytest.fail(f"wait --migrated ended without waiting for globex (exit {waiting.wait()})")
    status = run_dbinit("status", "--format", "json", **env)
    document = json.loads(status.stdout)
    jsonschema.validate(document, json.loads((ROOT / "dbinit" / "status.schema.json").read_text()))
    assert document["up_to_date"] is False
    assert (document["tenants"]["acme"]["state"], document["tenants"]["globex"]["state"]) == ("up to date", "pending")
    assert document["tenants"]["globex"]["pending"] == [f"V{n:03}" for n in range(1, FILES + 1)]
    table = run_dbinit("status", **env).stdout
    assert "tenant acme: up to date" in table and "tenant globex: pending (V001, V002, V003, V004)" in table
    check = run_dbinit("check", **env)
    assert check.returncode == 3 and "tenant globex V001" in check.stderr
    everyone = run_dbinit("wait", "--migrated", **{**env, "DBINIT_WAIT_TIMEOUT": "1"})
    assert everyone.returncode == 69 and "1 tenants still behind" in everyone.stderr and "globex" in everyone.stderr
    assert run_dbinit("migrate", "--tenant", "globex", **env).returncode == 0
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert run_dbinit("check", **env).returncode == 0


def test_a_tenants_history_survives_its_schema_being_reset(pg, project):
    with_schemas(pg, ["acme"])
    assert run_dbinit("migrate", **fleet_env(pg, project)).returncode == 0
    pg.sql("DROP SCHEMA acme CASCADE; CREATE SCHEMA acme")
    assert pg.sql("SELECT count(*) FROM dbinit_acme.dbinit_schema_history") == str(FILES)


@pytest.mark.parametrize("env, says", [
    ({"DBINIT_TENANTS_QUERY": "SELECT name FROM no_such_table"}, "DBINIT_TENANTS_QUERY failed (42P01)"),
    ({"DBINIT_TENANTS_QUERY": "SELECT name FROM tenants WHERE false"}, "DBINIT_TENANTS_QUERY names no tenant"),
    ({"DBINIT_TENANTS_QUERY": "SELECT 'acme; DROP TABLE x'"}, "is not a tenant name"),
    ({"DBINIT_TENANTS_QUERY": "SELECT 'acme' UNION ALL SELECT 'acme'"}, "names acme more than once"),
    ({"DBINIT_TENANTS": "acme,1st"}, "'1st' is not a tenant name"),
    ({"DBINIT_TENANTS": "acme", "DBINIT_TENANTS_QUERY": QUERY}, "both DBINIT_TENANTS and DBINIT_TENANTS_QUERY"),
    ({"DBINIT_TENANTS": "acme", "DBINIT_SHARDS": "3"}, "neither JOB_COMPLETION_INDEX"),
    ({"DBINIT_TENANTS": "acme", "DBINIT_SHARDS": "3", "JOB_COMPLETION_INDEX": "3"}, "from 0 to 2"),
    ({"DBINIT_TENANTS": "acme", "DBINIT_PARALLEL": "0"}, "DBINIT_PARALLEL must be a whole number of 1 or more"),
    ({"DBINIT_TENANTS": "acme", "DBINIT_TENANT_KIND": "table"}, "DBINIT_TENANT_KIND must be schema or database"),
    ({"DBINIT_TENANTS": "acme", "DBINIT_TENANT": "globex"}, "globex is not one of the tenants"),
    ({"DBINIT_TENANTS": "acme," + "a" * 60}, "may be at most 56 characters"),  # refused before acme runs
    ({"DBINIT_TENANTS": "acme", "DBINIT_PLACEHOLDER_TENANT": "x"}, "${tenant} is each tenant's name"),
    ({"DBINIT_TENANT": "acme", "DBINIT_TENANTS_QUERY": ""}, "DBINIT_TENANT is set, but no tenants are"),
    ({"DBINIT_TENANTS": "acme", "DBINIT_PG_POOLER": "transaction"}, "transaction-mode pooler"),
])
def test_a_bad_fleet_setting_is_78_at_once_and_no_tenant_is_touched(pg, project, env, says):
    with_schemas(pg, ["acme"])
    given = {"DBINIT_TENANTS_QUERY": ""} if "DBINIT_TENANTS" in env else {}  # a list instead of the query
    result = run_dbinit("migrate", **{**fleet_env(pg, project), **given, **env}, DBINIT_WAIT_TIMEOUT="5")
    assert result.returncode == 78, result.stderr
    assert says in result.stderr.strip().splitlines()[-1]
    assert pg.sql("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'dbinit\\_%'") == "0"
    assert "postgres[" not in result.stderr


@pytest.mark.parametrize("db, name, text", [("redis", "V009-cache-warm.redis", "SET warm 1\n"),
                                           ("neo4j", "2026-01-01-001-graph.cypher", "CREATE (:Tenant);\n")])
def test_files_of_another_database_among_the_tenants_files_are_refused(pg, project, db, name, text):
    with_schemas(pg, ["acme"])
    (project / "tenant-migrations" / name).write_text(text)
    result = run_dbinit("migrate", **fleet_env(pg, project))
    failure_modes.check(result, "a fleet's tenants' files in another database's language", db)
    assert name in result.stderr.strip().splitlines()[-1]
    assert pg.sql("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'dbinit\\_%'") == "0"


def test_a_fleet_names_at_least_one_tenant(pg, project):
    result = run_dbinit("migrate", **fleet_env(pg, project))  # the registry is made, and empty
    failure_modes.check(result, "a fleet's tenants' query that names no tenant", "postgres")
    assert pg.sql("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'dbinit\\_%'") == "0"


def test_parallel_on_the_command_line_needs_tenants(pg, project):
    result = run_dbinit("migrate", "--parallel", "4", POSTGRES_URL=pg.url, DBINIT_MIGRATIONS=str(project / "migrations"))
    assert result.returncode == 64 and "--parallel needs tenants" in result.stderr


def test_the_tenants_guide_runs_as_written(pg, tmp_path):
    """The guide's files and settings: a new installation's registry is empty (78, or 0 with
    DBINIT_ALLOW_EMPTY), then the application adds tenants and the next run migrates them."""
    from examples import block

    for title in ("migrations/V001-tenants-up.sql", "tenant-migrations/V001-orders-up.sql"):
        (tmp_path / title).parent.mkdir(exist_ok=True)
        (tmp_path / title).write_text(block(title, "docs/guides/tenants.md").text)
    given = dict(line.split("=", 1) for line in block("environment", "docs/guides/tenants.md").text.splitlines())
    env = {**given, "POSTGRES_URL": pg.url}
    first = run_dbinit("migrate", cwd=tmp_path, **env)
    assert first.returncode == 78 and "DBINIT_TENANTS_QUERY names no tenant" in first.stderr
    assert run_dbinit("migrate", cwd=tmp_path, **env, DBINIT_ALLOW_EMPTY="true").returncode == 0
    pg.sql("CREATE SCHEMA acme; CREATE SCHEMA globex; INSERT INTO tenants VALUES ('acme', true), ('globex', true), ('gone', false)")
    result = run_dbinit("migrate", cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "2 tenants migrated: 2 applied" in result.stderr
    assert pg.sql("SELECT obj_description('globex.orders'::regclass)") == "the orders of globex"


def test_a_finding_of_the_lint_in_a_tenants_file_is_said_once_for_the_fleet(pg, project):
    with_schemas(pg, ["acme", "globex", "initech"])
    (project / "tenant-migrations" / "V005-check-up.sql").write_text(
        "ALTER TABLE items_1 ADD CONSTRAINT positive CHECK (id > 0);\n")
    result = run_dbinit("migrate", **fleet_env(pg, project, DBINIT_LINT="warn"))
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "constraint-missing-not-valid" in line]
    assert len(said) == 1 and "V005-check-up.sql:1" in said[0]


def test_a_tenant_s_schema_changed_by_hand_is_drift_of_that_tenant_until_accepted(pg, project):
    with_schemas(pg, ["acme", "globex"])
    assert run_dbinit("migrate", **fleet_env(pg, project, DBINIT_TENANT_DRIFT="warn")).returncode == 0
    pg.sql("ALTER TABLE globex.items_1 ADD COLUMN note text")  # a person's change, in one tenant
    drifted = run_dbinit("check", "--drift", **fleet_env(pg, project))
    assert drifted.returncode == 4, drifted.stderr
    last = drifted.stderr.strip().splitlines()[-1]
    assert "tenant globex postgres:" in last and "items_1" in last and "acme" not in last
    assert "tenant globex: up to date; postgres schema: the schema drifted" in run_dbinit("status", **fleet_env(pg, project)).stdout
    accepted = run_dbinit("accept", "--reason", "a note column for support", **fleet_env(pg, project))
    assert accepted.returncode == 0, accepted.stderr
    assert run_dbinit("check", "--drift", **fleet_env(pg, project)).returncode == 0
    pg.sql("CREATE SCHEMA initech; INSERT INTO tenants VALUES ('initech')")  # a customer signs up
    later = run_dbinit("check", "--drift", **fleet_env(pg, project))
    assert later.returncode == 3 and "tenant initech V001" in later.stderr  # pending, and no drift of the shared part
    assert "schema initech" not in later.stderr and "drifted" not in later.stderr


def test_a_command_of_the_shared_part_alone_refuses_a_tenant(pg, project):
    result = run_dbinit("schema", "--tenant", "acme", **fleet_env(pg, project))
    assert result.returncode == 64 and "dbinit schema addresses the shared part, not a tenant" in result.stderr
