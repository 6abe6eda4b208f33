"""The image: what dbinit adds on top of its base, and a container's time from start to exit with
nothing pending (against the harness's PostgreSQL, Redis and Neo4j, all migrations applied).
Needs a Docker engine and the image built (scripts/e2e.sh builds dbinit:e2e).

    .venv/bin/python bench/image.py [IMAGE]
"""
import json
import subprocess
import sys
from datetime import datetime

from common import ROOT, Neo4jServer, PostgresServer, RedisServer, median, timed

IMAGE = sys.argv[1] if len(sys.argv) > 1 else "dbinit:e2e"


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def size(image: str) -> int:
    return json.loads(docker("image", "inspect", image))[0]["Size"]


def seconds_between(start: str, end: str) -> float:
    def parse(t: str) -> datetime:
        whole, _, frac = t.rstrip("Z").partition(".")
        return datetime.fromisoformat(whole + "." + (frac + "000000")[:6])
    return (parse(end) - parse(start)).total_seconds()


def main() -> None:
    base = json.loads(docker("image", "inspect", IMAGE))[0]["Config"]["Labels"]["org.opencontainers.image.base.name"]
    added = size(IMAGE) - size(base)
    servers = [PostgresServer(), RedisServer(), Neo4jServer()]
    try:
        for s in servers:
            s.start()
        pg, rd, n4 = servers
        run = ["run", "--network", "host", "--read-only", "-v", f"{ROOT / 'migrations'}:/migrations:ro",
               "-v", f"{ROOT / 'init'}:/init:ro", "-e", f"POSTGRES_URL={pg.url()}", "-e", f"REDIS_URL={rd.url()}",
               "-e", f"NEO4J_URI={n4.uri()}", "-e", f"NEO4J_AUTH=neo4j/{n4.password}"]
        docker(*run, "--rm", IMAGE)  # applies everything; the runs below find nothing pending
        inside, outside = [], []
        for i in range(5):
            name = f"dbinit-bench-{i}"
            outside.append(timed(lambda: docker(*run, "--name", name, IMAGE)))
            state = json.loads(docker("inspect", name))[0]["State"]
            inside.append(seconds_between(state["StartedAt"], state["FinishedAt"]))
            docker("rm", name)
    finally:
        for s in servers:
            s.remove()
    print(f"image {IMAGE}: {added / 1e6:.1f} MB added on top of {base} (goal: under 70 MB)")
    print(f"nothing pending, all three databases: container start to exit, median of 5: {median(inside):.2f} s; "
          f"whole 'docker run' command: {median(outside):.2f} s (goal: under 1 s)")


if __name__ == "__main__":
    main()
