"""The pure core in process, no servers: what a file's name means, the versions the command line
takes, the plan's refusals, placeholders, the integrity file, and the SQL, Cypher and redis-cli
splitters. Milliseconds each; scripts/mutation.sh mutates these modules and runs these tests (with
test_plan.py and test_files.py) against every mutant."""
import hashlib
from datetime import datetime
from pathlib import Path

import pytest

from dbinit import integrity, log, naming, placeholders, registry, skeleton, targets
from dbinit.databases.neo4j import cypher
from dbinit.databases.postgres.sql import SqlScript, parse as parse_sql, relations as sql_relations
from dbinit.databases.redis import commands
from dbinit.databases.redis.commands import quote, split_args
from dbinit.errors import InvalidMigrations, MigrationFailed, UsageError
from dbinit.files import discover
from dbinit.migration import INIT_VERSION, Migration
from dbinit.plan import Applied, State, reconcile

PG, NEO4J, REDIS = (registry.get(db).naming for db in ("postgres", "neo4j", "redis"))
NOW = datetime(2026, 3, 4, 5, 6, 7)


@pytest.fixture(autouse=True)
def parsed_afresh():
    """The parsers memoise per file, and mutation testing runs each mutant in a fork of a process
    that has parsed these very texts already: each test parses them anew."""
    for parse in (parse_sql, cypher.parse, commands.parse):
        parse.cache_clear()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def files(db: str, *labels: str) -> list[Migration]:
    naming = registry.get(db).naming
    return [Migration(db, naming.normalise(label), label, "step", Path(label), "", "c") for label in labels]


def refused(call, *args) -> list[str]:
    """The problems `call(*args)` refuses with, as dbinit prints them."""
    with pytest.raises(InvalidMigrations) as refusal:
        call(*args)
    return [str(p) for p in refusal.value.problems]


def problem(naming, name: str) -> str:
    with pytest.raises(InvalidMigrations) as refused:
        naming.parse(Path(name))
    return refused.value.problems[0].message


def test_a_numbered_name_gives_its_version_label_description_and_direction():
    assert PG.parse(Path("V007-add-users-up.sql")) == ("7", "V007", "add-users", False, False)
    assert PG.parse(Path("V7-add-users-down.sql")).down
    assert PG.parse(Path("V12-schema-checkpoint.sql")).checkpoint
    assert PG.parse(Path("R-views.sql")) == ("R-views", "R-views", "views", False, False)
    assert REDIS.parse(Path("V2-flags.redis")).version == "2"


def test_a_dated_name_is_a_calendar_date_then_its_number():
    assert NEO4J.parse(Path("2025-01-15-001-add-index.cypher"))[:3] == ("2025-01-15-001", "2025-01-15-001",
                                                                        "add-index")
    assert NEO4J.parse(Path("2025-01-15-001-drop.down.cypher")).down
    assert "2025-02-30 is not a calendar date" in problem(NEO4J, "2025-02-30-001-x.cypher")


def test_versions_order_as_numbers_and_dates_not_as_text():
    assert sorted(["10", "9", "100"], key=PG.key) == ["9", "10", "100"]
    assert sorted(["2025-01-02-010", "2025-01-02-009", "2024-12-31-100"], key=NEO4J.key) == [
        "2024-12-31-100", "2025-01-02-009", "2025-01-02-010"]
    assert PG.normalise("V007") == PG.normalise("v7") == PG.normalise("7") == "7"
    assert NEO4J.normalise("2025-01-15-1") == "2025-01-15-001"
    assert PG.label("7") == "V7" and NEO4J.label("2025-01-15-001") == "2025-01-15-001"
    for scheme, text in ((PG, "7a"), (PG, "x7"), (NEO4J, "2025-01-15"), (NEO4J, "20250115001")):
        with pytest.raises(ValueError):
            scheme.normalise(text)


@pytest.mark.parametrize("name, says", [
    ("V1 add-up.sql", "has white space in its name"),
    ("V1-add&drop-up.sql", "characters a name may not have (&)"),
    ("V1-add&up.sql", "characters a name may not have (&)"),  # fits with a hyphen where the & is
    ("R-1-views.sql", "a repeatable file has no version"),
    ("R-views-up.sql", "a repeatable file has no up or down part"),
    ("r-views.sql", "the R of a repeatable file must be upper-case"),
    ("V1__add_users.sql", "looks like a Flyway name: call it V1-add-users-up.sql"),
    ("1_add_users.up.sql", "looks like a golang-migrate name: call it V1-add-users-up.sql"),
    ("v1-add-up.sql", "the V must be upper-case"),
    ("add-users.sql", "is not a valid postgres migration name"),
])
def test_a_name_that_does_not_fit_says_the_nearest_cause(name, says):
    assert says in problem(PG, name)


def test_new_numbers_follow_the_newest_as_wide_as_the_widest():
    assert PG.new_names([], "add-x", NOW) == ["V001-add-x-up.sql", "V001-add-x-down.sql"]
    assert PG.new_names(files("postgres", "V0009", "V10"), "add-x", NOW)[0] == "V0011-add-x-up.sql"
    assert REDIS.new_names(files("redis", "V3"), "flags", NOW) == ["V4-flags.redis"]  # as wide as V3


