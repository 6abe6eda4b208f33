"""Images for the end-to-end tests, built once per run from the repository and local stand-ins."""
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STANDINS = Path(__file__).resolve().parent / "standins"
IMAGES = {"dbinit": "dbinit:e2e", "postgres": "dbinit-standin/postgres:e2e", "redis": "dbinit-standin/redis:e2e",
          "neo4j": "dbinit-standin/neo4j:e2e"}


def docker(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True, **kw)


def build(tag: str, context: Path) -> None:
    # Builds fetch packages; containers have no route out, so the build uses the host's network.
    subprocess.run(["docker", "build", "--network", "host", "-q", "-t", tag, str(context)], check=True,
                   env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, capture_output=True)


@pytest.fixture(scope="session")
def images():
    build(IMAGES["dbinit"], ROOT)  # the repository's own Dockerfile, unchanged
    build(IMAGES["postgres"], STANDINS / "postgres")
    build(IMAGES["redis"], STANDINS / "redis")
    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp) / "neo4j"
        shutil.copytree(STANDINS / "neo4j", context)
        shutil.copytree(ROOT / "tests" / "neo4j-launcher" / "target", context / "target",
                        ignore=shutil.ignore_patterns("classes", "maven-*", "generated-*"))
        build(IMAGES["neo4j"], context)
    return IMAGES
