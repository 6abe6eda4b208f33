"""Migration files: naming, ordering, checksums, and `dbinit validate` on good and bad input."""
from datetime import date

import pytest

from conftest import run_dbinit
from dbinit import files
from dbinit.databases.neo4j import cypher
from dbinit.databases.postgres.sql import parse as parse_sql
from dbinit.databases.redis.commands import split_args
from dbinit.errors import InvalidMigrations


def catalog_of(migrations):
    return files.discover(migrations.path)


def test_repository_migrations_are_valid():
    result = run_dbinit("validate")
    assert result.returncode == 0, result.stderr
    assert "5 migration files are valid" in result.stderr


def test_postgres_versions_are_numbers_so_v10_follows_v9(migrations):
    for v in ("V100", "V9", "V10", "V002"):
        migrations.write(f"{v}-step-up.sql", "SELECT 1;")
    assert [m.label for m in catalog_of(migrations).migrations["postgres"]] == ["V002", "V9", "V10", "V100"]


def test_v001_and_v1_are_the_same_version(migrations):
    migrations.write("V001-a-up.sql", "SELECT 1;")
    migrations.write("V1-b-up.sql", "SELECT 1;")
    with pytest.raises(InvalidMigrations, match="duplicate version V1"):
        catalog_of(migrations)


def test_neo4j_versions_order_by_date_across_months_and_years_then_number(migrations):
    for name in ("2025-01-02-001-c", "2024-12-31-002-b", "2024-12-31-010-bb", "2025-10-01-001-d", "2025-02-01-001-e",
                 "2024-12-31-001-a"):
        migrations.write(f"{name}.cypher", "RETURN 1;")
    assert [m.label for m in catalog_of(migrations).migrations["neo4j"]] == [
        "2024-12-31-001", "2024-12-31-002", "2024-12-31-010", "2025-01-02-001", "2025-02-01-001", "2025-10-01-001"]


def test_subfolders_per_database_and_flat_files_mix(migrations):
    migrations.write("postgres/V1-a-up.sql", "SELECT 1;")
    migrations.write("V2-b-up.sql", "SELECT 1;")
    migrations.write("neo4j/2025-01-01-001-x.cypher", "RETURN 1;")
    migrations.write("redis/V1-r.redis", "SET a b")
    migrations.write("README.md", "not a migration")
    migrations.write("redis-changes.md", "notes")
    c = catalog_of(migrations)
    assert [m.label for m in c.migrations["postgres"]] == ["V1", "V2"]
    assert len(c.migrations["neo4j"]) == len(c.migrations["redis"]) == 1


def test_checksum_ignores_bom_and_crlf(migrations):
    plain = migrations.write("V1-a-up.sql", "SELECT 1;\nSELECT 2;\n")
    first = catalog_of(migrations).migrations["postgres"][0].checksum
    plain.write_bytes(b"\xef\xbb\xbfSELECT 1;\r\nSELECT 2;\r\n")
    assert catalog_of(migrations).migrations["postgres"][0].checksum == first
    plain.write_text("SELECT 1;\nSELECT 3;\n")
    assert catalog_of(migrations).migrations["postgres"][0].checksum != first


