"""The audit trail: every history record names the run that wrote it (its id, dbinit's version, the
image's revision, the pod and namespace), and the run's JSON log lines and report name the same id."""
from __future__ import annotations

import hashlib
import json

import psycopg

from conftest import run_dbinit, start_dbinit
from fleet import finish

POD = {"POD_NAME": "shop-api-7f9c4-x2lq", "POD_NAMESPACE": "shop", "DBINIT_IMAGE_REVISION": "3e1f0c2"}


def statuses(target, migrations) -> dict[str, dict]:
    result = run_dbinit("status", "--format", "json", "--migrations", str(migrations.path), **target.env)
    assert result.returncode == 0, result.stderr
    return {m["version"]: m for m in json.loads(result.stdout)["databases"][target.db]["migrations"]}


def test_each_record_names_the_run_that_applied_it_as_its_logs_and_report_do(target, migrations, tmp_path):
    migrations.write(target.name(1), target.counting(1))
    report = tmp_path / "report.json"
    result = run_dbinit("migrate", "--migrations", str(migrations.path), DBINIT_LOG_FORMAT="json",
                        DBINIT_REPORT=str(report), **POD, **target.env)
    assert result.returncode == 0, result.stderr
    run_id = json.loads(report.read_text())["run_id"]
    assert {json.loads(line)["run_id"] for line in result.stderr.splitlines()} == {run_id}
    (applied,) = statuses(target, migrations).values()
    assert applied["applied_by"] == {"run_id": run_id, "dbinit_version": json.loads(report.read_text())["dbinit_version"],
                                     "image_revision": "3e1f0c2", "host": "shop-api-7f9c4-x2lq", "namespace": "shop"}
    table = run_dbinit("status", "--migrations", str(migrations.path), **target.env).stdout
    assert f"| {run_id[:8]} on shop-api-7f9c4-x2lq |" in table


def test_racing_runners_each_record_their_own_run(pg, migrations, tmp_path):
    """Three replicas of three releases start at once; each applies its part under the lock, and
    each record names the runner whose report says it applied it."""
    for n in (1, 2, 3):
        migrations.write(f"V{n}-step{n}-up.sql", f"CREATE TABLE t{n} (id int);\nSELECT pg_sleep(0.3);\n")
    reports = [tmp_path / f"report{n}.json" for n in (1, 2, 3)]
    racers = [start_dbinit("migrate", "--to", str(n), "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                           DBINIT_REPORT=str(reports[n - 1]), POD_NAME=f"pod-{n}", DBINIT_OUT_OF_ORDER="true")
              for n in (1, 2, 3)]
    assert [code for code, _ in map(finish, racers)] == [0, 0, 0]
    recorded = dict(line.split("|") for line in pg.sql(
        "SELECT version, run_id FROM dbinit.dbinit_schema_history").splitlines())
    owners = {}
    for path in reports:
        document = json.loads(path.read_text())
        for applied in document["databases"]["postgres"]["applied"]:
            owners[applied["version"].removeprefix("V")] = document["run_id"]
    assert recorded == owners and sorted(owners) == ["1", "2", "3"]
    assert len({json.loads(p.read_text())["run_id"] for p in reports}) == 3


OLD_RECORDS = {  # a record as dbinit 0.2 wrote it, without the run
    "postgres": None,  # below: the table of 0.2, without the columns
    "neo4j": "CREATE (:__DbinitMigration {{version: '2025-01-01-001', description: 'step', script: '{script}', checksum: "
             "'{checksum}', applied_at: datetime(), execution_ms: 3, success: true, applied_by: 'host:token'}})",
    "redis": "HSET dbinit:migrations 1 {entry}",
}


def test_a_record_of_an_older_dbinit_has_no_run_and_the_next_run_records_its_own(target, migrations):
    script = target.name(1)
    path = migrations.write(script, target.counting(1))
    checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    if target.db == "postgres":
        target.by_hand("CREATE SCHEMA dbinit; CREATE TABLE dbinit.dbinit_schema_history (version text PRIMARY KEY, "
                       "description text NOT NULL, script text NOT NULL, checksum text NOT NULL, applied_at timestamptz "
                       "NOT NULL DEFAULT now(), execution_ms integer NOT NULL, success boolean NOT NULL, applied_by "
                       "text NOT NULL, down_script text, baselined boolean NOT NULL DEFAULT false);"
                       f"INSERT INTO dbinit.dbinit_schema_history VALUES ('1', 'step', '{script}', '{checksum}', now(), "
                       "3, true, 'host:token', NULL, false)")
    elif target.db == "neo4j":
        target.by_hand(OLD_RECORDS["neo4j"].format(script=script, checksum=checksum))
    else:
        entry = {"description": "step", "script": script, "checksum": checksum, "applied_at": "2025-01-01T00:00:00+00:00",
                 "execution_ms": 3, "success": True, "applied_by": "host:token", "baselined": False}
        target.server.client().hset("dbinit:migrations", "1", json.dumps(entry))
    before = statuses(target, migrations)
    assert before[next(iter(before))]["status"] == "Applied"
    assert set(before[next(iter(before))]["applied_by"].values()) == {None}
    migrations.write(target.name(2), target.counting(2))
    assert run_dbinit("migrate", "--migrations", str(migrations.path), **POD, **target.env).returncode == 0
    after = list(statuses(target, migrations).values())
    assert set(after[0]["applied_by"].values()) == {None} and after[1]["applied_by"]["host"] == "shop-api-7f9c4-x2lq"


def test_the_columns_are_added_once_without_rewriting_the_table(pg, migrations):
    """Nullable columns without a default change the catalog alone: the table keeps its file (no
    rewrite under an exclusive lock), and a later run does not alter it again."""
    pg.sql("CREATE SCHEMA dbinit; CREATE TABLE dbinit.dbinit_schema_history (version text PRIMARY KEY, description "
           "text NOT NULL, script text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), "
           "execution_ms integer NOT NULL, success boolean NOT NULL, applied_by text NOT NULL, down_script text, "
           "baselined boolean NOT NULL DEFAULT false)")
    file_before = pg.sql("SELECT pg_relation_filenode('dbinit.dbinit_schema_history')")
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    assert run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url).returncode == 0
    assert pg.sql("SELECT pg_relation_filenode('dbinit.dbinit_schema_history')") == file_before
    columns = "SELECT string_agg(attname, ' ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = " \
              "'dbinit.dbinit_schema_history'::regclass AND attnum > 0 AND NOT attisdropped"
    assert pg.sql(columns).endswith("run_id dbinit_version image_revision host namespace")
    # Once there, a run takes no lock on the table beyond its reads: a reader holding it open (a
    # replica's status, an auditor's transaction) does not hold the next migration up.
    with psycopg.connect(pg.url, autocommit=False) as reader:
        reader.execute("SELECT count(*) FROM dbinit.dbinit_schema_history")
        migrations.write("V2-b-up.sql", "CREATE TABLE b (id int);\n")
        result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url, timeout=60)
        assert result.returncode == 0, result.stderr


def test_a_baselined_record_names_the_run_that_recorded_it(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    assert run_dbinit("baseline", "--to", "1", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                      **POD).returncode == 0
    assert pg.sql("SELECT host || ' ' || namespace FROM dbinit.dbinit_schema_history") == "shop-api-7f9c4-x2lq shop"