def test_after_another_tool_s_timestamps_a_new_file_is_the_time_now_and_never_the_same_second():
    assert PG.new_names(files("postgres", "V20240115093000"), "x", NOW)[0] == "V20260304050607-x-up.sql"
    later = files("postgres", "V20260304050607")
    assert PG.new_names(later, "x", NOW)[0] == "V20260304050608-x-up.sql"


def test_a_dated_new_name_is_today_and_the_day_s_next_number():
    assert NEO4J.new_names(files("neo4j", "2026-03-04-002", "2026-03-03-009"), "x", NOW)[0] == "2026-03-04-003-x.cypher"
    assert NEO4J.new_names(files("neo4j", "2026-03-03-009"), "x", NOW)[0] == "2026-03-04-001-x.cypher"


def test_to_takes_database_equals_version_or_a_bare_version_that_fits_one_database():
    dbs = ["postgres", "neo4j", "redis"]
    assert targets.parse(["postgres=V3", "2025-01-15-001"], dbs) == {"postgres": "3", "neo4j": "2025-01-15-001"}
    assert targets.parse(["V3"], ["postgres", "neo4j"]) == {"postgres": "3"}
    with pytest.raises(UsageError, match="^--to V3: a version of postgres and redis; give DATABASE=VERSION$"):
        targets.parse(["V3"], dbs)
    with pytest.raises(UsageError, match="not a version of postgres or neo4j"):
        targets.parse(["yesterday"], ["postgres", "neo4j"])
    with pytest.raises(UsageError, match="'mysql' is not one of postgres, neo4j, redis"):
        targets.parse(["mysql=3"], dbs)
    with pytest.raises(UsageError, match="is not a version"):
        targets.parse(["postgres=3a"], dbs)


def test_a_target_that_is_no_file_names_the_newest():
    with pytest.raises(UsageError, match=r"--to V9: postgres has no migration V9 among the files \(the newest is V010\)"):
        targets.among("postgres", "9", {"2": "V002", "10": "V010", "3": "V003"})
    with pytest.raises(UsageError, match=r"has no migration V9 among the files$"):
        targets.among("postgres", "9", {})
    targets.among("postgres", "3", {"3": "V003"})


@pytest.mark.parametrize("line, args", [
    ("SET k v", ["SET", "k", "v"]),
    ("  SET   k  v  ", ["SET", "k", "v"]),
    ("", []),
    ('SET k "a b"', ["SET", "k", "a b"]),
    ('SET k "tab\\there\\r\\n\\a\\b\\"\\\\"', ["SET", "k", 'tab\there\r\n\a\b"\\']),
    ('SET k "\\x41\\x7a\\xZZ\\xXA"', ["SET", "k", "AzxZZxXA"]),  # an escape that is no hex pair is its letter
    ("SET k 'it\\'s \"x\"'", ["SET", "k", "it's \"x\""]),
    ("SET k 'a\\nb'", ["SET", "k", "a\\nb"]),  # single quotes keep a backslash but before '
    ('SET k ""', ["SET", "k", ""]),
    ('SET k "open', None),
    ("SET k 'open", None),
    ('SET k "a"b', None),  # a closing quote must end the argument
    ("SET k 'a'b", None),
    ("SET k 'a 'b", None),
    ("SET k 'a\\'", None),  # an escaped quote at the end closes nothing
])
def test_redis_lines_split_as_redis_cli_splits_them(line, args):
    assert split_args(line) == args


@pytest.mark.parametrize("value", ["plain", "a b", 'q"uote', "back\\slash", "line\nbreak\ttab\r", "\x00\x01\x7f", "é ✓"])
def test_a_quoted_argument_splits_back_to_itself(value):
    assert split_args(f"SET k {quote(value)}") == ["SET", "k", value]


def migration(db: str, text: str, name: str = "V1-a-up.sql") -> Migration:
    version = "R-x" if name.startswith("R-") else "1"
    return Migration(db, version, version, "a", Path(name), text, "sum")


def filled(db: str, text: str, **values: str) -> tuple[Migration, frozenset[str]]:
    """The file filled, and what the run would mask."""
    with log.secrets() as run:
        return registry.get(db).fill(migration(db, text), values), run.values


def test_placeholders_are_filled_in_the_form_the_language_asks_for_and_masked():
    sql, masked = filled("postgres", "CREATE ROLE ${Who:identifier} PASSWORD ${pw:literal}; -- ${note}",
                         who='o"dd', pw="it's\\x", note="abc")
    assert sql.text == "CREATE ROLE \"o\"\"dd\" PASSWORD E'it''s\\\\x'; -- abc"
    assert sql.checksum == "sum" and sql.parameters == ()
    assert masked == {'"o""dd"', "E'it''s\\\\x'"}  # "abc" is shorter than a secret can be
    cypher, masked = filled("neo4j", "MERGE (u:${label:identifier} {key: ${key:param}})", label="Ab`c", key="value")
    assert cypher.text == "MERGE (u:`Ab``c` {key: $dbinit_key})" and cypher.parameters == (("dbinit_key", "value"),)
    assert masked == {"`Ab``c`"}  # a parameter never enters the text
    assert filled("postgres", "SELECT '$${x}', '$$', ${x}", x="1")[0].text == "SELECT '${x}', '$$', 1"
    assert filled("postgres", "SELECT 1")[0].text == "SELECT 1"


