"""300 generated Cypher migrations (an index, a constraint and a data statement each) on Neo4j:
dbinit against the same statements run directly with the driver in one session.

    .venv/bin/python bench/neo4j_apply.py [COUNT]
"""
import sys
import tempfile
from pathlib import Path

from common import Neo4jServer, dbinit, median, report, timed

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 300


def statements(i: int) -> list[str]:
    return [f"CREATE INDEX idx_{i} IF NOT EXISTS FOR (n:L{i}) ON (n.p)",
            f"CREATE CONSTRAINT uniq_{i} IF NOT EXISTS FOR (n:L{i}) REQUIRE n.id IS UNIQUE",
            f"MERGE (n:L{i} {{id: 1}}) SET n.p = 'value {i}'"]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="dbinit-bench-"))
    for i in range(1, COUNT + 1):
        day = 1 + (i - 1) // 999
        (work / f"2025-01-{day:02d}-{(i - 1) % 999 + 1:03d}-step.cypher").write_text(
            ";\n".join(statements(i)) + ";\n")
    server = Neo4jServer().start()
    env = {"NEO4J_URI": server.uri(), "NEO4J_AUTH": f"neo4j/{server.password}", "DBINIT_MIGRATIONS": str(work)}

    def driver_floor() -> None:
        with server.driver() as driver, driver.session() as session:
            for i in range(1, COUNT + 1):
                for s in statements(i):
                    session.run(s).consume()
            session.run("CALL db.awaitIndexes(600)").consume()

    floors, mine, idle = [], [], []
    try:
        for _ in range(2):
            server.reset()
            floors.append(timed(driver_floor))
            server.reset()
            mine.append(timed(lambda: dbinit("migrate", env=env)))
            idle.append(timed(lambda: dbinit("migrate", env=env)))
    finally:
        server.remove()
    report(f"Neo4j: apply {COUNT} migrations (index, constraint, MERGE), best of 2",
           [("driver, one session, same statements", min(floors)), ("dbinit migrate", min(mine))],
           "driver, one session, same statements")
    print(f"\nNothing pending over {COUNT} applied: dbinit migrate, median of 2: {median(idle):.3f} s")


if __name__ == "__main__":
    main()
