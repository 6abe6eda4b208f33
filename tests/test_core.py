"""The pure core in process, no servers: what a file's name means, the versions the command line
takes, and redis-cli's splitting. Milliseconds each; scripts/mutation.sh mutates these modules and
runs these tests (with test_plan.py and test_files.py) against every mutant."""
import hashlib
from datetime import datetime
from pathlib import Path

import pytest

from dbinit import integrity, log, placeholders, registry, targets
from dbinit.databases.redis.commands import quote, split_args
from dbinit.errors import InvalidMigrations, UsageError
from dbinit.files import discover
from dbinit.migration import Migration

PG, NEO4J, REDIS = (registry.get(db).naming for db in ("postgres", "neo4j", "redis"))
NOW = datetime(2026, 3, 4, 5, 6, 7)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def files(db: str, *labels: str) -> list[Migration]:
    naming = registry.get(db).naming
    return [Migration(db, naming.normalise(label), label, "step", Path(label), "", "c") for label in labels]


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
    for naming, text in ((PG, "7a"), (PG, "x7"), (NEO4J, "2025-01-15"), (NEO4J, "20250115001")):
        with pytest.raises(ValueError):
            naming.normalise(text)


@pytest.mark.parametrize("name, says", [
    ("V1 add-up.sql", "has white space in its name"),
    ("V1-add&drop-up.sql", "characters a name may not have (&)"),
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
    with pytest.raises(UsageError, match="a version of postgres and redis; give DATABASE=VERSION"):
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
    ('SET k "\\x41\\x7a\\xZZ"', ["SET", "k", "AzxZZ"]),  # an escape that is no hex pair is its letter
    ("SET k 'it\\'s \"x\"'", ["SET", "k", "it's \"x\""]),
    ("SET k 'a\\nb'", ["SET", "k", "a\\nb"]),  # single quotes keep a backslash but before '
    ('SET k ""', ["SET", "k", ""]),
    ('SET k "open', None),
    ("SET k 'open", None),
    ('SET k "a"b', None),  # a closing quote must end the argument
    ("SET k 'a'b", None),
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
    assert filled("postgres", "SELECT '$${x}', '$$'", x="1")[0].text == "SELECT '${x}', '$$'"
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
        filled("postgres", "SELECT ${a};\nSELECT ${b};", x="1")
    assert [p.line for p in refused.value.problems] == [1, 2]


def test_a_redis_value_is_one_argument_and_masked_as_the_line_spells_it():
    redis, masked = filled("redis", 'SET k ${v}\n# ${comment}\nSET "${v}x" 1', v='a "b"\n')
    assert redis.text == '"SET" "k" "a \\"b\\"\\n"\n# ${comment}\n"SET" "a \\"b\\"\\nx" "1"'
    assert masked == {'a "b"\n', 'a \\"b\\"\\n'}  # as the value is, and as the line spells it


def test_a_repeatable_file_that_asks_has_the_values_it_uses_in_its_checksum():
    asks = "-- dbinit: placeholders-in-checksum\nSELECT ${a}"
    one = placeholders.fill(migration("postgres", asks, "R-x.sql"), {"a": "1", "b": "2"}, {})
    other = placeholders.fill(migration("postgres", asks, "R-x.sql"), {"a": "3", "b": "2"}, {})
    unused = placeholders.fill(migration("postgres", asks, "R-x.sql"), {"a": "1", "b": "9"}, {})
    assert one.checksum != other.checksum and one.checksum == unused.checksum != "sum"
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
    with pytest.raises(InvalidMigrations) as refused:
        integrity.check(directory, discover(directory), required)
    return [str(p).removeprefix(f"{directory}/") for p in refused.value.problems]


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