NAMELESS = "a placeholder '${' without a name and '}' after it (write '$${' for a literal '${')"


@pytest.mark.parametrize("text, says", [
    ("SELECT 1;\nSELECT ${missing};", "V1-a-up.sql:2: placeholder ${missing} is not defined: set "
                                     "DBINIT_PLACEHOLDER_MISSING (or its _FILE twin) or pass --placeholder missing=…"),
    ("SELECT ${ x}", f"V1-a-up.sql:1: {NAMELESS}"),
    ("SELECT ${x", f"V1-a-up.sql:1: {NAMELESS}"),
    ("\n\nSELECT ${x:param}", "V1-a-up.sql:3: ${x:param}: this file's language has no form :param (its forms: "
                              ":literal, :identifier)"),
])
def test_a_placeholder_that_cannot_be_filled_names_file_line_and_why(text, says):
    with pytest.raises(InvalidMigrations) as refused:
        filled("postgres", text, x="1")
    assert [str(p) for p in refused.value.problems] == [says]


def test_every_unfillable_placeholder_is_named_at_once():
    with pytest.raises(InvalidMigrations) as refused:
        filled("postgres", "SELECT ${a};\nSELECT ${x:param}, ${ x};\nSELECT ${b};", x="1")
    assert [p.line for p in refused.value.problems] == [1, 2, 2, 3]


def test_a_redis_value_is_one_argument_and_masked_as_the_line_spells_it():
    redis, masked = filled("redis", 'SET k ${v}\n# ${comment}\nSET "${v}x" 1', v='a "b"\n')
    assert redis.text == '"SET" "k" "a \\"b\\"\\n"\n# ${comment}\n"SET" "a \\"b\\"\\nx" "1"'
    assert masked == {'a "b"\n', 'a \\"b\\"\\n'}  # as the value is, and as the line spells it
    assert filled("redis", "SET k ${v}", v='a"bc')[1] == {'a"bc', 'a\\"bc'}  # four characters: a secret
    with pytest.raises(InvalidMigrations) as refused:
        filled("redis", "SET k 1\nSET k ${v:literal}", v="abcd")
    assert [str(p) for p in refused.value.problems] == [
        "V1-a-up.sql:2: ${v:literal}: this file's language has no form :literal (its forms: none but the plain one)"]


def test_a_repeatable_file_that_asks_has_the_values_it_uses_in_its_checksum():
    asks = "-- dbinit: placeholders-in-checksum\nSELECT ${a}"
    one = placeholders.fill(migration("postgres", asks, "R-x.sql"), {"a": "1", "b": "2"}, {})
    other = placeholders.fill(migration("postgres", asks, "R-x.sql"), {"a": "3", "b": "2"}, {})
    unused = placeholders.fill(migration("postgres", asks, "R-x.sql"), {"a": "1", "b": "9"}, {})
    assert one.checksum != other.checksum and one.checksum == unused.checksum == sha256("sum\0a=1")
    third_line = "--\n--\n-- dbinit: placeholders-in-checksum\nSELECT ${a}"
    assert placeholders.fill(migration("postgres", third_line, "R-x.sql"), {"a": "1"}, {}).checksum == "sum"
    versioned = placeholders.fill(migration("postgres", asks), {"a": "1"}, {})
    assert versioned.checksum == "sum"  # a versioned file runs once: a value never changes its state


def test_placeholder_values_come_from_the_environment_and_their_file_twins(tmp_path):
    (tmp_path / "pw").write_text("from a file\n")
    env = {"DBINIT_PLACEHOLDER_NAME": "x", "DBINIT_PLACEHOLDER_PW_FILE": str(tmp_path / "pw"),
           "DBINIT_PLACEHOLDER_": "nameless", "OTHER": "y"}
    assert placeholders.from_environment(env) == {"name": "x", "pw": "from a file"}
    with log.secrets() as run:
        placeholders.register({"short": "abc", "long": "abcd"})
    assert run.values == {"abcd"}


def test_the_integrity_file_lists_every_file_by_path_under_a_hash_of_them_all(tmp_path):
    (tmp_path / "postgres").mkdir()
    (tmp_path / "postgres" / "V1-a-up.sql").write_text("SELECT 1;\r\n")
    (tmp_path / "postgres" / "V1-a-down.sql").write_text("SELECT 2;\n")
    (tmp_path / "V1-k.redis").write_text("SET k 1\n")
    lines = integrity.write(tmp_path, discover(tmp_path)).read_text().split("\n")
    assert [line.split(" ")[0] for line in lines] == ["h1:" + sha256("".join(f"{x}\n" for x in lines[1:-1])),
                                                     "V1-k.redis", "postgres/V1-a-down.sql", "postgres/V1-a-up.sql", ""]
    assert lines[3] == "postgres/V1-a-up.sql " + sha256("SELECT 1;\n")  # CRLF read as LF, as the history's checksum
    integrity.check(tmp_path, discover(tmp_path), required=True)


