"""Placeholders: ${name} filled from DBINIT_PLACEHOLDER_<NAME>, its _FILE twin, --placeholder and the API,
quoted for each language, never shown, and never making an applied file "changed". Real servers."""
import psycopg
import pytest

import dbinit
from conftest import run_dbinit
from dbinit.errors import UsageError

SECRET = "s3cr'et \"pass\\word"  # every character a naive quoting gets wrong


def test_a_role_made_with_a_password_from_a_file_can_log_in_and_the_password_is_shown_nowhere(pg, migrations,
                                                                                             tmp_path):
    migrations.write("V1-reader-up.sql", "CREATE ROLE ${role:identifier} LOGIN PASSWORD ${password:literal};\n")
    migrations.write("V2-check-up.sql", "SELECT ${password:literal}::int;\n")  # fails, echoing the value
    secret_file = tmp_path / "password"
    secret_file.write_text(SECRET + "\n")
    report = tmp_path / "report.json"
    env = {"POSTGRES_URL": pg.url, "DBINIT_PLACEHOLDER_ROLE": f"reader_{pg.dbname}",
           "DBINIT_PLACEHOLDER_PASSWORD_FILE": str(secret_file), "DBINIT_REPORT": str(report)}
    failed = run_dbinit("migrate", "--migrations", str(migrations.path), **env)
    assert failed.returncode == 1 and "V2-check-up.sql:1" in failed.stderr and "******" in failed.stderr
    shown = run_dbinit("migrate", "--dry-run", "--script", "--migrations", str(migrations.path), **env)
    status = run_dbinit("status", "--migrations", str(migrations.path), **env)
    for output in (failed.stdout, failed.stderr, report.read_text(), shown.stdout, shown.stderr, status.stdout):
        assert "s3cr" not in output
    with psycopg.connect(host="127.0.0.1", port=pg.server.port, dbname=pg.dbname, user=f"reader_{pg.dbname}",
                         password=SECRET) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == f"reader_{pg.dbname}"
    # a rotated password is not an edit of the applied file
    (migrations.path / "V2-check-up.sql").unlink()
    secret_file.write_text("rotated\n")
    again = run_dbinit("migrate", "--migrations", str(migrations.path), **env)
    assert again.returncode == 0 and "up to date: 0 applied, 1 already applied" in again.stderr, again.stderr
    pg.sql(f"DROP ROLE reader_{pg.dbname}")


def test_cypher_gets_values_as_parameters_and_identifiers_backquoted(neo4j_db, migrations):
    migrations.write("2025-01-01-001-settings.cypher",
                     "CREATE (:${label:identifier} {key: 'owner', value: ${owner:param}});\n")
    args = ["--migrations", str(migrations.path), "--placeholder", f"owner={SECRET}", "--placeholder",
            "label=App Setting"]
    env = {"NEO4J_URI": neo4j_db.uri(), "NEO4J_AUTH": f"neo4j/{neo4j_db.password}"}
    shown = run_dbinit("migrate", "--dry-run", "--script", *args, **env)
    assert "{key: 'owner', value: $dbinit_owner});" in shown.stdout  # a parameter: never in the text
    result = run_dbinit("migrate", *args, **env)
    assert result.returncode == 0, result.stderr
    with neo4j_db.driver() as d:
        assert d.execute_query("MATCH (s:`App Setting`) RETURN s.value").records[0][0] == SECRET


def test_a_redis_value_stays_one_argument_whatever_it_holds(redis_db, migrations):
    migrations.write("V1-greeting.redis", "SET greeting ${greeting}\nSET prefixed \"hello ${greeting}\"\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), REDIS_URL=redis_db.url(),
                        DBINIT_PLACEHOLDER_GREETING=SECRET)
    assert result.returncode == 0, result.stderr
    client = redis_db.client()
    assert client.get("greeting") == SECRET and client.get("prefixed") == "hello " + SECRET


