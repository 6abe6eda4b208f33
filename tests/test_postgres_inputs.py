"""What users bring to PostgreSQL: pg_dump's own output as a baseline, files that reset the
schema or change session settings, and a history table from dbinit 0.1."""
import subprocess

import pytest

from conftest import run_dbinit, unique

# A schema with the parts pg_dump writes in different sections: types, sequences, defaults, a
# function, a view, constraints, indexes, comments, and rows with tabs, NULLs and backslashes.
SOURCE_SCHEMA = r"""
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, mood mood DEFAULT 'ok', note text);
CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                     customer_id int NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
                     total numeric(10, 2) CHECK (total >= 0), placed timestamptz DEFAULT now());
CREATE INDEX orders_customer ON orders (customer_id);
CREATE FUNCTION order_count(c int) RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM orders WHERE customer_id = c $$;
CREATE VIEW customer_totals AS SELECT c.name, sum(o.total) AS total FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name;
COMMENT ON TABLE customers IS 'people who order; with a ''quote''';
INSERT INTO customers (name, mood, note) VALUES ('Ada', 'happy', E'tab\there'), ('Grace', 'sad', NULL),
    ('Back\slash', 'ok', E'line\nbreak');
INSERT INTO orders (customer_id, total) VALUES (1, 10.50), (1, 2.25), (2, 99);
"""


def pg_dump(postgres_server, dbname: str, *options: str) -> str:
    return subprocess.run([str(postgres_server.bindir / "pg_dump"), "-h", str(postgres_server.sockets), "-p",
                           str(postgres_server.port), "-U", "postgres", *options, dbname],
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture
def source_dump(postgres_server):
    """pg_dump output (schema only, and with data) of a database made in the test."""
    name = unique("dump_source")
    postgres_server.psql(f"CREATE DATABASE {name}")
    postgres_server.psql(SOURCE_SCHEMA, dbname=name)
    yield {"schema": pg_dump(postgres_server, name, "--schema-only"), "data": pg_dump(postgres_server, name)}
    postgres_server.psql(f"DROP DATABASE {name} WITH (FORCE)")


def migrate(pg, migrations, *args, **env):
    return run_dbinit(*args, "--migrations", str(migrations.path), **{"POSTGRES_URL": pg.url, **env})


@pytest.mark.parametrize("kind", ["schema", "data"])
@pytest.mark.parametrize("as_init", [True, False], ids=["init-script", "V001"])
def test_pg_dump_output_applies_as_it_is_then_a_later_migration_and_a_second_run_changes_nothing(
        kind, as_init, source_dump, pg, migrations, tmp_path):
    dump = source_dump[kind]
    if as_init:
        (tmp_path / "init").mkdir()
        (tmp_path / "init" / "postgres-init.sql").write_text(dump)
    else:
        migrations.write("V001-baseline-up.sql", dump)
    migrations.write("V002-add-email-up.sql", "ALTER TABLE customers ADD COLUMN email text;\n"
                                              "CREATE INDEX customers_email ON customers (email);\n")
    assert migrate(pg, migrations, "validate").returncode == 0
    first = migrate(pg, migrations, "migrate")
    assert first.returncode == 0, first.stderr
    assert pg.sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'customers' "
                  "AND column_name = 'email'") == "1"
    assert pg.sql("SELECT order_count(1)") == ("2" if kind == "data" else "0")
    if kind == "data":  # COPY rows arrive as written, with their tabs, NULLs and backslashes
        assert pg.sql("SELECT count(*) FROM customers WHERE note = E'tab\\there' OR note IS NULL "
                      "OR (name = 'Back\\slash' AND note = E'line\\nbreak')") == "3"
        assert pg.sql("SELECT total FROM customer_totals WHERE name = 'Ada'") == "12.75"
    history = pg.sql("SELECT version FROM dbinit.dbinit_schema_history ORDER BY applied_at, version").split()
    assert history == (["init", "2"] if as_init else ["1", "2"])
    second = migrate(pg, migrations, "migrate")
    assert second.returncode == 0 and "0 applied, 2 already applied" in second.stderr


def test_pg_dumps_restrict_lines_are_dropped_and_other_meta_commands_still_refused(pg, migrations):
    migrations.write("V001-dump-up.sql", "\\restrict 7fGh2k\nCREATE TABLE a (id int);\n\\unrestrict 7fGh2k\n")
    assert migrate(pg, migrations, "migrate").returncode == 0
    bad = migrations.write("V002-psql-up.sql", "CREATE TABLE b (id int);\n\\i other.sql\n")
    result = migrate(pg, migrations, "migrate")
    assert result.returncode == 65 and f"{bad.name}:2" in result.stderr and "meta-commands" in result.stderr
    assert pg.sql("SELECT to_regclass('b') IS NULL") == "t"