def test_down_file_pairs_with_its_up_file(migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (x int);")
    migrations.write("V1-a-down.sql", "DROP TABLE a;")
    assert catalog_of(migrations).migrations["postgres"][0].down.name == "V1-a-down.sql"


SQL_THAT_NAIVE_SPLITTERS_BREAK = """\
/* a block comment; with a semicolon */
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $func$
BEGIN
  PERFORM 1; -- a ; in a body
  RETURN NEW;
END
$func$;
DO $$ BEGIN RAISE NOTICE 'a;b'; END $$;
INSERT INTO t VALUES ('it''s; fine', E'\\n;');
SELECT 1"""


def test_sql_split_keeps_dollar_quotes_do_blocks_comments_and_a_last_statement_without_semicolon(migrations):
    m = catalog_of_one(migrations, "V1-a-up.sql", SQL_THAT_NAIVE_SPLITTERS_BREAK)
    statements = parse_sql(m).statements
    assert [s.line for s in statements] == [2, 8, 9, 10]
    assert statements[0].text.endswith("$func$")
    assert statements[-1].text == "SELECT 1"


def test_sql_file_wrapped_in_begin_commit_runs_in_dbinits_transaction(migrations):
    m = catalog_of_one(migrations, "V1-a-up.sql", "BEGIN;\nCREATE TABLE a (x int);\nCOMMIT;\n")
    script = parse_sql(m)
    assert script.transactional and [s.text for s in script.statements] == ["CREATE TABLE a (x int)"]


def test_no_transaction_directive(migrations):
    m = catalog_of_one(migrations, "V1-a-up.sql", "-- dbinit: no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\n")
    assert not parse_sql(m).transactional


def catalog_of_one(migrations, name, text):
    migrations.write(name, text)
    return catalog_of(migrations).all()[0]


def test_cypher_split_respects_strings_comments_and_backticks():
    text = """// a comment; with a semicolon
CREATE (n:`odd;label` {s: 'a;b', t: "c\\";d"}) /* x; */ RETURN n;
MATCH (n)
// mid-statement comment; here
RETURN n;

:begin
MERGE (m:M)
;
:commit
"""
    statements = cypher.split(text)
    assert [s.line for s in statements] == [2, 3, 8]
    assert "`odd;label`" in statements[0].text and "'a;b'" in statements[0].text
    assert [s.kind for s in statements] == ["data", "data", "data"]


def test_cypher_statement_kinds():
    kinds = [s.kind for s in cypher.split(
        "CREATE INDEX a IF NOT EXISTS FOR (n:A) ON (n.x); DROP CONSTRAINT c; SHOW INDEXES; "
        "MATCH (n) CALL { WITH n SET n.x = 1 } IN TRANSACTIONS OF 100 ROWS; MERGE (n:A {x: 'CREATE INDEX'})")]
    assert kinds == ["schema", "schema", "read", "auto", "data"]


def test_redis_lines_split_as_redis_cli_does():
    assert split_args('SET k "a b\\n" ') == ["SET", "k", "a b\n"]
    assert split_args("SET k 'it\\'s'") == ["SET", "k", "it's"]
    assert split_args('HSET h f "\\x41"') == ["HSET", "h", "f", "A"]
    assert split_args('SET k "open') is None


def test_empty_and_comment_only_files_are_valid_and_mentioned(migrations):
    migrations.write("V1-only-for-neo4j-up.sql", "-- nothing for postgres in this release\n")
    migrations.write("2025-01-01-001-empty.cypher", "")
    migrations.write("V1-nothing.redis", "# nothing\n")
    result = run_dbinit("validate", "--migrations", str(migrations.path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("has no statements") == 3


def test_validate_warns_about_create_index_without_if_not_exists(migrations):
    migrations.write("2025-01-01-001-idx.cypher", "CREATE INDEX a FOR (n:A) ON (n.x);\n")
    result = run_dbinit("validate", "--migrations", str(migrations.path))
    assert result.returncode == 0
    assert "2025-01-01-001-idx.cypher:1: CREATE INDEX/CONSTRAINT without IF NOT EXISTS" in result.stderr


# Each bad input: files to write, then the text the error must hold (file name and what is wrong).
BAD_INPUTS = {
    "flyway name": ({"V1__add_users.sql": "SELECT 1;"},
                    "V1__add_users.sql: looks like a Flyway name: call it V1-add-users-up.sql (dbinit import flyway"),
    "golang-migrate name": ({"000001_add_users.up.sql": "SELECT 1;"}, "looks like a golang-migrate name: call it "
                            "V000001-add-users-up.sql (dbinit import golang-migrate converts the whole folder)"),
    "dbmate name": ({"20240115093000_add_users.sql": "-- migrate:up\nSELECT 1;"}, "looks like a dbmate name: dbinit's "
                    "are V20240115093000-add-users-up.sql and V20240115093000-add-users-down.sql, one for each section "
                    "(dbinit import dbmate splits them)"),
    "lower-case v": ({"v001-add-users-up.sql": "SELECT 1;"}, "the V must be upper-case"),
    "no up or down": ({"V001-add-users.sql": "SELECT 1;"}, "ends in neither -up nor -down"),
    "no description": ({"V001-up.sql": "SELECT 1;"}, "has no description"),
    "version not a number": ({"V1a-add-users-up.sql": "SELECT 1;"}, "the version after V must be digits"),
    "space in name": ({"V001-add users-up.sql": "SELECT 1;"}, "has white space in its name"),
    "no version at all": ({"add-users.sql": "SELECT 1;"}, "add-users.sql: is not a valid postgres migration name"),
    "duplicate postgres version": ({"V1-a-up.sql": "SELECT 1;", "V001-b-up.sql": "SELECT 1;"}, "duplicate version"),
    "duplicate across subfolder and flat": ({"V2-a-up.sql": "SELECT 1;", "postgres/V2-b-up.sql": "SELECT 1;"}, "duplicate version V2"),
    "down without up": ({"V3-a-down.sql": "SELECT 1;"}, "V3-a-down.sql: down file without its up file"),
    "down paired with differently named up": ({"V3-a-up.sql": "SELECT 1;", "V3-b-down.sql": "SELECT 1;", "V3-c-down.sql": "SELECT 1;"}, "duplicate down version V3"),
    "impossible date": ({"2025-02-30-001-x.cypher": "RETURN 1;"}, "2025-02-30 is not a calendar date"),
    "month 13": ({"2025-13-01-001-x.cypher": "RETURN 1;"}, "2025-13-01 is not a calendar date"),
    "cypher without sequence number": ({"2025-01-15-add-index.cypher": "RETURN 1;"}, "has no sequence number NNN"),
    "neo4j-migrations name": ({"V001__add_index.cypher": "RETURN 1;"}, "looks like a neo4j-migrations name"),
    "duplicate neo4j version": ({"2025-01-15-001-a.cypher": "RETURN 1;", "2025-01-15-1-b.cypher": "RETURN 1;"}, "duplicate version"),
    "bad redis name": ({"rename-keys.redis": "SET a b"}, "rename-keys.redis: is not a valid redis migration name"),
    "duplicate redis version": ({"V1-a.redis": "SET a b", "V01-b.redis": "SET a b"}, "duplicate version"),
    "file in the wrong subfolder": ({"postgres/2025-01-01-001-x.cypher": "RETURN 1;"}, "is a neo4j file in the postgres/ folder"),
    "not utf-8": ({"V1-latin1-up.sql": b"SELECT 'caf\xe9';"}, "V1-latin1-up.sql:1: is not UTF-8"),
    "not utf-8 on line 3": ({"2025-01-01-001-x.cypher": b"RETURN 1;\n\nRETURN '\xff';"}, "2025-01-01-001-x.cypher:3: is not UTF-8"),
    "sql syntax error with line": ({"V1-a-up.sql": "CREATE TABLE a (x int);\n\nCREAT TABLE b (y int);\n"}, "V1-a-up.sql:3:1: SQL syntax error"),
    "sql syntax error mid-line": ({"V1-a-up.sql": "SELECT 1;\nSELECT * FROM t WHERE;\n"}, "V1-a-up.sql:2:22: SQL syntax error"),
    "syntax error in a down file": ({"V1-a-up.sql": "SELECT 1;", "V1-a-down.sql": "DROP TABEL a;"}, "V1-a-down.sql:1"),
    "psql meta-command": ({"V1-a-up.sql": "\\set ON_ERROR_STOP on\nSELECT 1;"}, "psql meta-commands"),
    "concurrently without directive": ({"V1-a-up.sql": "SELECT 1;\nCREATE INDEX CONCURRENTLY i ON t (x);"}, "V1-a-up.sql:2: CONCURRENTLY cannot run inside a transaction"),
    "vacuum without directive": ({"V1-a-up.sql": "VACUUM t;"}, "VACUUM cannot run inside a transaction"),
    "commit in the middle": ({"V1-a-up.sql": "CREATE TABLE a (x int);\nCOMMIT;\nCREATE TABLE b (x int);"}, "V1-a-up.sql:2: transaction control (COMMIT)"),
    "unterminated cypher string": ({"2025-01-01-001-x.cypher": "RETURN 1;\nCREATE (n {name: 'oops});\n"}, "2025-01-01-001-x.cypher:2: unterminated string"),
    "unterminated cypher backtick": ({"2025-01-01-001-x.cypher": "CREATE (n:`Odd) RETURN n;"}, "unterminated backtick name"),
    "unterminated cypher comment": ({"2025-01-01-001-x.cypher": "RETURN 1;\n/* never closed\n"}, "unterminated /* comment"),
    "cypher-shell parameter command": ({"2025-01-01-001-x.cypher": ":param x => 1\nRETURN $x;"}, "cypher-shell command :param is not Cypher"),
    "redis unbalanced quotes": ({"V1-a.redis": "SET a b\nSET c \"d\n"}, "V1-a.redis:2: unbalanced quotes"),
    "redis multi": ({"V1-a.redis": "MULTI\nSET a b\nEXEC"}, "V1-a.redis:1: MULTI is not allowed"),
    "redis flushall": ({"V1-a.redis": "FLUSHALL"}, "FLUSHALL is not allowed in a migration: the keys it changes cannot be known"),
    "redis eval": ({"V1-a.redis": "EVAL \"return 1\" 0"}, "EVAL is not allowed"),
    "redis select": ({"V1-a.redis": "SELECT 2"}, "put the database number in REDIS_URL"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_validate_rejects_bad_input_with_exit_65_and_a_clear_message(migrations, case):
    written, expected = BAD_INPUTS[case]
    for name, text in written.items():
        migrations.write(name, text)
    result = run_dbinit("validate", "--migrations", str(migrations.path))
    assert result.returncode == 65, result.stderr
    assert expected in result.stderr


def test_validate_rejects_a_directory_that_does_not_exist(tmp_path):
    result = run_dbinit("validate", "--migrations", str(tmp_path / "nope"))
    assert result.returncode == 65
    assert "migrations directory does not exist" in result.stderr


def test_validate_rejects_an_unreadable_file(migrations):
    migrations.write("V1-a-up.sql", "SELECT 1;")
    (migrations.path / "V2-b-up.sql").symlink_to(migrations.path / "missing-target.sql")
    result = run_dbinit("validate", "--migrations", str(migrations.path))
    assert result.returncode == 65
    assert "V2-b-up.sql: cannot be read" in result.stderr


def test_validate_lists_every_problem_at_once(migrations):
    migrations.write("V1__a.sql", "SELECT 1;")
    migrations.write("2025-02-30-001-x.cypher", "RETURN 1;")
    result = run_dbinit("validate", "--migrations", str(migrations.path))
    assert "V1__a.sql" in result.stderr and "2025-02-30-001-x.cypher" in result.stderr


def test_new_creates_the_next_numbered_files(migrations):
    migrations.write("V009-a-up.sql", "SELECT 1;")
    migrations.write("2025-01-01-001-x.cypher", "RETURN 1;")
    created = run_dbinit("new", "postgres", "Add Users & Roles!", "--migrations", str(migrations.path))
    assert created.returncode == 0, created.stderr
    assert sorted(p.name for p in migrations.path.glob("V010-*")) == [
        "V010-add-users-roles-down.sql", "V010-add-users-roles-up.sql"]
    run_dbinit("new", "redis", "rename keys", "--migrations", str(migrations.path))
    assert (migrations.path / "V001-rename-keys.redis").exists()
    run_dbinit("new", "neo4j", "idx", "--migrations", str(migrations.path))
    run_dbinit("new", "neo4j", "idx two", "--migrations", str(migrations.path))
    today = date.today().isoformat()
    assert (migrations.path / f"{today}-001-idx.cypher").exists()
    assert (migrations.path / f"{today}-002-idx-two.cypher").exists()
    unwritten = run_dbinit("validate", "--migrations", str(migrations.path))
    assert unwritten.returncode == 65  # each new up file is refused until it is written
    for name in ("V010-add-users-roles-up.sql", "V001-rename-keys.redis", f"{today}-001-idx.cypher"):
        assert f"{name}: still holds only what dbinit new wrote" in unwritten.stderr
    for path, text in (("V010-add-users-roles-up.sql", "SELECT 1;"), ("V001-rename-keys.redis", "SET a 1"),
                       (f"{today}-001-idx.cypher", "RETURN 1;"), (f"{today}-002-idx-two.cypher", "RETURN 2;")):
        with (migrations.path / path).open("a") as f:
            f.write(text + "\n")
    assert run_dbinit("validate", "--migrations", str(migrations.path)).returncode == 0


def test_new_uses_the_database_subfolder_when_there_is_one(migrations):
    (migrations.path / "postgres").mkdir()
    run_dbinit("new", "postgres", "first", "--migrations", str(migrations.path))
    assert (migrations.path / "postgres" / "V001-first-up.sql").exists()


def test_new_refuses_an_empty_description(migrations):
    result = run_dbinit("new", "postgres", "!!!", "--migrations", str(migrations.path))
    assert result.returncode == 64 and "description" in result.stderr


@pytest.mark.parametrize("name, text", [
    ("V001-x-up.sql", "-- dbinit: post-deploy\nALTER TABLE t DROP COLUMN c;\n"),
    ("V001-x-up.sql", "-- dbinit: no-transaction\n-- dbinit: post-deploy\n\nDROP INDEX CONCURRENTLY i;\n"),
    ("2025-01-01-001-x.cypher", "// why: the old label is no longer read\n// dbinit: post-deploy\nMATCH (n:Old) DELETE n;\n"),
    ("V001-x.redis", "#dbinit:post-deploy\nDEL legacy\n"),
])
def test_a_post_deploy_file_is_marked_in_the_comment_lines_at_its_top(migrations, name, text):
    migrations.write(name, text)
    assert [m.post_deploy for m in catalog_of(migrations).all()] == [True]


@pytest.mark.parametrize("name, text, line, says", [
    ("V001-x-up.sql", "ALTER TABLE t DROP COLUMN c;\n-- dbinit: post-deploy\n", 2, "below the first statement"),
    ("V001-x-down.sql", "-- dbinit: post-deploy\nALTER TABLE t ADD COLUMN c int;\n", 1, "in a down file"),
    ("V001-x-up.sql", "-- dbinit: postdeploy\nALTER TABLE t DROP COLUMN c;\n", 1, "did you mean '-- dbinit: post-deploy'"),
    ("2025-01-01-001-x.cypher", "// dbinit: post_deploy\nMATCH (n) RETURN n;\n", 1, "did you mean '// dbinit: post-deploy'"),
    ("V001-x.redis", "DEL legacy\n# dbinit: post-deploy\n", 2, "below the first statement"),
])
def test_a_post_deploy_marker_in_the_wrong_place_or_misspelt_is_refused_naming_its_line(migrations, name, text, line,
                                                                                        says):
    if name.endswith("-down.sql"):
        migrations.write("V001-x-up.sql", "ALTER TABLE t DROP COLUMN c;\n")
    migrations.write(name, text)
    result = run_dbinit("validate", "--migrations", str(migrations.path))
    assert result.returncode == 65, result.stderr
    assert f"{name}:{line}" in result.stderr and says in result.stderr


def test_new_makes_a_post_deploy_file_when_asked(migrations):
    result = run_dbinit("new", "postgres", "drop legacy column", "--post-deploy", "--migrations", str(migrations.path))
    assert result.returncode == 0, result.stderr
    up, down = sorted(migrations.path.iterdir(), key=lambda p: p.name.endswith("-down.sql"))
    hint = "-- write the migration below; dbinit does not run a file that holds only these lines\n"
    assert up.read_text() == "-- dbinit: post-deploy\n-- drop legacy column\n" + hint
    assert down.read_text() == "-- drop legacy column\n" + hint
    assert [m.post_deploy for m in catalog_of(migrations).all()] == [True]


@pytest.mark.parametrize("name, version", [("R-views.sql", "R-views"), ("R-reference-data.cypher", "R-reference-data"),
                                           ("R-functions.redis", "R-functions")])
def test_a_repeatable_file_is_named_r_and_its_description_and_sorts_after_every_versioned_file(migrations, name,
                                                                                               version):
    migrations.write(name, "")
    migrations.write("V002-x-up.sql", "")
    migrations.write("2025-01-01-001-x.cypher", "")
    migrations.write("V002-x.redis", "")
    catalog = catalog_of(migrations)
    repeatable = next(m for m in catalog.all() if m.repeatable)
    assert repeatable.version == version and catalog.migrations[repeatable.db][-1] is repeatable


@pytest.mark.parametrize("name, says", [
    ("R001-views.sql", "a repeatable file has no version: name it R-<description>.sql"),
    ("R-001-views.sql", "a repeatable file has no version"),
    ("R-views-up.sql", "a repeatable file has no up or down part: name it R-<description>.sql"),
    ("r-views.cypher", "the R of a repeatable file must be upper-case: R-<description>.cypher"),
])
def test_a_repeatable_file_with_a_version_or_an_up_part_is_refused_with_how_to_name_it(migrations, name, says):
    migrations.write(name, "SELECT 1;\n")
    result = run_dbinit("validate", "--migrations", str(migrations.path))
    assert result.returncode == 65 and name in result.stderr and says in result.stderr, result.stderr


def test_new_makes_a_repeatable_file_once(migrations):
    made = run_dbinit("new", "redis", "functions", "--repeatable", "--migrations", str(migrations.path))
    assert made.returncode == 0 and made.stdout.strip().endswith("R-functions.redis"), made.stderr
    again = run_dbinit("new", "redis", "functions", "--repeatable", "--migrations", str(migrations.path))
    assert again.returncode == 64 and "there is a repeatable redis file R-functions already" in again.stderr
    assert run_dbinit("new", "redis", "keys", "--migrations", str(migrations.path)).stdout.strip().endswith(
        "V001-keys.redis")
