"""The floors dbinit is measured against, each its own Python process reading the same variables
dbinit reads (POSTGRES_URL, NEO4J_URI, NEO4J_AUTH, REDIS_URL):

    floors.py neo4j-apply COUNT        the benchmark's Cypher statements in one driver session
    floors.py one-query DATABASE...    import each client library and send one trivial query
"""
import os
import sys

from workloads import neo4j_statements


def neo4j_driver():
    import neo4j

    user, password = os.environ["NEO4J_AUTH"].split("/", 1)
    return neo4j.GraphDatabase.driver(os.environ["NEO4J_URI"], auth=(user, password))


def neo4j_apply(count: int) -> None:
    with neo4j_driver() as driver, driver.session() as session:
        for i in range(1, count + 1):
            for statement in neo4j_statements(i):
                session.run(statement).consume()
        session.run("CALL db.awaitIndexes(600)").consume()


def one_query(databases: list[str]) -> None:
    if "postgres" in databases:
        import psycopg

        with psycopg.connect(os.environ["POSTGRES_URL"]) as conn:
            conn.execute("SELECT 1")
    if "neo4j" in databases:
        with neo4j_driver() as driver:
            driver.execute_query("RETURN 1")
    if "redis" in databases:
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).ping()


if __name__ == "__main__":
    if sys.argv[1] == "neo4j-apply":
        neo4j_apply(int(sys.argv[2]))
    else:
        one_query(sys.argv[2:])
