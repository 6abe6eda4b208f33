"""Which dbinit runs: `--version`, the first line of every run, the run report and `status --format json`,
all one version, pyproject.toml's."""
import json
import tomllib

import jsonschema

from conftest import ROOT, run_dbinit
from dbinit.version import VERSION

STATUS_SCHEMA = json.loads((ROOT / "dbinit" / "status.schema.json").read_text())


def test_the_version_is_pyprojects_and_dbinit_says_it():
    assert VERSION == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    shown = run_dbinit("--version")
    assert shown.returncode == 0 and shown.stdout == f"dbinit {VERSION}\n"


def test_a_run_names_its_version_first_and_in_its_report(migrations, tmp_path):
    report = tmp_path / "report.json"
    result = run_dbinit("validate", "--migrations", str(migrations.path), DBINIT_REPORT=str(report))
    assert result.stderr.splitlines()[0].endswith(f"INFO dbinit: dbinit {VERSION}: validate")
    assert json.loads(report.read_text())["dbinit_version"] == VERSION
    as_json = run_dbinit("validate", "--migrations", str(migrations.path), DBINIT_LOG_FORMAT="json")
    assert json.loads(as_json.stderr.splitlines()[0])["version"] == VERSION


def test_status_and_check_as_json_follow_their_schema(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    migrations.write("V2-b-up.sql", "-- dbinit: post-deploy\nCREATE TABLE b (id int);\n")
    migrations.write("R-view.sql", "CREATE OR REPLACE VIEW v AS SELECT 1 AS n;\n")
    assert run_dbinit("migrate", "--to", "V1", "--migrations", str(migrations.path), POSTGRES_URL=pg.url).returncode == 0
    status = run_dbinit("status", "--format", "json", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    document = json.loads(status.stdout)
    jsonschema.validate(document, STATUS_SCHEMA)
    rows = {m["version"]: (m["status"], m["phase"]) for m in document["databases"]["postgres"]["migrations"]}
    assert rows == {"V1": ("Applied", "pre-deploy"), "V2": ("Pending", "post-deploy"), "R-view": ("Pending", "pre-deploy")}
    check = run_dbinit("check", "--format", "json", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    document = json.loads(check.stdout)
    jsonschema.validate(document, STATUS_SCHEMA)
    assert check.returncode == 3 and document["up_to_date"] is False
    assert document["databases"]["postgres"]["pending"] == ["R-view"]
    assert document["databases"]["postgres"]["deferred"] == ["V2"]
