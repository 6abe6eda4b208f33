"""The image: what dbinit adds on top of its base, and a container's time from start to exit with
nothing pending (against the harness's PostgreSQL, Redis and Neo4j, all migrations applied).
Needs a Docker engine and the image built (scripts/e2e.sh builds dbinit:e2e). Each goal is judged
met or NOT met; `--check` exits 1 when one is not, naming it.

    .venv/bin/python bench/image.py [--check] [IMAGE]
"""
import argparse
import json
import subprocess
import sys
from datetime import datetime

from common import ROOT, Neo4jServer, PostgresServer, RedisServer, median, timed
from measure import goal

IMAGE_MB, DOCKER_RUN_S = 70, 1.0  # the goals: MB the image adds to its base; a `docker run` with nothing pending


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def size(image: str) -> int:
    return json.loads(docker("image", "inspect", image))[0]["Size"]


def seconds_between(start: str, end: str) -> float:
    def parse(t: str) -> datetime:
        whole, _, frac = t.rstrip("Z").partition(".")
        return datetime.fromisoformat(whole + "." + (frac + "000000")[:6])
    return (parse(end) - parse(start)).total_seconds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("image", nargs="?", default="dbinit:e2e")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is not met, naming each")
    args = parser.parse_args()
    image = args.image
    base = json.loads(docker("image", "inspect", image))[0]["Config"]["Labels"]["org.opencontainers.image.base.name"]
    added = size(image) - size(base)
    servers = [PostgresServer(), RedisServer(), Neo4jServer()]
    try:
        for s in servers:
            s.start()
        pg, rd, n4 = servers
        run = ["run", "--network", "host", "--read-only", "-v", f"{ROOT / 'migrations'}:/migrations:ro",
               "-v", f"{ROOT / 'init'}:/init:ro", "-e", f"POSTGRES_URL={pg.url()}", "-e", f"REDIS_URL={rd.url()}",
               "-e", f"NEO4J_URI={n4.uri()}", "-e", f"NEO4J_AUTH=neo4j/{n4.password}"]
        docker(*run, "--rm", image)  # applies everything; the runs below find nothing pending
        inside, outside = [], []
        for i in range(5):
            name = f"dbinit-bench-{i}"
            outside.append(timed(lambda: docker(*run, "--name", name, image)))
            state = json.loads(docker("inspect", name))[0]["State"]
            inside.append(seconds_between(state["StartedAt"], state["FinishedAt"]))
            docker("rm", name)
    finally:
        for s in servers:
            s.remove()
    lines = [goal(f"image {image}: MB added on top of {base}", added / 1e6, IMAGE_MB, " MB"),
             goal("nothing pending, all three databases: the whole 'docker run' command, median of 5",
                  median(outside), DOCKER_RUN_S, " s")]
    print(*lines, f"  (the container itself, start to exit: {median(inside):.2f} s)", sep="\n")
    unmet = [line for line in lines if line.endswith("— NOT met")]
    if args.check and unmet:
        print(f"bench: {len(unmet)} goal(s) not met:", *unmet, sep="\n", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
