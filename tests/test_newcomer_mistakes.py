"""A newcomer's mistakes that once ended in a silent success, a secret shown or a lost cause: each is
now refused at once with its exit code and a sentence that names the fix, and nothing changes.
(The failure modes of servers and settings, per database, are tests/test_failure_modes.py's table.)"""
import json

import pytest

from conftest import run_dbinit

GOOD = "CREATE TABLE t (id int);\n"


def nothing_made(pg) -> bool:
    return pg.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'dbinit'") == "0" and \
        pg.sql("SELECT to_regclass('t') IS NULL") == "t"


@pytest.mark.parametrize("folder", ["postgresql", "sql", "postgres/2024"])
@pytest.mark.parametrize("command", ["migrate", "check", "validate"])
def test_migration_files_in_a_folder_dbinit_does_not_read_are_refused_not_skipped(pg, migrations, folder, command):
    migrations.write(f"{folder}/V001-a-up.sql", GOOD)
    result = run_dbinit(command, "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    assert result.returncode == 65, result.stderr
    assert f"{migrations.path / folder}: holds 1 migration file(s) that would never run (such as V001-a-up.sql)" \
        in result.stderr
    assert nothing_made(pg)


def test_a_migration_extension_in_capitals_is_refused_not_skipped(pg, migrations):
    migrations.write("V001-a-up.SQL", GOOD)
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    assert result.returncode == 65 and "V001-a-up.SQL: is not read: the extension must be lower-case (.sql)" \
        in result.stderr, result.stderr
    assert nothing_made(pg)


@pytest.mark.parametrize("command", ["migrate", "check", "status", "validate"])
def test_an_empty_migrations_directory_is_refused_unless_expected(pg, migrations, command):
    result = run_dbinit(command, "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    assert result.returncode == 65, result.stderr
    assert "holds no migration files: is the volume or ConfigMap mounted at another path?" in result.stderr
    expected = run_dbinit(command, "--migrations", str(migrations.path), POSTGRES_URL=pg.url, DBINIT_ALLOW_EMPTY="true")
    assert expected.returncode == 0, expected.stderr


def test_a_common_word_or_one_letter_as_password_masks_no_other_word(postgres_server, migrations):
    """Masked where it stands (the URL's password), never inside other words of the line."""
    migrations.write("V001-a-up.sql", GOOD)
    for password in ("postgres", "p"):
        url = f"postgresql://app:{password}@127.0.0.1:{postgres_server.port}/postgres"
        result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=url, DBINIT_WAIT_TIMEOUT="20")
        assert result.returncode == 77, result.stderr
        assert "dbinit 0.2.0: migrate" in result.stderr and "waiting for postgresql://app@127.0.0.1:" in result.stderr
        assert "******ql" not in result.stderr and "migr******" not in result.stderr


def test_create_with_a_url_ending_in_a_line_break_makes_no_database(postgres_server):
    url = postgres_server.url(dbname="projdb") + "\n"
    result = run_dbinit("create", POSTGRES_URL=url, DBINIT_WAIT_TIMEOUT="20")
    assert result.returncode == 78 and "POSTGRES_URL ends with a line break" in result.stderr, result.stderr
    assert postgres_server.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'projdb%'") == "0"


def test_the_neo4j_drivers_own_log_lines_never_reach_the_users_log():
    """A routing URI at a closed port: the driver logs 'Unable to retrieve routing information' many
    times a second; every line on stderr is still one of dbinit's JSON objects."""
    from servers import free_port

    result = run_dbinit("wait", NEO4J_URI=f"neo4j://127.0.0.1:{free_port()}", NEO4J_AUTH="neo4j/x-y-z-1",
                        DBINIT_WAIT_TIMEOUT="3", DBINIT_LOG_FORMAT="json")
    assert result.returncode == 69
    lines = result.stderr.splitlines()
    assert lines and all(json.loads(line)["source"] for line in lines), result.stderr


def test_validate_with_servers_says_when_a_database_has_no_server_check(pg, migrations):
    migrations.write("V001-a-up.sql", GOOD)
    result = run_dbinit("validate", "--servers", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    assert result.returncode == 0, result.stderr
    assert "postgres: the server has no check of its own to add" in result.stderr


@pytest.mark.parametrize("args, says", [
    (("migrat",), "unknown command 'migrat'; did you mean migrate?"),
    (("stauts",), "unknown command 'stauts'; did you mean status?"),
    (("migrate", "--dry-rn"), "migrate: unrecognized arguments: --dry-rn; did you mean --dry-run?"),
    (("new", "postgres", "add", "users", "table"), 'quote it, dbinit new postgres "add users table"'),
])
def test_a_typo_on_the_command_line_is_64_with_what_was_meant(migrations, args, says):
    result = run_dbinit(*args, "--migrations", str(migrations.path))
    assert result.returncode == 64, result.stderr
    assert says in result.stderr and "dbinit: dbinit" not in result.stderr
    assert list(migrations.path.iterdir()) == []


def test_a_usage_error_comes_in_the_chosen_log_format():
    result = run_dbinit("migrat", DBINIT_LOG_FORMAT="json")
    line = json.loads(result.stderr.strip())
    assert result.returncode == 64 and line["exit_code"] == 64 and "did you mean migrate?" in line["message"]


def test_help_and_options_before_the_command_are_understood(pg, migrations):
    helped = run_dbinit("help", "migrate")
    assert helped.returncode == 0 and "usage: dbinit migrate" in helped.stdout
    migrations.write("V001-a-up.sql", GOOD)
    result = run_dbinit("--migrations", str(migrations.path), "validate")
    assert result.returncode == 0 and "1 migration files are valid" in result.stderr, result.stderr


@pytest.mark.parametrize("where", ["environment", ".env"])
@pytest.mark.parametrize("slip, meant", [("POSTGRESS_URL", "POSTGRES_URL"), ("DBINIT_WAIT_TIMOUT", "DBINIT_WAIT_TIMEOUT")])
def test_a_misspelt_variable_is_78_naming_the_one_meant(pg, migrations, tmp_path, where, slip, meant):
    migrations.write("V001-a-up.sql", GOOD)
    value = pg.url if slip.startswith("POSTGRES") else "5"
    env = {} if slip.startswith("POSTGRES") else {"POSTGRES_URL": pg.url}
    if where == ".env":
        (tmp_path / ".env").write_text(f"{slip}={value}\n")
    else:
        env[slip] = value
    result = run_dbinit("migrate", "--migrations", str(migrations.path), cwd=tmp_path, **env)
    assert result.returncode == 78, result.stderr
    assert f"{slip} is set, but dbinit reads no such variable: did you mean {meant}?" in result.stderr
    assert nothing_made(pg)


def test_a_slip_beside_the_variable_it_resembles_and_an_unknown_dbinit_variable_are_warnings(pg, migrations):
    migrations.write("V001-a-up.sql", GOOD)
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url, POSTGRES_URI=pg.url,
                        DBINIT_FROBNICATE="1")
    assert result.returncode == 0, result.stderr
    assert "WARN dbinit: POSTGRES_URI is set, but dbinit reads no such variable (did you mean POSTGRES_URL? it is " \
           "set too)" in result.stderr
    assert "WARN dbinit: DBINIT_FROBNICATE is set, but dbinit reads no such variable" in result.stderr


def test_names_are_said_as_the_user_wrote_them(pg, migrations):
    migrations.write("V001-a-up.sql", GOOD)
    migrations.write("V001-a-down.sql", "DROP TABLE t;\n")
    gone = migrations.write("V002-nodown-up.sql", "CREATE TABLE u (id int);\n")
    assert run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url).returncode == 0
    gone.unlink()  # the previous image: rolling back V002, which has no down script
    result = run_dbinit("rollback", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    assert result.returncode == 65 and "V002 (V002-nodown-up.sql) has no down file" in result.stderr, result.stderr
    migrations.write("V003-a'b;drop-up.sql", "SELECT 1;\n")
    result = run_dbinit("validate", "--migrations", str(migrations.path))
    assert result.returncode == 65
    assert "V003-a'b;drop-up.sql: its description holds characters a name may not have (' ;)" in result.stderr
