"""Neo4j specifics: schema and data statements in one file, the leased lock, indexes ONLINE at exit."""
import signal
import time

import pytest

from conftest import run_dbinit, start_dbinit


def migrate(neo4j, migrations, *args, **env):
    return run_dbinit(*args, "--migrations", str(migrations.path),
                      **{"NEO4J_URI": neo4j.uri(), "NEO4J_AUTH": f"neo4j/{neo4j.password}", **env})


def query(neo4j, cypher, **params):
    with neo4j.driver() as d:
        return d.execute_query(cypher, params).records


def test_a_file_mixing_constraints_and_merges_applies(neo4j_db, migrations):
    """Neo4j refuses a write after a schema change in one transaction: dbinit runs the schema
    statements in one transaction and the data statements in another."""
    migrations.write("2025-01-01-001-mixed.cypher", """
CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE;
MERGE (:Person {id: 1, name: 'Ada'});
CREATE INDEX person_name IF NOT EXISTS FOR (p:Person) ON (p.name);
MERGE (:Person {id: 2, name: 'Grace'});
SHOW INDEXES;
""")
    result = migrate(neo4j_db, migrations, "migrate")
    assert result.returncode == 0, result.stderr
    assert query(neo4j_db, "MATCH (p:Person) RETURN count(p) AS n")[0]["n"] == 2
    states = {r["name"]: r["state"] for r in query(neo4j_db, "SHOW INDEXES")}
    assert states["person_id"] == states["person_name"] == "ONLINE"


def test_a_run_time_error_in_the_second_statement_names_file_line_and_code_and_reports_what_committed(neo4j_db,
                                                                                                      migrations):
    bad = migrations.write("2025-01-01-001-bad.cypher", "CREATE INDEX thing_x IF NOT EXISTS FOR (t:Thing) ON (t.x);\n\n"
                           "MERGE (t:Thing {x: 1})\nSET t.y = 10 / (t.x - 1);\n")
    result = migrate(neo4j_db, migrations, "migrate")
    assert result.returncode == 1
    assert f"{bad.name}:3: Neo.ClientError.Statement.ArithmeticError" in result.stderr
    assert "statements already committed: lines 1" in result.stderr
    assert query(neo4j_db, "MATCH (m:__DbinitMigration) RETURN count(m) AS n")[0]["n"] == 0
    assert query(neo4j_db, "MATCH (t:Thing) RETURN count(t) AS n")[0]["n"] == 0  # the MERGE rolled back
    bad.write_text("CREATE INDEX thing_x IF NOT EXISTS FOR (t:Thing) ON (t.x);\n\nMERGE (t:Thing {x: 1})\nSET t.y = 2;\n")
    fixed = migrate(neo4j_db, migrations, "migrate")
    assert fixed.returncode == 0, fixed.stderr
    assert query(neo4j_db, "MATCH (t:Thing) RETURN t.y AS y")[0]["y"] == 2


def big_nodes(neo4j, count: int) -> None:
    """`count` nodes with long text values: a text index on them populates for seconds (about 3 s per
    100000 here), far longer than dbinit takes to look, so a test sees dbinit wait for it."""
    for start in range(0, count, 50000):
        query(neo4j, "UNWIND range($start, $start + 49999) AS i CREATE (:Big {n: i, s: toString(i) + $pad})",
              start=start, pad="p" * 300)


def waited_for(stderr: str) -> str:
    return next((line for line in stderr.splitlines() if "waiting for indexes to come online" in line), "")


def test_indexes_on_existing_data_are_online_when_dbinit_exits(neo4j_db, migrations):
    big_nodes(neo4j_db, 50000)
    migrations.write("2025-01-01-001-index.cypher",
                     "CREATE INDEX big_n IF NOT EXISTS FOR (b:Big) ON (b.n);\n"
                     "CREATE TEXT INDEX big_s IF NOT EXISTS FOR (b:Big) ON (b.s);\n")
    result = migrate(neo4j_db, migrations, "migrate")
    assert result.returncode == 0, result.stderr
    assert "big_s" in waited_for(result.stderr), result.stderr  # it was populating when dbinit looked
    states = {r["name"]: r["state"] for r in query(neo4j_db, "SHOW INDEXES")}
    assert states["big_n"] == states["big_s"] == "ONLINE"


