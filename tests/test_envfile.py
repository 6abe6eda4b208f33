"""A `.env` file for the laptop, as dbmate reads one: the command line's, the environment winning,
values naive parsing gets wrong, a bad line named. Real PostgreSQL."""
import json

from conftest import run_dbinit

TRICKY = 'he said "hi" # not a comment = still the value'


def write_env(path, pg, migrations, *extra: str) -> None:
    port, db = pg.url.rsplit(":", 1)[1].split("/")
    path.write_text("# the laptop's databases\n"
                    f"export POSTGRES_URL=postgresql://postgres@127.0.0.1:{port}/{db}\n"
                    f'POSTGRES_PASSWORD="{pg.server.password}"\n'
                    f"DBINIT_PLACEHOLDER_GREETING='{TRICKY}'\n"
                    'DBINIT_PLACEHOLDER_POEM="line one\nline two"\n'
                    f"DBINIT_MIGRATIONS={migrations.path}\n" + "".join(extra))


def test_dot_env_in_the_working_directory_configures_the_command_line_and_the_environment_wins(pg, migrations,
                                                                                                tmp_path):
    migrations.write("V1-a-up.sql", "CREATE TABLE t (g text, p text);\n"
                                    "INSERT INTO t VALUES (${greeting:literal}, ${poem:literal});\n")
    project = tmp_path / "project"
    project.mkdir()
    write_env(project / ".env", pg, migrations)
    result = run_dbinit("migrate", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "read POSTGRES_URL, POSTGRES_PASSWORD, DBINIT_PLACEHOLDER_GREETING, DBINIT_PLACEHOLDER_POEM, " \
           "DBINIT_MIGRATIONS from .env" in result.stderr
    assert pg.sql("SELECT g || '|' || p FROM t") == f"{TRICKY}|line one\nline two"
    empty = tmp_path / "empty"
    empty.mkdir()
    overridden = run_dbinit("status", cwd=project, DBINIT_MIGRATIONS=str(empty),  # the environment's, not .env's
                            DBINIT_ALLOW_EMPTY="true")
    assert overridden.returncode == 0 and "Missing" in overridden.stdout, overridden.stderr
    assert "read POSTGRES_URL, POSTGRES_PASSWORD, DBINIT_PLACEHOLDER_GREETING, DBINIT_PLACEHOLDER_POEM from .env" \
        in overridden.stderr


def test_the_log_format_a_dot_env_chooses_is_every_line_s_after_it_is_read(pg, migrations, tmp_path):
    """DBINIT_LOG_FORMAT from .env is read with the settings, after the command line's early format
    (flags and environment): from there on, every line is in it."""
    migrations.write("V1-a-up.sql", "CREATE TABLE t (id int);\n")
    write_env(tmp_path / ".env", pg, migrations, "DBINIT_LOG_FORMAT=json\n")
    result = run_dbinit("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines[0]["message"].endswith(": migrate") and any("applied" in r["message"] for r in lines)


def test_env_file_names_another_file_and_a_bad_line_is_refused_naming_it(pg, migrations, tmp_path):
    migrations.write("V1-a-up.sql", "CREATE TABLE t (id int);\n")
    elsewhere = tmp_path / "laptop.env"
    write_env(elsewhere, pg, migrations, "NOT A LINE\n")
    refused = run_dbinit("migrate", "--env-file", str(elsewhere), cwd=tmp_path)
    # Line 8: the poem above it takes two lines.
    assert refused.returncode == 78 and f"{elsewhere}:8: not a NAME=VALUE line" in refused.stderr, refused.stderr
    assert pg.sql("SELECT to_regclass('t') IS NULL") == "t"
    write_env(elsewhere, pg, migrations)
    assert run_dbinit("migrate", "--env-file", str(elsewhere), cwd=tmp_path).returncode == 0
    assert pg.sql("SELECT to_regclass('t') IS NOT NULL") == "t"
    missing = run_dbinit("validate", "--env-file", str(tmp_path / "nowhere.env"), cwd=tmp_path)
    assert missing.returncode == 78 and "nowhere.env: the env file cannot be read" in missing.stderr