def refusals(directory: Path, required: bool = False) -> list[str]:
    return [p.removeprefix(f"{directory}/") for p in refused(integrity.check, directory, discover(directory), required)]


def test_a_file_edited_lost_or_added_since_the_integrity_file_is_named(tmp_path):
    for name in ("V1-a-up.sql", "V2-b-up.sql", "V1-k.redis"):
        (tmp_path / name).write_text(f"-- {name}\n")
    integrity.write(tmp_path, discover(tmp_path))
    (tmp_path / "V1-a-up.sql").write_text("-- edited\n")
    (tmp_path / "V2-b-up.sql").unlink()
    (tmp_path / "V3-c-up.sql").write_text("-- new\n")
    assert refusals(tmp_path) == ["V1-a-up.sql: differs from dbinit.sum (edited since 'dbinit hash')",
                                  "V2-b-up.sql: is listed in dbinit.sum but missing",
                                  "V3-c-up.sql: is not in dbinit.sum; run 'dbinit hash' (or 'dbinit new') to add it"]


def test_an_integrity_file_edited_by_hand_or_absent_when_required_is_refused(tmp_path):
    (tmp_path / "V1-a-up.sql").write_text("SELECT 1;\n")
    integrity.check(tmp_path, discover(tmp_path), required=False)  # no file, not required: no check
    assert refusals(tmp_path, required=True) == [
        "dbinit.sum: is missing and DBINIT_REQUIRE_SUM is set; run 'dbinit hash' and commit it with the migrations"]
    path = integrity.write(tmp_path, discover(tmp_path))
    for text in (path.read_text().replace("V1", "V2"), ""):
        path.write_text(text)
        assert refusals(tmp_path) == ["dbinit.sum:1: was edited by hand or merged (its first line is not the hash of "
                                      "the others); run 'dbinit hash' once the migrations are as intended"]


def test_another_tool_s_version_and_title_become_dbinit_s():
    assert naming.dotted("1.10_2") == (1, 10, 2) and naming.dotted("3") == (3,)
    assert naming.words("__add  users__") == "add-users" and naming.words("a_-_b") == "a-b"
    assert naming.words(" add ") == "add" and naming.words("?!") == "migration"
    assert naming.words("index on X") == "index-on-X"


def test_a_refused_name_carries_its_path_and_the_whole_hint():
    for scheme, name in ((PG, "V1 x.sql"), (NEO4J, "2025-02-30-001-x.cypher")):
        with pytest.raises(InvalidMigrations) as refused:
            scheme.parse(Path("sub") / name)
        assert refused.value.problems[0].path == Path("sub") / name
    expected = PG.expected
    assert problem(PG, "R-1-views.sql") == ("a repeatable file has no version: name it R-<description>.sql, or give "
                                            f"a versioned file {expected}")
    assert problem(PG, "V1-a!b&c-up.sql") == ("its description holds characters a name may not have (! &): use "
                                              f"letters, digits, '.', '_' and '-'; expected {expected}")
    # an odd character, but no valid name without it either
    assert problem(PG, "a&b.sql") == f"is not a valid postgres migration name; expected {expected}"
    assert problem(PG, "0012_add_Users.down.sql").startswith("looks like a golang-migrate name: call it "
                                                             "V0012-add-Users-down.sql")
    assert problem(NEO4J, "2025-01-15-x.cypher") == f"has no sequence number NNN after the date; expected {NEO4J.expected}"
    with pytest.raises(ValueError, match=r"^'2025' is not a Neo4j version \(YYYY-MM-DD-NNN\)$"):
        NEO4J.normalise("2025")


@pytest.mark.parametrize("newest, made", [
    ("V20000101000000", "V20260304050607"),  # a timestamp of 2000: the time now
    ("V19991231235959", "V19991231235960"),  # before 2000 it is a number
    ("V99999999999999", "V100000000000000"),  # fourteen digits that are no time
    ("V2024011509300", "V2024011509301"),  # a time, but not fourteen digits
])
def test_only_fourteen_digit_times_since_2000_are_timestamp_versions(newest, made):
    assert PG.new_names(files("postgres", newest), "x", NOW)[0] == f"{made}-x-up.sql"


def test_a_database_and_a_version_split_at_the_last_equals_sign():
    with pytest.raises(UsageError, match="'postgres=V3' is not one of postgres"):
        targets.parse(["postgres=V3=V4"], ["postgres"])


