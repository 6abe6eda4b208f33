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

    def fresh_server_run(contender: str) -> float:
        """Each measurement on a fresh server: Neo4j slows down as its schema grows and after mass
        drops, so reusing one server favours whoever runs first."""
        server = Neo4jServer(quick_jit=False).start()
        env = {"NEO4J_URI": server.uri(), "NEO4J_AUTH": f"neo4j/{server.password}", "DBINIT_MIGRATIONS": str(work)}
        try:
            if contender == "dbinit":
                seconds = timed(lambda: dbinit("migrate", env=env))
                idle.append(timed(lambda: dbinit("migrate", env=env)))
                return seconds
            with server.driver() as driver, driver.session() as session:
                def floor() -> None:
                    for i in range(1, COUNT + 1):
                        for s in statements(i):
                            session.run(s).consume()
                    session.run("CALL db.awaitIndexes(600)").consume()
                return timed(floor)
        finally:
            server.remove()

    idle: list[float] = []
    runs = {"driver": [], "dbinit": []}
    for order in (("driver", "dbinit"), ("dbinit", "driver")):
        for contender in order:
            runs[contender].append(fresh_server_run(contender))
    report(f"Neo4j: apply {COUNT} migrations (index, constraint, MERGE), each on a fresh server, best of 2",
           [("driver, one session, same statements", min(runs["driver"])), ("dbinit migrate", min(runs["dbinit"]))],
           "driver, one session, same statements")
    print(f"\nNothing pending over {COUNT} applied: dbinit migrate, median of 2: {median(idle):.3f} s")


if __name__ == "__main__":
    main()
