"""Progress a person can see: a line every DBINIT_PROGRESS_INTERVAL while a migration or an index
build runs long, with what the server says it is doing."""
import json
import re

from conftest import run_dbinit
from test_postgres_live import hold_lock_for, make_accounts


def lines(result, source: str) -> list[dict]:
    return [r for r in map(json.loads, result.stderr.splitlines()) if r["source"] == source and "running" in r["message"]]


def test_a_long_index_build_shows_its_phase_and_a_rising_percentage(pg, migrations):
    # The build's table scan is long by construction, not by the machine's speed: its expression
    # sleeps a millisecond a row, so 6,000 rows in some 50 blocks take 6 s or more, some 20 lines
    # at 0.3 s, each a few blocks further (a fast build of a large table could go by between two).
    pg.sql("CREATE TABLE orders (id int, ref text); "
           "INSERT INTO orders SELECT i, md5(i::text) FROM generate_series(1, 6000) i; "
           "CREATE FUNCTION slowly(t text) RETURNS text IMMUTABLE LANGUAGE plpgsql "
           "AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN t; END $$")
    migrations.write("V001-orders-ref-up.sql", "-- dbinit: no-transaction\n"
                                               "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_ref ON orders (slowly(ref));\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        DBINIT_PROGRESS_INTERVAL="0.3", DBINIT_LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    progress = [r for r in lines(result, "postgres") if r.get("phase")]
    assert progress and all(r["message"].startswith("V001 orders-ref running ") for r in progress), result.stderr
    assert 'building index, phase "building index' in progress[0]["message"]
    rising = [(a["percent"], b["percent"]) for a, b in zip(progress, progress[1:])
              if a["phase"] == b["phase"] and a["percent"] is not None and b["percent"] is not None]
    assert any(later > earlier for earlier, later in rising), [(r["phase"], r["percent"]) for r in progress]


def test_a_migration_waiting_for_a_lock_names_the_session_holding_it(pg, migrations):
    make_accounts(pg)
    migrations.write("V001-add-currency-up.sql", "ALTER TABLE accounts ADD COLUMN currency text;\n")
    holder, pid = hold_lock_for(pg.url, 3)
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url,
                        DBINIT_PROGRESS_INTERVAL="0.5", DBINIT_PG_LOCK_TIMEOUT="10")
    holder.join()
    assert result.returncode == 0, result.stderr
    assert re.search(rf"V001 add-currency running \d+ s: waiting for a lock \(Lock: relation\) held by pid {pid[0]}",
                     result.stderr), result.stderr


def test_while_waiting_for_indexes_each_populating_index_shows_its_percentage(neo4j_db, migrations):
    with neo4j_db.driver() as d, d.session() as s:  # IN TRANSACTIONS needs an implicit transaction
        s.run("UNWIND range(1, 400000) AS i CALL { WITH i CREATE (:Big {s: 'item-' + toString(i)}) } "
              "IN TRANSACTIONS OF 50000 ROWS").consume()
    migrations.write("2025-01-01-001-index.cypher", "CREATE TEXT INDEX big_s IF NOT EXISTS FOR (b:Big) ON (b.s);\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), NEO4J_URI=neo4j_db.uri(),
                        NEO4J_AUTH=f"neo4j/{neo4j_db.password}", DBINIT_PROGRESS_INTERVAL="0.2",
                        DBINIT_LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    waiting = [r for r in lines(result, "neo4j") if r["message"].startswith("waiting for indexes running")]
    assert any("big_s" in r.get("indexes", {}) for r in waiting), result.stderr[-3000:]
    assert re.search(r"populating big_s \d+%", waiting[0]["message"])


def test_a_short_run_prints_no_progress_line(pg, migrations):
    migrations.write("V001-a-up.sql", "CREATE TABLE a (id int);\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), POSTGRES_URL=pg.url)
    assert result.returncode == 0 and " running " not in result.stderr