def test_migrate_to_is_a_file_s_version_at_or_above_what_is_applied(tmp_path):
    for name in ("V1-a-up.sql", "V2-b-up.sql", "V3-c-up.sql", "R-v.sql", "V1-k.redis"):
        (tmp_path / name).write_text("SELECT 1;\n")
    catalog = discover(tmp_path)
    history = [Applied(v, "x", f"V{v}-x-up.sql", "c", NOW, 1, True) for v in ("1", "2")]
    plans = [reconcile("redis", catalog.migrations["redis"], []),
             reconcile("postgres", catalog.migrations["postgres"], history)]
    targets.check(catalog, plans, {"postgres": "2"})
    targets.check(catalog, plans, {"postgres": "3", "redis": "1"})
    with pytest.raises(UsageError, match=r"^--to V1: postgres has V2 applied already, above V1; migrate only goes "
                                         r"forward \(dbinit down --to postgres=V1 goes back\)$"):
        targets.check(catalog, plans, {"postgres": "1"})
    with pytest.raises(UsageError, match=r"^--to V4: postgres has no migration V4 among the files \(the newest is V3\)"):
        targets.check(catalog, plans, {"postgres": "4"})
    history.append(Applied("3", "x", "V3-x-up.sql", "c", NOW, 1, True))
    with pytest.raises(UsageError, match=r"^--to V1: postgres has V2, V3 applied already, above V1;"):
        targets.check(catalog, [reconcile("postgres", catalog.migrations["postgres"], history)], {"postgres": "1"})


def test_a_version_whose_file_is_gone_is_shown_as_its_file_spelt_it():
    gone = Applied("2", "b", "V002-b-up.sql", "c", NOW, 1, True)
    assert [e.label for e in reconcile("postgres", [], [gone]).entries] == ["V002"]
    odd = Applied("3", "c", "renamed.sql", "c", NOW, 1, True)
    assert [e.label for e in reconcile("postgres", [], [odd]).entries] == ["V3"]


@pytest.mark.parametrize("line, args", [
    ('SET k "\\x4A\\x4a"', ["SET", "k", "JJ"]),  # upper- or lower-case hex
    ('SET k "a\\', None),  # a backslash ending the line ends no quote
    ('SET k "a\\"', None),
    ('SET k "\\\\" x', ["SET", "k", "\\", "x"]),
    ("SET k 'a\\", None),
    ("SET k 'a\\''", ["SET", "k", "a'"]),
    ('SET "k"\t"v"', ["SET", "k", "v"]),  # any white space after a closing quote
])
def test_escapes_at_the_ends_of_a_line_split_as_redis_cli_does(line, args):
    assert split_args(line) == args


@pytest.mark.parametrize("value, quoted", [
    ("a b~", '"a b~"'), ("\x1f", '"\\x1f"'), ("\x7f", '"\\x7f"'), ("\x80", '"\x80"'), ("\t", '"\\t"'),
    ('\\"', '"\\\\\\""'), ("aX", '"aX"'),
])
def test_an_argument_is_quoted_as_redis_cli_reads_it(value, quoted):
    assert quote(value) == quoted


def sql(text: str) -> SqlScript:
    return parse_sql(migration("postgres", text))


def sql_problems(text: str) -> list[str]:
    return refused(sql, text)


@pytest.mark.parametrize("statement, why", [
    ("CREATE INDEX CONCURRENTLY i ON t (x)", "CONCURRENTLY"),
    ("DROP INDEX CONCURRENTLY i", "CONCURRENTLY"),
    ("REINDEX INDEX CONCURRENTLY i", "REINDEX CONCURRENTLY"),
    ("REINDEX (CONCURRENTLY) TABLE t", "REINDEX CONCURRENTLY"),
    ("VACUUM t", "VACUUM"),
    ("CREATE DATABASE d", "CREATE DATABASE"),
    ("DROP DATABASE d", "DROP DATABASE"),
    ("ALTER SYSTEM SET work_mem = '1MB'", "ALTER SYSTEM"),
    ("CREATE TABLESPACE s LOCATION '/x'", "CREATE TABLESPACE"),
    ("DROP TABLESPACE s", "DROP TABLESPACE"),
    ("CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p", "CREATE SUBSCRIPTION"),
    ("DROP SUBSCRIPTION s", "DROP SUBSCRIPTION"),
])
def test_a_statement_that_cannot_run_in_a_transaction_is_refused_unless_the_file_says_so(statement, why):
    assert sql_problems(f"SELECT 1;\n{statement};") == [
        f"V1-a-up.sql:2: {why} cannot run inside a transaction; put '-- dbinit: no-transaction' on the first line "
        "of the file"]
    script = sql(f"-- dbinit: no-transaction\n{statement};")
    assert not script.transactional and [s.text for s in script.statements] == [statement]


def test_statements_that_look_alike_run_in_a_transaction():
    script = sql("ANALYZE t; REINDEX INDEX i; CREATE INDEX i ON t (x); DROP INDEX i;\n"
                 "SAVEPOINT a; RELEASE a; ROLLBACK TO a; SELECT 1")
    assert script.transactional and len(script.statements) == 8


@pytest.mark.parametrize("control", ["COMMIT", "BEGIN", "ROLLBACK", "START TRANSACTION", "END"])
def test_transaction_control_inside_a_file_is_refused_naming_it(control):
    assert sql_problems(f"CREATE TABLE a (x int);\n{control};\nSELECT 1;") == [
        f"V1-a-up.sql:2: transaction control ({control.split()[0]}) inside a migration: dbinit runs each migration in "
        "one transaction; remove it, or put '-- dbinit: no-transaction' on the first line"]