def test_a_literal_dollar_brace_is_written_twice(pg, migrations):
    migrations.write("V1-template-up.sql", "CREATE TABLE t (s text);\nINSERT INTO t VALUES ('$${kept} ${x}');\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), "--placeholder", "x=filled",
                        POSTGRES_URL=pg.url)
    assert result.returncode == 0, result.stderr
    assert pg.sql("SELECT s FROM t") == "${kept} filled"


@pytest.mark.parametrize("name, text, line, says", [
    ("V1-a-up.sql", "SELECT 1;\nSELECT ${missing};\n", 2, "placeholder ${missing} is not defined: set "
                                                         "DBINIT_PLACEHOLDER_MISSING"),
    ("V1-a-up.sql", "SELECT 1;\nSELECT '${unterminated';\n", 2, "a placeholder '${' without a name and '}' after it"),
    ("V1-a.redis", "SET k ${x:literal}\n", 1, "${x:literal}: this file's language has no form :literal"),
    ("V1-a-up.sql", "SELECT ${x:param};\n", 1, "${x:param}: this file's language has no form :param (its forms: "
                                              ":literal, :identifier)"),
    ("2025-01-01-001-a.cypher", "RETURN ${x:literal};\n", 1, "no form :literal (its forms: :param, :identifier)"),
])
def test_a_placeholder_that_cannot_be_filled_is_refused_by_validate_and_migrate_naming_file_and_line(
        pg, redis_db, neo4j_db, migrations, name, text, line, says):
    migrations.write(name, text)
    env = {"POSTGRES_URL": pg.url, "REDIS_URL": redis_db.url(), "NEO4J_URI": neo4j_db.uri(),
           "NEO4J_AUTH": f"neo4j/{neo4j_db.password}", "DBINIT_PLACEHOLDER_X": "1"}
    for command in ("validate", "migrate"):
        result = run_dbinit(command, "--migrations", str(migrations.path), **env)
        assert result.returncode == 65 and f"{name}:{line}" in result.stderr and says in result.stderr, result.stderr
    assert pg.sql("SELECT to_regnamespace('dbinit') IS NULL") == "t" and redis_db.client().keys("*") == []


def test_a_repeatable_file_runs_again_for_a_new_value_only_when_it_asks_to(pg, migrations):
    migrations.write("R-grants.sql", "-- dbinit: placeholders-in-checksum\n"
                                     "CREATE OR REPLACE VIEW owner AS SELECT ${owner:literal}::text AS name;\n")
    migrations.write("R-plain.sql", "CREATE OR REPLACE VIEW plain AS SELECT ${owner:literal}::text AS name;\n")
    for owner, applied in (("alice", 2), ("bob", 1), ("bob", 0)):
        result = run_dbinit("migrate", "--migrations", str(migrations.path), "--placeholder", f"owner={owner}",
                            POSTGRES_URL=pg.url)
        assert result.returncode == 0 and f"up to date: {applied} applied" in result.stderr, result.stderr
    assert pg.sql("SELECT owner.name || ',' || plain.name FROM owner, plain") == "bob,alice"


def test_the_api_takes_placeholders(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE ${table:identifier} (id int);\n")
    done = dbinit.migrate(migrations.path, postgres_url=pg.url, placeholders={"table": "Orders"})
    assert [a.version for a in done.databases["postgres"].applied] == ["1"]
    assert pg.sql("SELECT to_regclass('\"Orders\"') IS NOT NULL") == "t"
    with pytest.raises(UsageError, match="'bad name' is not a placeholder name"):
        dbinit.migrate(migrations.path, postgres_url=pg.url, placeholders={"bad name": "x"})


def test_a_bad_placeholder_option_is_a_usage_error(migrations):
    result = run_dbinit("validate", "--migrations", str(migrations.path), "--placeholder", "novalue")
    assert result.returncode == 64 and "--placeholder takes NAME=VALUE" in result.stderr