def test_a_run_with_nothing_pending_still_waits_for_an_index_that_is_populating(neo4j_db, migrations):
    """A replica that finds nothing pending while another runner waits for the index its file made
    (here: an index created straight before) must not let the application start on it either."""
    big_nodes(neo4j_db, 200000)
    migrations.write("2025-01-01-001-marker.cypher", "MERGE (:Marker);\n")
    assert migrate(neo4j_db, migrations, "migrate").returncode == 0
    query(neo4j_db, "CREATE TEXT INDEX big_late FOR (b:Big) ON (b.s)")
    result = migrate(neo4j_db, migrations, "migrate")
    assert result.returncode == 0, result.stderr
    assert "0 applied, 1 already applied" in result.stderr
    assert "big_late" in waited_for(result.stderr), result.stderr
    assert {r["name"]: r["state"] for r in query(neo4j_db, "SHOW INDEXES")}["big_late"] == "ONLINE"


def test_an_index_that_failed_to_populate_fails_the_run_naming_it_and_why_on_every_run(neo4j_db, migrations):
    """The application must not start on an index the server gave up on (here: a value too large for
    a range index), and the message is the server's reason, not its Java stack trace."""
    query(neo4j_db, "CREATE (:Doc {body: $body})", body="x" * 40000)
    migrations.write("2025-01-01-001-index.cypher", "CREATE INDEX doc_body IF NOT EXISTS FOR (d:Doc) ON (d.body);\n")
    for _ in range(2):  # the file is applied; a later run, with nothing pending, still refuses
        result = migrate(neo4j_db, migrations, "migrate")
        assert result.returncode == 1, result.stderr
        assert "doc_body is FAILED: Property value is too large to index" in result.stderr
        assert "\tat org.neo4j" not in result.stderr and "java.lang" not in result.stderr
    migrations.write("2025-01-01-002-drop-index.cypher", "DROP INDEX doc_body IF EXISTS;\n")
    assert migrate(neo4j_db, migrations, "migrate").returncode == 0


def test_an_index_still_populating_at_dbinit_index_timeout_fails_the_run_and_a_later_run_waits_for_it(neo4j_db,
                                                                                                       migrations):
    big_nodes(neo4j_db, 100000)
    migrations.write("2025-01-01-001-index.cypher", "CREATE TEXT INDEX big_s IF NOT EXISTS FOR (b:Big) ON (b.s);\n")
    result = migrate(neo4j_db, migrations, "migrate", DBINIT_INDEX_TIMEOUT="1")
    assert result.returncode == 1, result.stderr
    assert "indexes not usable when dbinit finished (waited up to 1 s, DBINIT_INDEX_TIMEOUT): big_s is POPULATING" \
        in result.stderr
    later = migrate(neo4j_db, migrations, "migrate")
    assert later.returncode == 0, later.stderr
    assert {r["name"]: r["state"] for r in query(neo4j_db, "SHOW INDEXES")}["big_s"] == "ONLINE"


def test_call_in_transactions_runs_in_its_own_implicit_transaction(neo4j_db, migrations):
    query(neo4j_db, "UNWIND range(1, 300) AS i CREATE (:Item {n: i})")
    migrations.write("2025-01-01-001-batch.cypher",
                     "MATCH (i:Item) CALL { WITH i SET i.done = true } IN TRANSACTIONS OF 100 ROWS;\n")
    result = migrate(neo4j_db, migrations, "migrate")
    assert result.returncode == 0, result.stderr
    assert query(neo4j_db, "MATCH (i:Item {done: true}) RETURN count(i) AS n")[0]["n"] == 300


class Blocker:
    """Holds a write lock on a node in an open transaction, so a migration that writes it waits
    exactly as long as the test wants."""

    def __init__(self, neo4j):
        query(neo4j, "MERGE (:Blocker {id: 1})")
        self.driver = neo4j.driver()
        self.session = self.driver.session()
        self.tx = self.session.begin_transaction()
        self.tx.run("MATCH (b:Blocker) SET b.held = true").consume()

    def release(self):
        self.tx.rollback()
        self.session.close()
        self.driver.close()


BLOCKED_MIGRATION = "MATCH (b:Blocker) SET b.migrated = true;\n"


