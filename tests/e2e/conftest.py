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


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


# What a release build passes for the image's labels.
REVISION = git("rev-parse", "HEAD")
SOURCE = "https://example.invalid/dbinit.git"


def build(tag: str, context: Path, *build_args: str, check: bool = True) -> subprocess.CompletedProcess:
    # Builds fetch packages; containers have no route out, so the build uses the host's network.
    args = [a for arg in build_args for a in ("--build-arg", arg)]
    return subprocess.run(["docker", "build", "--network", "host", "-q", *args, "-t", tag, str(context)], check=check,
                          env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, capture_output=True,
                          text=True)


@pytest.fixture(scope="session")
def images():
    # the repository's own Dockerfile, unchanged
    build(IMAGES["dbinit"], ROOT, f"REVISION={REVISION}", f"SOURCE={SOURCE}")
    build(IMAGES["postgres"], STANDINS / "postgres")
    build(IMAGES["redis"], STANDINS / "redis")
    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp) / "neo4j"
        shutil.copytree(STANDINS / "neo4j", context)
        shutil.copytree(ROOT / "tests" / "neo4j-launcher" / "target", context / "target",
                        ignore=shutil.ignore_patterns("classes", "maven-*", "generated-*"))
        build(IMAGES["neo4j"], context)
    return IMAGES
