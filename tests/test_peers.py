"""Each other tool's folder as dbinit's files: the conversions are pure (file name → text in, dbinit's
files out), so each case is a row; `dbinit import` writes them, in place or into a new folder."""
from __future__ import annotations

import pytest

from conftest import run_dbinit
from dbinit.databases.postgres.peers import dbmate, flyway, golang_migrate

DIRECTIVE = "-- dbinit: no-transaction\n"


def files(conversion) -> dict[str, str]:
    return {c.name: c.text for c in conversion.files}


def changes(conversion, name: str) -> str:
    return " ".join(next(c for c in conversion.files if c.name == name).changes)


def test_golang_migrate_pairs_by_number_even_when_the_titles_differ():
    done = golang_migrate.convert({"000072_profile_selectors_type.up.sql": "CREATE TYPE t AS ENUM ('a');\n",
                                   "000072_profile_selector_type.down.sql": "DROP TYPE t;\n"})
    assert files(done) == {"V000072-profile-selectors-type-up.sql": "CREATE TYPE t AS ENUM ('a');\n",
                           "V000072-profile-selectors-type-down.sql": "DROP TYPE t;\n"}
    assert "named after its up file 000072_profile_selectors_type.up.sql" in \
        changes(done, "V000072-profile-selectors-type-down.sql")
    assert done.problems == [] and done.look_at == []


@pytest.mark.parametrize("text, expected, said", [
    ("BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n",
     "-- BEGIN;  (imported: dbinit's transaction)\nCREATE TABLE a (id int);\n-- COMMIT;  (imported: dbinit's transaction)\n",
     "BEGIN … COMMIT commented out"),
    # FireFly's first file: a statement before the block joins dbinit's one transaction.
    ('CREATE EXTENSION IF NOT EXISTS "uuid-ossp";\n\nBEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n',
     'CREATE EXTENSION IF NOT EXISTS "uuid-ossp";\n\n-- BEGIN;  (imported: dbinit\'s transaction)\n'
     "CREATE TABLE a (id int);\n-- COMMIT;  (imported: dbinit's transaction)\n", "BEGIN … COMMIT commented out"),
    ("-- begin here\nstart transaction;\nCREATE TABLE a (id int);\n",
     "-- begin here\n-- start transaction;  (imported: dbinit's transaction)\nCREATE TABLE a (id int);\n",
     "BEGIN without COMMIT"),
    ("CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;\n",
     "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;\n", ""),
    ("CREATE INDEX CONCURRENTLY i ON a (id);\n", DIRECTIVE + "CREATE INDEX CONCURRENTLY i ON a (id);\n",
     "CONCURRENTLY cannot run in a transaction"),
    ("BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\nBEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\n",
     DIRECTIVE + "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\nBEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\n",
     "has 2 transaction blocks: kept as written under -- dbinit: no-transaction"),
    ("BEGIN; CREATE TABLE \"ünï\" (id int); COMMIT;",  # bytes, not characters, locate the statements
     "-- BEGIN;  (imported: dbinit's transaction) CREATE TABLE \"ünï\" (id int); "
     "-- COMMIT;  (imported: dbinit's transaction)", "BEGIN … COMMIT commented out"),
])
def test_transactions_written_in_a_file_become_dbinit_s_own_or_no_transaction(text, expected, said):
    done = golang_migrate.convert({"000001_a.up.sql": text})
    assert files(done) == {"V000001-a-up.sql": expected}
    assert said in changes(done, "V000001-a-up.sql")


def test_several_blocks_are_a_choice_printed_for_a_person():
    done = golang_migrate.convert({"000003_b.up.sql": "BEGIN;\nSELECT 1;\nCOMMIT;\nBEGIN;\nSELECT 2;\nCOMMIT;\n"})
    assert len(done.look_at) == 1
    assert done.look_at[0].startswith("000003_b.up.sql: 2 transaction blocks commit one by one")
    assert "remove the inner COMMIT and BEGIN" in done.look_at[0] and "one file per block" in done.look_at[0]


def test_a_file_that_does_not_parse_is_kept_and_named_for_a_person():
    done = golang_migrate.convert({"000042_x.up.sql": "SELECT 1;", "000042_x.down.sql": "BEGIN;\nSELECT 1;\nCOMMIT:\n"})
    assert files(done)["V000042-x-down.sql"] == "BEGIN;\nSELECT 1;\nCOMMIT:\n"
    assert done.look_at == ['000042_x.down.sql: does not parse as SQL (syntax error at or near ":"): golang-migrate '
                            "would fail on it too; fix it or delete it"]


@pytest.mark.parametrize("given, problem_or_look", [
    ({"000001_a.up.sql": "", "000001_b.up.sql": ""}, "version 000001 twice"),
    ({"000002_a.down.sql": "SELECT 1;"}, "a down file without its up file; not imported"),
    ({"README.sql": "SELECT 1;"}, "not a golang-migrate migration name; left alone"),
])
def test_golang_migrate_names_it_cannot_pair(given, problem_or_look):
    done = golang_migrate.convert(given)
    assert problem_or_look in " ".join([*map(str, done.problems), *done.look_at])


def test_dbmate_sections_become_two_files_each_keeping_its_transaction_marker():
    done = dbmate.convert({"20240116093000_index_users.sql": (
        "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY users_id ON users (id);\n\n"
        "-- migrate:down transaction:false\nDROP INDEX users_id;\n")})  # the marker alone says so
    assert files(done) == {
        "V20240116093000-index-users-up.sql": DIRECTIVE + "CREATE INDEX CONCURRENTLY users_id ON users (id);\n",
        "V20240116093000-index-users-down.sql": DIRECTIVE + "DROP INDEX users_id;\n"}