def test_only_a_file_both_opened_and_closed_by_begin_commit_is_unwrapped():
    assert [s.text for s in sql("START TRANSACTION;\nSELECT 1;\nCOMMIT;").statements] == ["SELECT 1"]
    assert len(sql_problems("BEGIN;\nSELECT 1;")) == 1 and len(sql_problems("SELECT 1;\nCOMMIT;")) == 1
    assert len(sql("-- dbinit: no-transaction\nBEGIN;\nSELECT 1;\nCOMMIT;").statements) == 3


def test_statements_keep_their_text_and_line_past_multibyte_characters():
    script = sql("SELECT 'é✓';\n\n  SELECT 2 ;\nSELECT 3")
    assert [(s.text, s.line) for s in script.statements] == [("SELECT 'é✓'", 1), ("SELECT 2", 3), ("SELECT 3", 4)]


@pytest.mark.parametrize("statement, schemas", [
    ("CREATE TABLE s1.t (x int)", {"s1"}),
    ("INSERT INTO s1.t SELECT * FROM s2.u JOIN v ON true", {"s1", "s2"}),
    ("CREATE SCHEMA s3", {"s3"}),
    ("CREATE SCHEMA IF NOT EXISTS s3 AUTHORIZATION r", {"s3"}),
    ("DROP SCHEMA s4, s5 CASCADE", {"s4", "s5"}),
    ("GRANT USAGE ON SCHEMA s6 TO r", {"s6"}),
    ("COMMENT ON SCHEMA s7 IS 'x'", {"s7"}),
    ("ALTER SCHEMA s8 OWNER TO r", {"s8"}),
    ("DROP TABLE s9.t, u", {"s9"}),
    ("DROP TABLE t", set()),
    ("DROP EXTENSION e", set()),  # no schema, and no list of names either
    ("SELECT 1", set()),
])
def test_a_statement_knows_the_schemas_it_names(statement, schemas):
    assert sql(statement).statements[0].schemas == schemas


def test_the_tables_a_script_names_are_found_schema_qualified_where_written():
    assert sql_relations("INSERT INTO s.t SELECT * FROM u JOIN s.t ON true;\nCOPY v FROM stdin;\n1\n\\.\n"
                         "ALTER TABLE w ADD x int") == ["s.t", "u", "v", "w"]


def test_a_created_index_is_named_as_written():
    assert [s.index for s in sql("CREATE INDEX i ON s.t (x); CREATE INDEX j ON t (x); "
                                 "CREATE INDEX ON t (x); SELECT 1").statements] == ['"s"."i"', '"j"', None, None]


def test_pg_dump_s_data_blocks_and_restrict_lines_are_taken_out_in_order():
    script = sql("\\restrict abc\nCOPY t (x) FROM stdin;\n1\n2\n\\.\nSELECT 1;\nCOPY u FROM stdin;\n\\.\n"
                 "\\unrestrict abc\nSELECT 2;")
    assert [(s.text, s.line, s.copy) for s in script.statements] == [
        ("COPY t (x) FROM stdin", 2, "1\n2\n"), ("SELECT 1", 6, None), ("COPY u FROM stdin", 7, ""),
        ("SELECT 2", 10, None)]
    assert script.copies and not sql("SELECT 1").copies
    assert sql_problems("SELECT 1;\nCOPY t FROM stdin;\n1\n") == [
        "V1-a-up.sql:2: COPY … FROM stdin has no \\. line ending its rows"]
    assert sql_problems("SELECT 1;\nCOPY t FROM stdin") == [
        "V1-a-up.sql:2: COPY … FROM stdin without its rows; end them with a \\. line as pg_dump does, or use INSERT"]
    assert sql("COPY t FROM '/x'").statements[0].copy is None
    assert [(s.text, s.line, s.copy) for s in sql("COPY t FROM stdin;\n1\n\\.").statements] == [
        ("COPY t FROM stdin", 1, "1\n")]  # a file that is one data block of one row
    assert [(s.text, s.line) for s in sql("\\restrict abc\nSELECT 1;").statements] == [("SELECT 1", 2)]


def test_a_syntax_error_names_line_and_column_and_psql_meta_commands():
    assert sql_problems("SELECT 1;\n  SELEC 2;") == ['V1-a-up.sql:2:3: SQL syntax error: syntax error at or near "SELEC"']
    assert sql_problems("\\set x 1\nSELECT 1;")[0].endswith(
        "(psql meta-commands such as \\i or \\set are not SQL; dbinit runs plain SQL)")


def cypher_problems(text: str) -> list[str]:
    return refused(cypher.split, text, Path("a.cypher"))


@pytest.mark.parametrize("text, says", [
    ("RETURN 1;\nRETURN 'open", "a.cypher:2: unterminated string (opened with ')"),
    ('RETURN "x\\"', 'a.cypher:1: unterminated string (opened with ")'),
    ("\nMATCH (`open", "a.cypher:2: unterminated backtick name (opened with `)"),
    ("RETURN 1 /* open\n", "a.cypher:1: unterminated /* comment"),
    ("RETURN 1;\n:param x => 1", "a.cypher:2: cypher-shell command :param is not Cypher; dbinit runs plain Cypher "
                                  "statements"),
])
def test_cypher_that_cannot_be_split_names_file_line_and_why(text, says):
    assert cypher_problems(text) == [says]


