"""dbinit as users run it: the image against real servers, docker compose with its app gate,
and the Kubernetes manifests under podman kube play."""
import json
import os
import subprocess
import time
import uuid

import pytest

from conftest import ROOT, docker  # noqa: E402
from servers import Neo4jServer, PostgresServer, RedisServer


def test_the_image_runs_non_root_on_a_read_only_filesystem_against_real_servers(images, tmp_path):
    config = json.loads(docker("image", "inspect", images["dbinit"]).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/opt/dbinit/bin/dbinit"] and config["Cmd"] == ["migrate"]
    servers = [PostgresServer(), RedisServer(), Neo4jServer()]
    try:
        for s in servers:
            s.start()
        pg, rd, n4 = servers
        run = ["run", "--rm", "--network", "host", "--read-only",
               "-v", f"{ROOT / 'migrations'}:/migrations:ro", "-v", f"{ROOT / 'init'}:/init:ro",
               "-e", f"POSTGRES_URL={pg.url()}", "-e", f"REDIS_URL={rd.url()}", "-e", f"NEO4J_URI={n4.uri()}",
               "-e", f"NEO4J_AUTH=neo4j/{n4.password}", images["dbinit"]]
        first = docker(*run, check=False)
        assert first.returncode == 0, first.stderr
        assert "applied V001 add-session-tags" in first.stderr
        again = docker(*run, check=False)
        assert again.returncode == 0 and "up to date: 0 applied" in again.stderr
        assert pg.password not in first.stderr + again.stderr
    finally:
        for s in servers:
            s.remove()


class Compose:
    def __init__(self, images, **env):
        self.project = f"dbinit-e2e-{uuid.uuid4().hex[:8]}"
        self.env = {**os.environ, "POSTGRES_IMAGE": images["postgres"], "REDIS_IMAGE": images["redis"],
                    "NEO4J_IMAGE": images["neo4j"], "DBINIT_IMAGE": images["dbinit"], "APP_IMAGE": images["dbinit"],
                    **env}

    def __call__(self, *args, check=True, timeout=600):
        return subprocess.run(["docker-compose", "-p", self.project, *args], cwd=ROOT, env=self.env, check=check,
                              capture_output=True, text=True, timeout=timeout)

    def container(self, service: str) -> dict | None:
        ids = self("ps", "-a", "-q", service).stdout.split()
        return json.loads(docker("inspect", ids[0]).stdout)[0] if ids else None

    def wait_exit(self, service: str, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            c = self.container(service)
            if c and c["State"]["Status"] == "exited":
                return c
            assert time.monotonic() < deadline, f"{service} did not exit"
            time.sleep(1)

    def down(self):
        self("down", "-v", "--remove-orphans", check=False)


@pytest.fixture
def compose(images):
    made = []

    def make(**env):
        c = Compose(images, **env)
        made.append(c)
        return c

    yield make
    for c in made:
        c.down()


def test_compose_up_starts_the_app_only_after_dbinit_applied_everything(compose):
    c = compose()
    c("up", "-d")
    dbinit = c.wait_exit("dbinit")
    assert dbinit["State"]["ExitCode"] == 0, c("logs", "dbinit").stdout
    deadline = time.monotonic() + 60
    while "schema is current" not in c("logs", "app").stdout:
        assert time.monotonic() < deadline, c("logs", "app").stdout
        time.sleep(1)
    app = c.container("app")
    assert app["State"]["StartedAt"] > dbinit["State"]["FinishedAt"]
    again = c("run", "--rm", "dbinit", check=False)
    assert again.returncode == 0 and "up to date: 0 applied" in again.stdout + again.stderr


def test_a_failing_migration_keeps_the_app_from_starting_and_run_returns_its_exit_code(compose, tmp_path):
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "V001-broken-up.sql").write_text("ALTER TABLE no_such_table ADD COLUMN x int;\n")
    c = compose(DBINIT_MIGRATIONS_DIR=str(migrations))
    c("up", "-d", check=False)
    dbinit = c.wait_exit("dbinit")
    assert dbinit["State"]["ExitCode"] == 1
    assert "V001-broken-up.sql:1: SQLSTATE 42P01" in c("logs", "dbinit").stdout
    app = c.container("app")
    assert app is None or app["State"]["StartedAt"].startswith("0001-")  # created, never started
    again = c("run", "--rm", "dbinit", check=False)
    assert again.returncode == 1