def start_holder(neo4j, migrations):
    holder = start_dbinit("migrate", "--migrations", str(migrations.path), NEO4J_URI=neo4j.uri(),
                          NEO4J_AUTH=f"neo4j/{neo4j.password}")
    deadline = time.monotonic() + 30
    while not query(neo4j, "MATCH (l:__DbinitLock) RETURN l"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return holder


def test_a_killed_lock_holders_lock_expires_after_its_lease_and_the_next_run_completes(neo4j_db, migrations):
    migrations.write("2025-01-01-001-blocked.cypher", BLOCKED_MIGRATION)
    blocker = Blocker(neo4j_db)
    holder = start_holder(neo4j_db, migrations)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    blocker.release()
    assert query(neo4j_db, "MATCH (l:__DbinitLock) RETURN count(l) AS n")[0]["n"] == 1
    result = migrate(neo4j_db, migrations, "migrate", DBINIT_LOCK_TIMEOUT="60")
    assert result.returncode == 0, result.stderr
    assert "waiting for the migration lock held by" in result.stderr
    assert query(neo4j_db, "MATCH (b:Blocker) RETURN b.migrated AS m")[0]["m"] is True
    assert query(neo4j_db, "MATCH (l:__DbinitLock) RETURN count(l) AS n")[0]["n"] == 0


def test_a_live_holder_keeps_its_lock_past_the_lease(neo4j_db, migrations):
    migrations.write("2025-01-01-001-blocked.cypher", BLOCKED_MIGRATION)
    blocker = Blocker(neo4j_db)
    holder = start_holder(neo4j_db, migrations)
    waiting = migrate(neo4j_db, migrations, "migrate", DBINIT_LOCK_TIMEOUT="14")  # longer than the 10 s lease
    blocker.release()
    assert waiting.returncode == 75, waiting.stderr
    assert holder.wait(60) == 0
    assert query(neo4j_db, "MATCH (m:__DbinitMigration) RETURN count(m) AS n")[0]["n"] == 1


def test_a_syntax_error_in_a_later_pending_file_stops_the_run_before_the_first_file_runs(neo4j_db, migrations):
    migrations.write("2025-01-01-001-fine.cypher", "CREATE (:First);\n")
    migrations.write("2025-01-01-002-fine.cypher", "CREATE INDEX first_x IF NOT EXISTS FOR (f:First) ON (f.x);\n")
    bad = migrations.write("2025-01-01-003-typo.cypher", "MATCH (f:First)\nSET f.y = toIntegr('1');\n")
    missing = migrations.write("2025-01-01-004-plugin.cypher", "CALL apoc.schema.assert({}, {});\n")
    result = migrate(neo4j_db, migrations, "migrate")
    assert result.returncode == 65, result.stderr
    assert f"{bad.name}:2: Neo.ClientError.Statement.SyntaxError" in result.stderr
    assert f"{missing.name}:1: Neo.ClientError.Procedure.ProcedureNotFound" in result.stderr
    assert query(neo4j_db, "MATCH (n) RETURN count(n) AS n")[0]["n"] == 0
    assert not [r for r in query(neo4j_db, "SHOW INDEXES YIELD name") if r["name"] == "first_x"]


@pytest.mark.parametrize("reset", [
    "MATCH (n) DETACH DELETE n;",
    "MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 2 ROWS;",
    "DROP CONSTRAINT dbinit_migration_version;\nMATCH (n) DETACH DELETE n;",
], ids=["detach-delete", "in-transactions", "drop-constraint"])
def test_a_file_that_wipes_the_graph_keeps_dbinits_history_and_lock(neo4j_db, migrations, reset):
    for n in (1, 2):
        migrations.write(f"2025-01-01-00{n}-data.cypher", f"CREATE (:Item {{n: {n}}});\n")
    assert migrate(neo4j_db, migrations, "migrate").returncode == 0  # the history the reset takes: an earlier run's
    reset_file = migrations.write("2025-01-01-003-reset.cypher", reset + "\n")
    migrations.write("2025-01-01-004-after.cypher", "CREATE (:Item {n: 4});\n")
    first = migrate(neo4j_db, migrations, "migrate")
    assert first.returncode == 0, first.stderr
    assert f"{reset_file} deleted dbinit's own nodes; put back 2 history node(s) and the lock node" in first.stderr
    assert [r["n"] for r in query(neo4j_db, "MATCH (i:Item) RETURN i.n AS n")] == [4]
    versions = query(neo4j_db, "MATCH (m:__DbinitMigration) RETURN m.version AS v ORDER BY v")
    assert [r["v"] for r in versions] == [f"2025-01-01-00{n}" for n in (1, 2, 3, 4)]
    constraints = [r["name"] for r in query(neo4j_db, "SHOW CONSTRAINTS YIELD name")]
    assert "dbinit_migration_version" in constraints and "dbinit_lock_name" in constraints
    assert not query(neo4j_db, "MATCH (l:__DbinitLock) RETURN l")  # released at the end as usual
    second = migrate(neo4j_db, migrations, "migrate")
    assert second.returncode == 0 and "0 applied, 4 already applied" in second.stderr


def test_a_routing_uri_works_against_a_single_server_and_a_missing_database_is_78_at_once(neo4j_db, migrations):
    migrations.write("2025-01-01-001-a.cypher", "CREATE INDEX routed IF NOT EXISTS FOR (r:Routed) ON (r.x);\n"
                                                "CREATE (:Routed {x: 1});\n")
    routed = {"NEO4J_URI": f"neo4j://127.0.0.1:{neo4j_db.port}"}
    result = migrate(neo4j_db, migrations, "migrate", **routed)
    assert result.returncode == 0, result.stderr
    assert query(neo4j_db, "MATCH (r:Routed) RETURN count(r) AS n")[0]["n"] == 1
    started = time.monotonic()
    missing = migrate(neo4j_db, migrations, "migrate", NEO4J_DATABASE="nosuchdb", DBINIT_WAIT_TIMEOUT="60", **routed)
    assert missing.returncode == 78 and "NEO4J_DATABASE" in missing.stderr, missing.stderr
    assert time.monotonic() - started < 20  # at once: far below the deadline


def test_a_routing_uri_waits_for_a_server_started_late(make_server, migrations):
    late = make_server("neo4j")
    migrations.write("2025-01-01-001-a.cypher", "CREATE (:Late);\n")
    starter = late.start_after(2)
    result = run_dbinit("migrate", "--migrations", str(migrations.path), NEO4J_URI=f"neo4j://127.0.0.1:{late.port}",
                        NEO4J_AUTH=f"neo4j/{late.password}", DBINIT_WAIT_TIMEOUT="90")
    starter.join()
    assert result.returncode == 0, result.stderr
    assert query(late, "MATCH (l:Late) RETURN count(l) AS n")[0]["n"] == 1


def test_a_runner_back_from_a_pause_asks_the_server_before_a_schema_change_and_runs_none(neo4j_db, migrations):
    """Schema statements cannot share a transaction with the lease check. dbinit skips asking the
    server only while the last lease extension it confirmed is under half a lease old; a runner
    whose clock says otherwise (it was paused) asks, finds another holder, and changes nothing."""
    from dbinit.databases.neo4j.backend import Neo4jBackend
    from dbinit.errors import LockLost
    from dbinit.migration import Migration
    from dbinit.settings import load

    settings = load({"NEO4J_URI": neo4j_db.uri(), "NEO4J_AUTH": f"neo4j/{neo4j_db.password}"}).of("neo4j")
    paused, other = Neo4jBackend(settings, lease_s=2), Neo4jBackend(settings, lease_s=2)
    for backend in (paused, other):
        backend.connect(10)
    try:
        assert paused.try_lock()
        path = migrations.write("2025-01-01-001-index.cypher", "CREATE INDEX paused_p FOR (n:Paused) ON (n.p);\n")
        migration = Migration("neo4j", "2025-01-01-001", "2025-01-01-001", "index", path, path.read_text(), "x")
        time.sleep(2.5)  # as a SIGSTOP does: no renewal, and this runner's clock moves on
        assert other.try_lock()
        with pytest.raises(LockLost):
            paused.apply(migration)
        assert not query(neo4j_db, "SHOW INDEXES YIELD name WHERE name = 'paused_p' RETURN name")
    finally:
        other.unlock()
        for backend in (paused, other):
            backend.close()


def test_validate_with_servers_has_neo4j_plan_every_statement_and_changes_nothing(neo4j_db, migrations):
    """CI with a Neo4j service catches a Cypher syntax error without migrating."""
    migrations.write("2025-01-01-001-index.cypher", "CREATE INDEX checked_p IF NOT EXISTS FOR (n:Checked) ON (n.p);\n")
    bad = migrations.write("2025-01-02-001-bad.cypher", "MATCH (n:Checked)\nRETURN n ORDER BY;\n")
    offline = migrate(neo4j_db, migrations, "validate")
    assert offline.returncode == 0, offline.stderr
    assert "neo4j: the server's plan of every statement (EXPLAIN) was skipped; it runs with --servers" in offline.stderr
    online = migrate(neo4j_db, migrations, "validate", "--servers")
    assert online.returncode == 65, online.stderr
    assert f"{bad.name}:2: Neo.ClientError.Statement.SyntaxError" in online.stderr and "was skipped" not in online.stderr
    assert not query(neo4j_db, "SHOW INDEXES YIELD name WHERE name = 'checked_p' RETURN name")
    assert not query(neo4j_db, "SHOW CONSTRAINTS YIELD name WHERE name STARTS WITH 'dbinit' RETURN name")
    assert query(neo4j_db, "MATCH (n) RETURN count(n) AS n")[0]["n"] == 0