def test_cypher_statements_keep_their_lines_and_blank_what_is_not_code():
    statements = cypher.split("RETURN 'a\nb'\n, 2;\n/* two\nlines */ RETURN `x``;y`, \"\\\\\";:commit\nRETURN 3 // end")
    assert [(s.text, s.line) for s in statements] == [
        ("RETURN 'a\nb'\n, 2", 1), ("RETURN `x``;y`, \"\\\\\"", 5), ("RETURN 3", 6)]
    assert [s.code for s in statements] == ["RETURN '' , 2", "RETURN `x``;y`, \"\"", "RETURN 3"]


@pytest.mark.parametrize("text, statements", [
    ("RETURN '*/';\n/* c */ RETURN 2", [("RETURN '*/'", 1), ("RETURN 2", 2)]),  # a comment ends after it opens
    ("/* a */ RETURN 1; /* b */", [("RETURN 1", 1)]),  # at the first */, not the last
    ("RETURN 2*/* c */ 3", [("RETURN 2*  3", 1)]),
    ("/**/RETURN 1", [("RETURN 1", 1)]),
    ("RETURN/* c */1", [("RETURN 1", 1)]),  # a comment parts words as a space does
    ("RETURN 1;\n:commit", [("RETURN 1", 1)]),  # a shell command on the last line, with no newline after it
    (";\n'a'", [("'a'", 2)]),  # a statement that opens with a literal starts on its line
    ("RETURN `a\\`", [("RETURN `a\\`", 1)]),  # a backslash escapes nothing in a backtick name
    ("RETURN `a``b`", [("RETURN `a``b`", 1)]),
])
def test_cypher_splits_at_the_edges_of_comments_commands_and_literals(text, statements):
    assert [(s.text, s.line) for s in cypher.split(text)] == statements


@pytest.mark.parametrize("statement, kind, may_delete", [
    ("CREATE OR REPLACE FULLTEXT INDEX a FOR (n:A) ON EACH [n.x]", "schema", False),
    ("drop constraint c", "schema", True),
    ("CREATE VECTOR INDEX v FOR (n:A) ON n.e", "schema", False),
    ("MATCH (n) CALL { WITH n DETACH DELETE n } IN 10 CONCURRENT TRANSACTIONS", "auto", True),
    ("USING PERIODIC COMMIT LOAD CSV FROM 'x' AS r CREATE (:A)", "auto", False),
    ("SHOW CONSTRAINTS", "read", False),
    ("MATCH (n) REMOVE n:A", "data", True),
    ("CALL apoc.schema.assert({}, {})", "data", True),
    ("MATCH (n {s: 'DELETE'}) RETURN n", "data", False),
    ("CALL { MATCH (n) RETURN n } RETURN 1", "data", False),
])
def test_a_cypher_statement_s_kind_and_whether_it_may_delete(statement, kind, may_delete):
    s, = cypher.split(statement)
    assert (s.kind, s.may_delete) == (kind, may_delete)


def test_cypher_warns_about_a_create_without_if_not_exists_on_its_line():
    m = migration("neo4j", "CREATE INDEX a IF NOT EXISTS FOR (n:A) ON (n.x);\n\nCREATE CONSTRAINT c FOR (n:A) "
                           "REQUIRE n.y IS UNIQUE;\nDROP INDEX a;", "2025-01-01-001-a.cypher")
    assert [str(p) for p in cypher.warnings(m)] == [
        "2025-01-01-001-a.cypher:3: CREATE INDEX/CONSTRAINT without IF NOT EXISTS fails when the file is retried after "
        "a later statement failed; add IF NOT EXISTS"]


def on_disk(version: str, checksum: str = "1" * 64, description: str = "a", label: str = "",
            post_deploy: bool = False) -> Migration:
    label = label or f"V{version}"
    return Migration("postgres", version, label, description, Path(f"{label}-{description}-up.sql"), "", checksum,
                     post_deploy=post_deploy)


def in_history(version: str, checksum: str = "1" * 64, description: str = "a", success: bool = True,
               script: str = "") -> Applied:
    return Applied(version, description, script or f"V{version}-{description}-up.sql", checksum, NOW, 1, success)


def checkpoint(version: str) -> Migration:
    return Migration("postgres", version, f"V{version}", "schema", Path(f"V{version}-schema-checkpoint.sql"), "",
                     "c", checkpoint=True)


def refused_plan(plan, allow_out_of_order: bool = False) -> list[str]:
    return refused(plan.check, allow_out_of_order)


def test_a_plan_refuses_changed_and_out_of_order_files_naming_each_and_both_checksums():
    plan = reconcile("postgres", [on_disk("1", "2" * 64), on_disk("2"), on_disk("3")],
                     [in_history("1", "3" * 64), in_history("3")])
    assert refused_plan(plan) == [
        "V1-a-up.sql: V1 was changed after it was applied (checksum 333333333333… in history, 222222222222… on "
        "disk); restore the file, or run 'dbinit repair' if the change is intended",
        "V2-a-up.sql: V2 is pending but older than the newest applied postgres migration; give it a newer version, "
        "or allow it with --out-of-order"]
    assert len(refused_plan(plan, allow_out_of_order=True)) == 1
    reconcile("postgres", [on_disk("1"), on_disk("2")], [in_history("1")]).check(False)