def test_a_dbmate_file_without_a_down_section_gives_no_down_file_and_says_so():
    done = dbmate.convert({"20240115093000_add_users.sql": "-- migrate:up\nCREATE TABLE users (id int);\n\n"
                                                           "-- migrate:down\n-- irreversible\n",
                           "20240117093000_seed.sql": "-- migrate:up\nSELECT 1;\n"})
    assert sorted(files(done)) == ["V20240115093000-add-users-up.sql", "V20240117093000-seed-up.sql"]
    assert [line.split(":")[0] for line in done.look_at] == ["20240115093000_add_users.sql", "20240117093000_seed.sql"]
    assert all("no down file" in line for line in done.look_at)


def test_a_dbmate_file_without_an_up_section_is_left_alone():
    done = dbmate.convert({"20240115093000_x.sql": "CREATE TABLE x (id int);\n"})
    assert done.files == [] and done.look_at == ["20240115093000_x.sql: has no -- migrate:up line; left alone"]


def test_flyway_whole_versions_stay_undo_files_are_downs_and_repeatables_stay_repeatable():
    done = flyway.convert({"V1__add_users.sql": "CREATE TABLE users (id int);\n",
                           "U1__add_users.sql": "DROP TABLE users;\n",
                           "V2__add_user_email.sql": "ALTER TABLE users ADD COLUMN email text;\n",
                           "R__user_view.sql": "CREATE OR REPLACE VIEW v AS SELECT id FROM users;\n",
                           "afterMigrate.sql": "GRANT SELECT ON users TO PUBLIC;\n"})
    assert sorted(files(done)) == ["R-user-view.sql", "V1-add-users-down.sql", "V1-add-users-up.sql",
                                   "V2-add-user-email-up.sql"]
    assert done.look_at == ["afterMigrate.sql: not a Flyway migration name (a callback, or a baseline migration of its "
                            "paid editions); left alone"]


def test_flyway_dotted_versions_renumber_the_set_in_flyway_s_order_each_file_saying_its_version():
    done = flyway.convert({"V1__a.sql": "SELECT 1;\n", "V1.1__b.sql": "SELECT 2;\n", "V1_2__c.sql": "SELECT 3;\n",
                           "V2__d.sql": "CREATE INDEX CONCURRENTLY i ON t (x);\n"})
    assert files(done) == {"V001-a-up.sql": "-- Flyway version 1 (V1__a.sql)\nSELECT 1;\n",
                           "V002-b-up.sql": "-- Flyway version 1.1 (V1.1__b.sql)\nSELECT 2;\n",
                           "V003-c-up.sql": "-- Flyway version 1.2 (V1_2__c.sql)\nSELECT 3;\n",
                           "V004-d-up.sql": DIRECTIVE + "-- Flyway version 2 (V2__d.sql)\n"
                                                        "CREATE INDEX CONCURRENTLY i ON t (x);\n"}


@pytest.mark.parametrize("text, crc", [
    ("", 0),
    ("SELECT 1;\n", flyway.checksum("SELECT 1;")),  # line breaks are not part of it
    ("a\r\nb\n", flyway.checksum("a\nb")),
    ("\ufeffSELECT 1;", flyway.checksum("SELECT 1;")),
])
def test_flyway_s_checksum_ignores_line_breaks_and_the_byte_order_mark(text, crc):
    assert flyway.checksum(text) == crc
    assert -(1 << 31) <= crc < 1 << 31


def test_import_in_place_leaves_only_dbinit_s_files(tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "000001_a.up.sql").write_text("CREATE TABLE a (id int);\n")
    (folder / "000001_a.down.sql").write_text("DROP TABLE a;\n")
    (folder / "README.md").write_text("notes\n")
    (folder / "2025-01-15-001-index.cypher").write_text("RETURN 1;\n")  # another database's, in a shared folder
    (folder / "000002_seed.up.go").write_text("package migrations\n")  # a Go migration: not converted, said
    done = run_dbinit("import", "golang-migrate", "--migrations", str(folder))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["000002_seed.up.go", "2025-01-15-001-index.cypher", "README.md",
                                                        "V000001-a-down.sql", "V000001-a-up.sql"]
    assert "(the 2 files they came from removed)" in done.stdout
    assert done.stdout.split("look at:\n")[1].split("\n\n")[0] == "  000002_seed.up.go: not a .sql file; not imported"


@pytest.mark.parametrize("case", ["a file of dbinit's there", "a file that does not convert",
                                  "a file it would overwrite, in place"])
def test_import_refuses_and_writes_nothing(tmp_path, case):
    source, target = tmp_path / "peer", tmp_path / "migrations"
    source.mkdir()
    target.mkdir()
    (source / "000001_a.up.sql").write_text("SELECT 1;\n")
    if case == "a file it would overwrite, in place":  # a conversion by hand, half done
        (source / "V000001-a-up.sql").write_text("SELECT 1; -- edited by hand\n")
        target, expected, code = source, "V000001-a-up.sql exists already; nothing was written", 64
    elif case == "a file of dbinit's there":
        (target / "V001-old-up.sql").write_text("SELECT 1;\n")
        expected, code = "holds PostgreSQL migration files already", 64
    else:
        (source / "000001_b.up.sql").write_text("SELECT 2;\n")
        expected, code = "version 000001 twice", 65
    before = {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    done = run_dbinit("import", "golang-migrate", str(source), "--migrations", str(target))
    assert done.returncode == code and expected in done.stderr, done.stderr
    assert {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_import_of_an_unknown_tool_names_the_ones_it_knows(tmp_path):
    done = run_dbinit("import", "liquibase", "--migrations", str(tmp_path))
    assert done.returncode == 64
    assert "golang-migrate" in done.stderr and "dbmate" in done.stderr and "flyway" in done.stderr
