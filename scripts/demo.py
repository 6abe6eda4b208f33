"""No-Docker demo: start local PostgreSQL, Redis and Neo4j from the test harness, run dbinit
against them as a user would (migrate, migrate again, status), then stop them.

    scripts/setup.sh && .venv/bin/python scripts/demo.py
"""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import Neo4jServer, PostgresServer, RedisServer  # noqa: E402


def main() -> int:
    print("starting PostgreSQL, Redis and Neo4j on free loopback ports (Neo4j takes about 10 s)...")
    servers = [PostgresServer(), RedisServer(), Neo4jServer()]
    try:
        for s in servers:
            s.start()
        pg, redis, neo4j = servers
        env = {**os.environ, "POSTGRES_URL": pg.url(), "REDIS_URL": redis.url(), "NEO4J_URI": neo4j.uri(),
               "NEO4J_AUTH": f"neo4j/{neo4j.password}", "DBINIT_MIGRATIONS": str(ROOT / "migrations")}
        for command in (["migrate"], ["migrate"], ["status"]):
            print(f"\n$ dbinit {' '.join(command)}", flush=True)
            code = subprocess.run([sys.executable, str(ROOT / "entrypoint.py"), *command], env=env).returncode
            if code != 0:
                return code
        return 0
    finally:
        for s in servers:
            s.remove()


if __name__ == "__main__":
    sys.exit(main())