def test_a_failed_mark_stops_a_plan_until_repair():
    plan = reconcile("postgres", [on_disk("1"), on_disk("2")], [in_history("1", success=False)])
    with pytest.raises(MigrationFailed) as stopped:
        plan.check(True)
    assert (stopped.value.db, stopped.value.path, str(stopped.value).split(": ", 1)[-1]) == ("postgres", Path(
        "V1-a-up.sql"), "V1 failed partway in an earlier run (no-transaction migration); fix the database by hand, "
        "then run 'dbinit repair'")
    with pytest.raises(MigrationFailed) as stopped:  # its file deleted since: still stopped, named by its version
        reconcile("postgres", [], [in_history("1", success=False)]).check(True)
    assert (stopped.value.path, str(stopped.value).split(" ", 1)[0]) == (None, "V1")


def test_an_entry_is_labelled_and_described_as_its_file_or_else_its_record_says():
    plan = reconcile("postgres", [on_disk("1", label="V001", description="first")],
                     [in_history("2", description="gone", script="V002-gone-up.sql")])
    assert [(e.db, e.version, e.label, e.description, e.state) for e in plan.entries] == [
        ("postgres", "1", "V001", "first", State.PENDING), ("postgres", "2", "V002", "gone", State.MISSING)]


def test_a_pending_post_deploy_file_is_late_only_below_an_applied_post_deploy_one():
    post = dict(post_deploy=True)
    plan = reconcile("postgres", [on_disk("1"), on_disk("2", **post), on_disk("3", **post), on_disk("4"),
                                  on_disk("5"), on_disk("6", **post)], [in_history(v) for v in "125"])
    assert [e.label for e in plan.out_of_order] == ["V4"]  # V3 waits for the post-deploy run, above V2
    plan = reconcile("postgres", [on_disk(v, **post) for v in "234"], [in_history(v) for v in "24"])
    assert [e.label for e in plan.out_of_order] == ["V3"]


def test_post_deploy_files_run_now_when_asked_or_on_a_database_with_nothing_but_its_baseline():
    def now(history: list[Applied], post_deploy: bool = False) -> bool:
        return reconcile("postgres", [on_disk("1")], history, post_deploy=post_deploy).post_deploy

    assert now([]) and now([in_history(INIT_VERSION)]) and now([in_history("1")], post_deploy=True)
    assert not now([in_history("1")]) and not now([in_history(INIT_VERSION), in_history("1")])
    assert not reconcile("postgres", [on_disk("2")], [in_history("1")]).post_deploy  # unless asked


def test_a_database_without_history_runs_the_newest_checkpoint_up_to_the_target():
    def chosen(history: list[Applied], upto: str | None = None) -> str | None:
        plan = reconcile("postgres", [on_disk(v) for v in "123456"], history, upto=upto,
                         checkpoints=[checkpoint("2"), checkpoint("3"), checkpoint("5")])
        assert plan.upto == upto
        return plan.checkpoint.version if plan.checkpoint else None

    assert (chosen([]), chosen([], "3"), chosen([], "4"), chosen([], "1")) == ("5", "3", "3", None)
    assert chosen([in_history("1")]) is None


def test_a_file_gone_at_or_below_the_newest_checkpoint_was_squashed_into_it():
    history = [in_history(v) for v in "12345"]
    squashed = reconcile("postgres", [on_disk("6")], history, checkpoints=[checkpoint(v) for v in "235"])
    assert [e.state for e in squashed.entries] == [State.APPLIED] * 5 + [State.PENDING]
    assert [e.state for e in reconcile("postgres", [on_disk("6")], history).entries] == [State.MISSING] * 5 + [
        State.PENDING]


def test_a_checkpoint_s_own_record_is_applied_whatever_its_version_s_file_holds():
    record = in_history("3", "c" * 64, script="V3-schema-checkpoint.sql")
    assert reconcile("postgres", [on_disk("3")], [record]).entries[0].state is State.APPLIED


def test_repair_may_not_accept_another_migration_nor_a_file_applied_as_dbinit_new_wrote_it():
    skeleton_sum = sorted(skeleton.checksums("postgres", "b"))[0]
    plan = reconcile("postgres", [on_disk("1", description="a"), on_disk("2", description="b"), on_disk("3")],
                     [in_history("1", "9" * 64, description="other"), in_history("2", skeleton_sum, description="b"),
                      in_history("3", "8" * 64)])
    assert [str(p) for p in plan.unrepairable()] == [
        "V1-a-up.sql: V1 in the history is V1-other-up.sql, not this file: another migration of the same version "
        "(another project's history? check DBINIT_MIGRATIONS and the database URL); repair would record this file "
        "as applied without running it",
        "V2-b-up.sql: V2 was applied while it held only what dbinit new wrote, so what it holds now never ran; move "
        "that into a new migration (dbinit new), and put this file back as dbinit new wrote it"]
    assert [p.split(":")[0] + ":" + p.split(":")[1][:4] for p in refused_plan(plan)] == [
        "V1-a-up.sql: V1 ", "V2-b-up.sql: V2 ", "V3-a-up.sql: V3 "]  # each named once
