"""Preconditions in a file's header: asked under the locks before the file runs, read-only; one not
met applies nothing of its file or after it (exit 6), naming the file, the line and the query."""
from __future__ import annotations

import pytest

import failure_modes
from conftest import run_dbinit

COMMENT = {"postgres": "--", "neo4j": "//", "redis": "#"}
# After V1 (counting(1)) ran: a query that is false, one that is true, one the server refuses, one
# that would write.
QUERIES = {
    "postgres": {"false": "SELECT count(*) = 0 FROM runs", "true": "SELECT count(*) = 1 FROM runs",
                 "error": "SELECT true FROM no_such_table", "write": "INSERT INTO runs VALUES (9) RETURNING true"},
    "neo4j": {"false": "MATCH (r:Run) RETURN count(r) = 0", "true": "MATCH (r:Run) RETURN count(r) = 1",
              "error": "MATCH (r:Run) RETURN count(r) = ", "write": "CREATE (:Run {n: 9}) RETURN true"},
    "redis": {"false": "EXISTS runs:2", "true": "EXISTS runs:1", "error": "HEXISTS runs:1",
              "write": "INCR runs:9"},
}
SAID = {  # what the message says each returned
    "postgres": {"false": "returned false", "error": "SQLSTATE 42P01", "write": "SQLSTATE 25006"},
    "neo4j": {"false": "returned false", "error": "Neo.ClientError.Statement.SyntaxError",
              "write": "Neo.ClientError.Statement.AccessMode"},
    "redis": {"false": "returned 0", "error": "wrong number of arguments", "write": "not a read-only command"},
}


def guarded(target, query: str, n: int = 2) -> str:
    return f"{COMMENT[target.db]} dbinit: precondition {query}\n{COMMENT[target.db]} step {n}\n{target.counting(n)}"


def migrate(target, migrations, **env):
    return run_dbinit("migrate", "--migrations", str(migrations.path), **target.env, **env)


@pytest.mark.parametrize("kind", ["false", "error", "write"])
def test_a_precondition_not_met_applies_nothing_of_its_file_or_after_it(target, migrations, kind):
    migrations.write(target.name(1), target.counting(1))
    migrations.write(target.name(2), guarded(target, QUERIES[target.db][kind]))
    migrations.write(target.name(3), target.counting(3))
    result = migrate(target, migrations)
    assert result.returncode == 6, result.stderr
    assert f"{target.name(2)}:1: precondition not met: {QUERIES[target.db][kind]}" in result.stderr
    assert SAID[target.db][kind] in result.stderr
    assert "nothing of this file or after it was applied" in result.stderr
    if kind != "error":
        failure_modes.check(result, {"false": "a file's precondition is not met",
                                     "write": "a file's precondition would write"}[kind], target.db)
    assert [target.count(n) for n in (1, 2, 3, 9)] == [1, 0, 0, 0]  # the write was refused too
    assert len(target.history()) == 1


def test_a_precondition_met_lets_its_file_run(target, migrations):
    migrations.write(target.name(1), target.counting(1))
    migrations.write(target.name(2), guarded(target, QUERIES[target.db]["true"]))
    result = migrate(target, migrations)
    assert result.returncode == 0, result.stderr
    assert "precondition met at line 1" in result.stderr
    assert [target.count(n) for n in (1, 2)] == [1, 1]


def test_validate_with_servers_asks_each_precondition_read_only_and_says_what_it_finds_now(target, migrations):
    migrations.write(target.name(1), target.counting(1))
    assert migrate(target, migrations).returncode == 0
    migrations.write(target.name(2), guarded(target, QUERIES[target.db]["false"]))
    migrations.write(target.name(3), guarded(target, QUERIES[target.db]["write"], 3))
    result = run_dbinit("validate", "--servers", "--migrations", str(migrations.path), **target.env)
    assert result.returncode == 0, result.stderr  # the files before it may make it true
    assert f"{target.name(2)}:1: precondition not met now ({QUERIES[target.db]['false']} returned" in result.stderr
    assert f"{target.name(3)}:1: precondition not met now" in result.stderr
    assert [target.count(n) for n in (2, 3, 9)] == [0, 0, 0] and len(target.history()) == 1


def test_a_misplaced_precondition_is_refused_before_anything_runs(target, migrations):
    c = COMMENT[target.db]
    migrations.write(target.name(1), target.counting(1))
    migrations.write(target.name(2), f"{target.counting(2)}{c} dbinit: precondition {QUERIES[target.db]['true']}\n")
    migrations.write(target.name(3), f"{c} dbinit: precondition\n{target.counting(3)}")
    migrations.write(target.name(4), f"{c} dbinit: precondtion {QUERIES[target.db]['true']}\n{target.counting(4)}")
    result = migrate(target, migrations)
    assert result.returncode == 65, result.stderr
    assert f"{target.name(2)}:{len(target.counting(2).splitlines()) + 1}: '{c} dbinit: precondition' below the " \
           "first statement" in result.stderr
    assert f"{target.name(3)}:1: '{c} dbinit: precondition' without a query" in result.stderr
    assert f"{target.name(4)}:1: unknown directive 'dbinit: precondtion'; did you mean '{c} dbinit: " \
           "precondition'?" in result.stderr
    assert target.count(1) == 0 and target.history() == []


def test_a_precondition_in_a_down_file_is_refused(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    migrations.write("V1-a-down.sql", "-- dbinit: precondition SELECT true\nDROP TABLE a;\n")
    result = run_dbinit("validate", "--migrations", str(migrations.path))
    assert result.returncode == 65
    assert "V1-a-down.sql:1: '-- dbinit: precondition' in a down file" in result.stderr


def test_in_one_transaction_a_precondition_not_met_applies_none_of_the_files(pg, migrations):
    migrations.write("V1-a-up.sql", "CREATE TABLE a (id int);\n")
    migrations.write("V2-b-up.sql", "-- dbinit: precondition SELECT to_regclass('a') IS NOT NULL\n"
                                    "CREATE TABLE b (id int);\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        DBINIT_PG_TRANSACTION="all")
    # Asked before the transaction, as the database is: a precondition on what an earlier file of
    # the same transaction makes is not met (the guide says to keep such files apart).
    assert result.returncode == 6 and "V2-b-up.sql:1: precondition not met" in result.stderr
    assert pg.sql("SELECT to_regclass('a') IS NULL AND NOT EXISTS (SELECT FROM dbinit.dbinit_schema_history)") == "t"


def test_a_placeholder_in_a_precondition_is_filled(pg, migrations):
    migrations.write("V1-a-up.sql", "-- dbinit: precondition SELECT current_user = '${owner}'\nCREATE TABLE a (id int);\n")
    refused = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                         DBINIT_PLACEHOLDER_OWNER="someone_else")
    assert refused.returncode == 6 and "someone_else" not in refused.stderr  # values are secrets
    assert run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                      DBINIT_PLACEHOLDER_OWNER=pg.server.user).returncode == 0