def test_a_file_that_drops_and_recreates_the_public_schema_keeps_dbinits_history(pg, migrations):
    migrations.write("V001-tables-up.sql", "CREATE TABLE old_stuff (id int);\n")
    migrations.write("V002-reset-up.sql", "DROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n"
                                          "CREATE TABLE fresh (id int);\n")
    migrations.write("V003-more-up.sql", "CREATE TABLE more (id int);\n")
    first = migrate(pg, migrations, "migrate")
    assert first.returncode == 0, first.stderr
    assert pg.sql("SELECT to_regclass('old_stuff') IS NULL AND to_regclass('fresh') IS NOT NULL") == "t"
    assert pg.sql("SELECT string_agg(version, ',' ORDER BY version) FROM dbinit.dbinit_schema_history") == "1,2,3"
    second = migrate(pg, migrations, "migrate")
    assert second.returncode == 0 and "0 applied, 3 already applied" in second.stderr


def test_what_a_file_sets_for_its_session_does_not_reach_the_next_file(pg, migrations):
    pg.sql("CREATE SCHEMA elsewhere")
    migrations.write("V001-settings-up.sql", "SET search_path = elsewhere;\nSET statement_timeout = '1s';\n"
                                             "CREATE TABLE here (id int);\n")
    migrations.write("V002-next-up.sql", "CREATE TABLE there (id int);\nSELECT pg_sleep(1.5);\n")
    result = migrate(pg, migrations, "migrate")
    assert result.returncode == 0, result.stderr
    assert pg.sql("SELECT to_regclass('elsewhere.here') IS NOT NULL AND to_regclass('public.there') IS NOT NULL") == "t"


def test_a_history_table_left_by_dbinit_0_1_in_the_public_schema_is_moved_and_kept(pg, migrations):
    migrations.write("V001-a-up.sql", "CREATE TABLE a (id int);\n")
    assert migrate(pg, migrations, "migrate").returncode == 0
    pg.sql("ALTER TABLE dbinit.dbinit_schema_history SET SCHEMA public")  # as dbinit 0.1 left it
    migrations.write("V002-b-up.sql", "CREATE TABLE b (id int);\n")
    status = migrate(pg, migrations, "status")
    assert "| Applied" in status.stdout and "| Pending" in status.stdout
    result = migrate(pg, migrations, "migrate")
    assert result.returncode == 0, result.stderr
    assert "1 applied, 1 already applied" in result.stderr
    assert pg.sql("SELECT to_regclass('public.dbinit_schema_history') IS NULL") == "t"
    assert pg.sql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "2"


def test_the_history_schema_can_be_chosen(pg, migrations):
    migrations.write("V001-a-up.sql", "CREATE TABLE a (id int);\n")
    result = migrate(pg, migrations, "migrate", DBINIT_POSTGRES_SCHEMA="ops")
    assert result.returncode == 0, result.stderr
    assert pg.sql("SELECT count(*) FROM ops.dbinit_schema_history") == "1"


@pytest.mark.parametrize("as_init", [True, False], ids=["init-script", "V001"])
def test_a_dump_of_a_database_dbinit_manages_leaves_dbinit_s_schema_to_it_and_brings_its_history(
        as_init, postgres_server, pg, migrations, tmp_path):
    """A copy of production as a new environment's baseline: the dump holds schema dbinit, its
    history table and (with data) its rows. They are left to dbinit, the rows adopted, and the
    files they record are not run a second time."""
    production = tmp_path / "production"
    production.mkdir()
    (production / "V001-a-up.sql").write_text("CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n")
    (production / "V002-b-up.sql").write_text("CREATE TABLE b (id int);\n")
    name = unique("production")
    postgres_server.psql(f"CREATE DATABASE {name}")
    try:
        made = run_dbinit("migrate", "--migrations", str(production), POSTGRES_URL=postgres_server.url(dbname=name))
        assert made.returncode == 0, made.stderr
        dump = pg_dump(postgres_server, name)
    finally:
        postgres_server.psql(f"DROP DATABASE {name} WITH (FORCE)")
    assert "CREATE SCHEMA dbinit" in dump and "COPY dbinit.dbinit_schema_history" in dump
    if as_init:  # the new environment: the dump first, then production's files and a newer one
        (tmp_path / "init").mkdir()
        (tmp_path / "init" / "postgres-init.sql").write_text(dump)
        for f in production.iterdir():
            migrations.write(f.name, f.read_text())
        migrations.write("V003-c-up.sql", "CREATE TABLE c (id int);\n")
        expected, already = ["1", "2", "3", "init"], 4
    else:  # a new project whose first migration is the dump: production's V002 is adopted, and
        # reported as applied without its file here; production's V001 is this project's V001
        migrations.write("V001-from-production-up.sql", dump)
        expected, already = ["1", "2"], 1
    first = migrate(pg, migrations, "migrate", DBINIT_INIT_DIR=str(tmp_path / "init"))
    assert first.returncode == 0, first.stderr
    assert "statement(s) on dbinit's own schema 'dbinit' left to dbinit" in first.stderr
    assert pg.sql("SELECT string_agg(version, ',' ORDER BY version) FROM dbinit.dbinit_schema_history") == \
        ",".join(expected)
    assert pg.sql("SELECT count(*) FROM a") == "1"  # production's V001 ran once, in production
    second = migrate(pg, migrations, "migrate", DBINIT_INIT_DIR=str(tmp_path / "init"))
    assert second.returncode == 0 and f"0 applied, {already} already applied" in second.stderr
    assert ("V002 b is applied but its file is missing" in second.stderr) is not as_init  # as its file spelt it
