"""dbinit as users run it: the image against real servers, docker compose with its app gate,
and the Kubernetes manifests under podman kube play."""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from dotenv import dotenv_values

from conftest import REVISION, ROOT, SOURCE, build, docker  # noqa: E402
from examples import block, shell_commands
from servers import Neo4jServer, PostgresServer, RedisServer, free_port, wait_for


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


VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def inside(image: str, *command: str) -> str:
    return docker("run", "--rm", "--network", "none", "--entrypoint", command[0], image, *command[1:]).stdout


def test_the_image_is_labelled_with_its_version_commit_source_and_base(images):
    labels = json.loads(docker("image", "inspect", images["dbinit"]).stdout)[0]["Config"]["Labels"]
    assert {k.removeprefix("org.opencontainers.image."): v for k, v in labels.items()} == {
        "title": "dbinit", "version": VERSION, "revision": REVISION, "source": SOURCE,
        "base.name": "debian:trixie-slim",
        "description": "Waits for Neo4j, PostgreSQL and Redis, applies pending migrations, exits."}
    assert inside(images["dbinit"], "python3", "-c", "import sys; print(sys.version_info[:2])") == "(3, 13)\n"


def test_the_sbom_in_the_image_is_valid_cyclonedx_listing_every_package_the_image_holds(images):
    text = inside(images["dbinit"], "cat", "/opt/dbinit/sbom.cdx.json")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    sbom = json.loads(text)
    subject = sbom["metadata"]["component"]
    assert (subject["type"], subject["name"], subject["version"]) == ("container", "dbinit", VERSION)
    listed = {(c["purl"].split("/")[0], c["name"], c["version"]) for c in sbom["components"]}
    debian = inside(images["dbinit"], "dpkg-query", "-W", "-f", "${Package} ${Version}\n").splitlines()
    python = inside(images["dbinit"], "/opt/dbinit/bin/python", "-c", "import importlib.metadata as m\n"
                    "for d in m.distributions(): print(d.metadata['Name'], d.version)").splitlines()
    assert {("pkg:deb", *line.split()) for line in debian} | {
        ("pkg:pypi", *line.split()) for line in python if not line.startswith("dbinit ")} == listed
    assert {"python3-minimal", "libssl3t64"} <= {name for kind, name, _ in listed if kind == "pkg:deb"}
    assert {"psycopg", "neo4j", "redis"} <= {name for kind, name, _ in listed if kind == "pkg:pypi"}
    # Every component says its licence: what a licence scanner reads before a rollout.
    declared = {c["name"]: [entry.get("expression") or entry["license"].get("id") or entry["license"]["name"]
                            for entry in c.get("licenses", [])] for c in [subject, *sbom["components"]]}
    assert not [name for name, licences in declared.items() if not licences or "unknown" in licences]
    assert declared["dbinit"] == ["Apache-2.0"] and declared["pglast"] == ["GPL-3.0-or-later"]
    assert declared["psycopg"] == ["LGPL-3.0-only"]
    assert "Zlib" in declared["zlib1g"]  # read from its machine-readable copyright file


def test_a_package_that_differs_from_its_locked_hash_fails_the_build(images, tmp_path):
    context = tmp_path / "context"
    shutil.copytree(ROOT, context, ignore=shutil.ignore_patterns(".git", ".venv", "tests", "bench", "deploy", "build",
                                                                 ".tools", ".mypy_cache", "*.egg-info"))
    lock = context / "requirements.lock"
    text = lock.read_text()
    tenacity = text[text.index("tenacity=="):]
    tenacity = tenacity[:tenacity.index("# via")]
    lock.write_text(text.replace(tenacity, re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, tenacity)))
    refused = build("dbinit:e2e-tampered", context, check=False)
    assert refused.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in refused.stderr + refused.stdout
    assert "tenacity" in refused.stderr + refused.stdout


class Compose:
    def __init__(self, images, cwd: Path = ROOT, **env):
        self.project, self.cwd = f"dbinit-e2e-{uuid.uuid4().hex[:8]}", cwd
        self.env = {**os.environ, "POSTGRES_IMAGE": images["postgres"], "REDIS_IMAGE": images["redis"],
                    "NEO4J_IMAGE": images["neo4j"], "DBINIT_IMAGE": images["dbinit"], "APP_IMAGE": images["dbinit"],
                    **env}

    def __call__(self, *args, check=True, timeout=600):
        return subprocess.run(["docker-compose", "-p", self.project, *args], cwd=self.cwd, env=self.env, check=check,
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

    def make(cwd: Path = ROOT, **env):
        c = Compose(images, cwd, **env)
        made.append(c)
        return c

    yield make
    for c in made:
        c.down()


def test_compose_up_starts_the_app_only_after_dbinit_applied_everything(compose, tmp_path):
    migrations = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", migrations)
    c = compose(DBINIT_MIGRATIONS_DIR=str(migrations))
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

    # The post-deploy service starts once the app is healthy; the next release's post-deploy file
    # waits for it, not for dbinit.
    post = c.wait_exit("dbinit-post-deploy")
    assert post["State"]["ExitCode"] == 0 and post["State"]["StartedAt"] > app["State"]["StartedAt"]
    (migrations / "V002-drop-legacy-up.sql").write_text("-- dbinit: post-deploy\nDROP TABLE IF EXISTS legacy;\n")
    deploy = c("run", "--rm", "--no-deps", "dbinit", check=False)
    assert deploy.returncode == 0 and "left for the post-deploy run" in deploy.stdout + deploy.stderr
    after = c("run", "--rm", "--no-deps", "dbinit-post-deploy", check=False)
    assert after.returncode == 0 and "applied V002 drop-legacy (post-deploy)" in after.stdout + after.stderr


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


def _shims(directory: Path, project: str) -> dict[str, str]:
    """What the documentation's shell lines expect on PATH: `dbinit` (the package of this checkout,
    as the quick start's `pip install .` gives it) and `docker compose` (here docker-compose, in a
    project of the test's own)."""
    directory.mkdir()
    (directory / "dbinit").write_text(f'#!/bin/sh\nexec {sys.executable} -m dbinit "$@"\n')
    (directory / "docker").write_text(f'#!/bin/sh\nif [ "$1" = compose ]; then shift; exec docker-compose -p {project} "$@"; '
                                      f'fi\nexec {shutil.which("docker")} "$@"\n')
    for shim in directory.iterdir():
        shim.chmod(0o755)
    return {"PATH": f"{directory}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT), "HOME": str(directory.parent)}


def _run_block(title: str, cwd: Path, env: dict[str, str], page: str | None = None,
               skip: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """A documentation block's shell lines, as pasted (with `set -e`), but for the lines `skip` names."""
    script = block(title, page).text
    for command in shell_commands(script):
        if command.startswith(skip):
            script = script.replace(command, ":")
    return subprocess.run(["bash", "-euc", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _normalised(line: str) -> str:
    """A log line without its time stamp and durations."""
    line = line.split("| ", 1)[1] if " | " in line else line
    line = re.sub(r"^\d{4}-\d\d-\d\dT[\d:]+Z ", "", line.strip())
    return re.sub(r"\d+(\.\d+)? (s|ms)\b", "N \\2", line)


def _pasted(compose, images, tmp_path, page: str) -> tuple[Compose, Path, dict[str, str]]:
    """A page's compose.yaml in an empty project, as a newcomer pastes it (the public images swapped
    for the local ones), and what its shell lines expect on PATH."""
    project = tmp_path / "project"
    project.mkdir()
    text = block("compose.yaml", page).text
    swaps = {"postgres:16": images["postgres"], "neo4j:5": images["neo4j"], "redis:7": images["redis"],
             "dbinit:0.2.0": images["dbinit"], "your-app:latest": images["redis"]}
    for public, local in swaps.items():
        text = text.replace(f"image: {public}\n", f"image: {local}\n")
    assert "image: dbinit-standin/" in text and f"image: {images['dbinit']}" in text
    (project / "compose.yaml").write_text(text)
    c = compose(cwd=project)
    env = _shims(tmp_path / "bin", c.project)
    c.env.update(env)
    return c, project, env


def _started_after(c: Compose, dbinit: dict) -> None:
    app = c.container("app")
    assert app["State"]["Running"] and app["State"]["StartedAt"] > dbinit["State"]["FinishedAt"]


def test_the_readme_quick_start_pasted_into_a_project_migrates_then_starts_the_app(compose, images, tmp_path):
    """The README's quick start as a newcomer pastes it: its compose file in an empty project, its
    shell lines, and the log it says they show."""
    c, project, env = _pasted(compose, images, tmp_path, "README.md")
    pasted = _run_block("in your project", project, env, "README.md")
    assert pasted.returncode == 0, pasted.stderr
    dbinit = c.wait_exit("dbinit")
    logs = c("logs", "--no-color", "dbinit").stdout
    assert dbinit["State"]["ExitCode"] == 0, logs
    shown = [_normalised(line) for line in block("docker compose logs dbinit").text.splitlines()]
    seen = [_normalised(line) for line in logs.splitlines()]
    position = 0
    for line in shown:  # every line the README shows, in its order, among the real ones
        assert line in seen[position:], f"{line!r} not in {seen[position:]}"
        position = seen.index(line, position) + 1
    _started_after(c, dbinit)


def test_the_compose_guide_s_file_migrates_all_three_databases_then_starts_the_app(compose, images, tmp_path):
    c, project, _ = _pasted(compose, images, tmp_path, "docs/guides/compose.md")
    for title in ("migrations/neo4j/2025-01-15-001-add-user-email.cypher",
                  "migrations/redis/V001-seed-feature-flags.redis"):  # the migrations guide's examples
        (project / title).parent.mkdir(parents=True)
        (project / title).write_text(block(title).text)
    (project / "migrations" / "postgres").mkdir()
    (project / "migrations" / "postgres" / "V001-create-users-up.sql").write_text("CREATE TABLE users (id int);\n")
    c("up", "-d")
    dbinit = c.wait_exit("dbinit")
    logs = c("logs", "--no-color", "dbinit").stdout
    assert dbinit["State"]["ExitCode"] == 0, logs
    for line in ("postgres: applied V001 create-users", "neo4j: applied 2025-01-15-001 add-user-email",
                 "redis: applied V001 seed-feature-flags"):
        assert line in logs, logs
    _started_after(c, dbinit)


def test_a_newcomers_laptop_session_with_env_create_new_migrate_and_json_status(compose, tmp_path):
    """The laptop guide's blocks as written: the databases from compose with their ports on
    loopback, its `.env` in an empty project (this run's ports), and its session's lines, dbinit
    from the Python package with nothing exported but PATH."""
    ports = {"LOCAL_POSTGRES_PORT": (5432, free_port()), "LOCAL_NEO4J_PORT": (7687, free_port()),
             "LOCAL_REDIS_PORT": (6379, free_port())}
    c = compose(**{k: str(v[1]) for k, v in ports.items()})
    env = _shims(tmp_path / "bin", c.project)
    started = _run_block("the databases", ROOT, {**c.env, **env}, skip=("pip install",))
    assert started.returncode == 0, started.stderr
    project = tmp_path / "project"
    project.mkdir()
    dotenv = block(".env").text
    for documented, port in ports.values():
        assert f"127.0.0.1:{documented}" in dotenv
        dotenv = dotenv.replace(f"127.0.0.1:{documented}", f"127.0.0.1:{port}")
    (project / ".env").write_text(dotenv)

    session = _run_block("a session", project, env)
    assert session.returncode == 0, session.stderr
    assert "read POSTGRES_URL, NEO4J_URI, NEO4J_AUTH, REDIS_URL, DBINIT_WAIT_TIMEOUT from .env" in session.stderr
    assert session.stderr.count("postgres: created the database app_dev") == 2  # before and after the drop
    assert "postgres: dropped the database app_dev" in session.stderr
    assert session.stderr.count("applied V001 add-users") == 2
    assert "change-me" not in session.stderr  # secrets from .env are masked too
    status = subprocess.run(["dbinit", "status", "--format", "json"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=300)
    document = json.loads(status.stdout)
    jsonschema.validate(document, json.loads((ROOT / "dbinit" / "status.schema.json").read_text()))
    assert document["up_to_date"] is True
    assert [m["status"] for m in document["databases"]["postgres"]["migrations"]] == ["Applied"]
    assert set(document["databases"]) == {"postgres", "neo4j", "redis"}


def test_the_backup_example_s_image_dumps_postgresql_before_a_migration(images, tmp_path):
    """Running it well: the Dockerfile derived from dbinit's with pg_dump, and the hook that uses it."""
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = block("Dockerfile").text
    assert dockerfile.startswith("FROM dbinit:0.2.0\n")
    (context / "Dockerfile").write_text(dockerfile.replace("FROM dbinit:0.2.0", f"FROM {images['dbinit']}", 1))
    build("dbinit-e2e/backup:e2e", context)
    hook = dotenv_values(stream=io.StringIO(block("environment", "docs/guides/operations.md").text))
    backups, migrations = tmp_path / "backups", tmp_path / "migrations"
    backups.mkdir()
    backups.chmod(0o777)  # the image's user 10001 writes there
    migrations.mkdir()
    (migrations / "V001-add-users-up.sql").write_text("CREATE TABLE users (id int);\n")
    pg = PostgresServer().start()
    try:
        ran = docker("run", "--rm", "--network", "host", "--read-only", "-v", f"{backups}:/backups",
                     "-v", f"{migrations}:/migrations:ro", "-e", f"POSTGRES_URL={pg.url()}",
                     "-e", f"DBINIT_BEFORE_MIGRATE={hook['DBINIT_BEFORE_MIGRATE']}", "dbinit-e2e/backup:e2e",
                     check=False)
        assert ran.returncode == 0, ran.stderr
        assert "applied V001 add-users" in ran.stderr
        dumps = list(backups.glob("*.dump"))
        assert len(dumps) == 1 and dumps[0].read_bytes().startswith(b"PGDMP")
    finally:
        pg.remove()


def _configmap(name: str, directory) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {p.name: p.read_text() for p in sorted(directory.iterdir()) if p.is_file()}}


def _pod_from_deployment(name: str, image: str, env: dict[str, str], manifest: str = "deployment.yaml") -> dict:
    """The Deployment's pod template as a Pod, pointed at this machine's servers and images."""
    import yaml

    deployment = yaml.safe_load((ROOT / "deploy" / "kubernetes" / manifest).read_text())
    spec = deployment["spec"]["template"]["spec"]
    dbinit = spec["initContainers"][0]
    dbinit["image"] = image
    dbinit["env"] = [e for e in dbinit["env"] if "valueFrom" in e] + [{"name": k, "value": v} for k, v in env.items()]
    spec["containers"][0].update(image=image, command=[
        "/opt/dbinit/bin/python", "-c", "import time; print('app started', flush=True); time.sleep(3600)"])
    # podman 4.3 removes a finished "once" init container and can trip over it still running:
    # keep it ("always"), which also keeps its logs for the test.
    annotations = {"io.podman.annotations.init.container.type": "always"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "app"},
                                                            "annotations": annotations}, "spec": spec}


def test_three_pods_from_the_kubernetes_deployment_race_and_apply_each_migration_once(images, tmp_path):
    """podman kube play runs the manifest's initContainer for real: non-root, read-only root
    filesystem, credentials from a Secret (a podman secret: podman 4.3 reads secretKeyRef from
    there), migrations and init scripts from ConfigMaps."""
    import yaml

    subprocess.run(f"docker save {images['dbinit']} | podman load -q", shell=True, check=True, capture_output=True)
    image = f"localhost/{images['dbinit']}"
    servers = [PostgresServer(), RedisServer(), Neo4jServer()]
    pods = [f"dbinit-e2e-{i}" for i in range(3)]
    try:
        for s in servers:
            s.start()
        pg, rd, n4 = servers
        secret = _podman_secret(tmp_path, pg, rd, n4)
        configmaps = []
        for name, directory in (("app-migrations", ROOT / "migrations"), ("app-init", ROOT / "init")):
            configmaps += ["--configmap", str(tmp_path / f"{name}.yaml")]
            (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(_configmap(name, directory)))
        env = {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(pg.port), "POSTGRES_DB": "postgres",
               "NEO4J_URI": n4.uri(), "REDIS_URL": f"redis://127.0.0.1:{rd.port}/0"}
        plays = []
        for name in pods:
            manifest = tmp_path / f"{name}.yaml"
            manifest.write_text(yaml.safe_dump(_pod_from_deployment(name, image, env)))
            plays.append(subprocess.Popen(["podman", "kube", "play", "--network", "host", *configmaps, str(manifest)],
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        for play in plays:
            assert play.wait(300) == 0, play.stdout.read()
        logs = ""
        for name in pods:
            logs += _app_started(name)
        assert logs.count("applied V001 add-session-tags") == 1
        assert logs.count("applied 2025-01-15-001") == 1 and logs.count("applied V001 session-key-layout") == 1
        assert pg.psql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "2"
        assert all(secret_value not in logs for secret_value in secret.values())
        user = subprocess.run(["podman", "inspect", f"{pods[0]}-dbinit", "--format",
                               "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}"], capture_output=True, text=True)
        assert user.stdout.split() == ["10001:10001", "true"]
    finally:
        _remove(pods, servers)


def test_the_readme_kubernetes_quick_start_gates_the_app_on_its_init_container(images, tmp_path):
    """The README's Deployment under podman kube play: its ConfigMap of migrations and its Secret
    with the URL as its kubectl lines make them, its initContainer as written (the image and the
    app swapped for local ones, the database at this machine's server)."""
    import base64

    import yaml

    subprocess.run(f"docker save {images['dbinit']} | podman load -q", shell=True, check=True, capture_output=True)
    deployment = yaml.safe_load(block("deployment.yaml", "README.md").text)
    spec = deployment["spec"]["template"]["spec"]
    assert spec["initContainers"][0]["image"] == "registry.example/dbinit:0.2.0"
    spec["initContainers"][0]["image"] = f"localhost/{images['dbinit']}"
    spec["containers"][0].update(image=f"localhost/{images['dbinit']}", command=[
        "/opt/dbinit/bin/python", "-c", "import time; print('app started', flush=True); time.sleep(3600)"])
    pod = {"apiVersion": "v1", "kind": "Pod", "spec": spec, "metadata": {
        "name": "dbinit-quick", "annotations": {"io.podman.annotations.init.container.type": "always"}}}
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod))
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "V001-create-users-up.sql").write_text("CREATE TABLE users (id bigint PRIMARY KEY);\n")
    (tmp_path / "configmap.yaml").write_text(yaml.safe_dump(_configmap("app-migrations", migrations)))
    pg = PostgresServer()
    try:
        pg.start()
        url = pg.url()
        (tmp_path / "secret.json").write_text(json.dumps({"POSTGRES_URL": base64.b64encode(url.encode()).decode()}))
        subprocess.run(["podman", "secret", "rm", "app-databases"], capture_output=True)
        subprocess.run(["podman", "secret", "create", "app-databases", str(tmp_path / "secret.json")], check=True,
                       capture_output=True)
        played = subprocess.run(["podman", "kube", "play", "--network", "host", "--configmap",
                                 str(tmp_path / "configmap.yaml"), str(tmp_path / "pod.yaml")],
                                capture_output=True, text=True, timeout=300)
        assert played.returncode == 0, played.stdout + played.stderr
        logs = _app_started("dbinit-quick")
        assert "postgres: applied V001 create-users" in logs
        assert pg.psql("SELECT count(*) FROM users") == "0"
    finally:
        _remove(["dbinit-quick"], [pg])


def _remove(pods: list[str], servers: list) -> None:
    for name in pods:
        subprocess.run(["podman", "pod", "rm", "-f", name], capture_output=True)
    subprocess.run(["podman", "secret", "rm", "app-databases"], capture_output=True)
    # the ConfigMaps' volumes, which podman keeps after their pods
    subprocess.run(["podman", "volume", "rm", "-f", "app-migrations", "app-init", "shop-dbinit-migrations",
                    "shop-dbinit-init"], capture_output=True)
    for s in servers:
        s.remove()


def _app_started(name: str) -> str:
    """Wait until the pod's app container has started (after its dbinit initContainer); dbinit's log."""
    deadline = time.monotonic() + 120
    while "app started" not in subprocess.run(["podman", "logs", f"{name}-app"], capture_output=True,
                                              text=True).stdout:
        assert time.monotonic() < deadline, subprocess.run(["podman", "logs", f"{name}-dbinit"],
                                                           capture_output=True, text=True).stderr
        time.sleep(1)
    return subprocess.run(["podman", "logs", f"{name}-dbinit"], capture_output=True, text=True).stderr


def _podman_secret(tmp_path, pg, rd, n4) -> dict[str, str]:
    """The app-databases Secret as podman 4.3 reads secretKeyRef: a JSON map of base64 values."""
    import base64

    secret = {"POSTGRES_PASSWORD": pg.password, "NEO4J_AUTH": f"neo4j/{n4.password}", "REDIS_PASSWORD": rd.password}
    (tmp_path / "secret.json").write_text(json.dumps({k: base64.b64encode(v.encode()).decode() for k, v in secret.items()}))
    subprocess.run(["podman", "secret", "rm", "app-databases"], capture_output=True)
    subprocess.run(["podman", "secret", "create", "app-databases", str(tmp_path / "secret.json")], check=True,
                   capture_output=True)
    return secret


def test_the_helm_hook_job_migrates_and_pods_that_wait_start_only_then(images, tmp_path):
    """The chart's rendered hook Job (as a Pod: podman 4.3 plays no Jobs) migrates; pods from
    deployment-waits.yaml, started first, wait with `dbinit wait --migrated` and start after it."""
    import yaml

    subprocess.run(f"docker save {images['dbinit']} | podman load -q", shell=True, check=True, capture_output=True)
    image = f"localhost/{images['dbinit']}"
    servers = [PostgresServer(), RedisServer(), Neo4jServer()]
    pods = ["dbinit-e2e-waits-0", "dbinit-e2e-waits-1", "dbinit-e2e-hook"]
    try:
        for s in servers:
            s.start()
        pg, rd, n4 = servers
        secret = _podman_secret(tmp_path, pg, rd, n4)
        env = {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(pg.port), "POSTGRES_USER": "postgres",
               "POSTGRES_DB": "postgres", "NEO4J_URI": n4.uri(), "REDIS_URL": f"redis://127.0.0.1:{rd.port}/0"}
        values = {"image": {"repository": image.rsplit(":", 1)[0], "tag": image.rsplit(":", 1)[1]},
                  "env": {**env, "DBINIT_WAIT_TIMEOUT": "120"},
                  "migrations": {"files": {p.name: p.read_text() for p in sorted((ROOT / "migrations").iterdir())
                                           if p.suffix in (".sql", ".cypher", ".redis")},
                                 "initFiles": {p.name: p.read_text() for p in sorted((ROOT / "init").iterdir())}}}
        release_1 = _render(tmp_path / "release-1", values)
        configmaps = list(release_1[1])
        for name, directory in (("app-migrations", ROOT / "migrations"), ("app-init", ROOT / "init")):
            configmaps += ["--configmap", str(tmp_path / f"{name}.yaml")]
            (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(_configmap(name, directory)))

        for name in pods[:2]:  # the application's pods come first and wait
            manifest = tmp_path / f"{name}.yaml"
            manifest.write_text(yaml.safe_dump(_pod_from_deployment(name, image, env, "deployment-waits.yaml")))
            subprocess.Popen(["podman", "kube", "play", "--network", "host", *configmaps, str(manifest)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name in pods[:2]:  # each initContainer says it waits for migrations nobody has applied yet
            wait_for(lambda: "waiting for migrations applied elsewhere" in subprocess.run(
                ["podman", "logs", f"{name}-dbinit"], capture_output=True, text=True).stderr, 120,
                f"{name}'s dbinit never said it waits")
            assert "app started" not in subprocess.run(["podman", "logs", f"{name}-app"], capture_output=True,
                                                       text=True).stdout

        hook_log = _run_job(release_1, "shop-dbinit", pods[2])
        assert "applied V001 add-session-tags" in hook_log and "applied 2025-01-15-001" in hook_log

        for name in pods[:2]:
            waited = _app_started(name)
            assert "up to date with the migrations" in waited and not re.search(r"INFO \w+: applied ", waited)
            # Its first run waited quietly: one line a database, then progress lines (podman runs an
            # "always" init container again and again afterwards; each of those finds nothing pending).
            first = waited.split("up to date with the migrations")[0]
            assert first.count("waiting for postgresql://") == 1 and "waiting for migrations applied elsewhere" in first
            assert all(value not in waited for value in secret.values())
        assert pg.psql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "2"

        # Release 2 brings a post-deploy migration: the pre-upgrade Job leaves it, the post-upgrade
        # Job applies it; `helm rollback` to release 1 runs release 1's pre-rollback Job, which
        # reverts it from the down script kept in the history.
        comment = "SELECT coalesce(obj_description('archived_sessions'::regclass), 'none')"
        release_2 = {**values["migrations"]["files"],
                     "V002-release-2-up.sql": "-- dbinit: post-deploy\nCOMMENT ON TABLE archived_sessions IS 'r2';\n",
                     "V002-release-2-down.sql": "COMMENT ON TABLE archived_sessions IS NULL;\n"}
        upgrade = _render(tmp_path / "release-2", {**values, "migrations": {**values["migrations"], "files": release_2}})
        assert "left for the post-deploy run" in _run_job(upgrade, "shop-dbinit", "dbinit-e2e-upgrade")
        assert pg.psql(comment) == "none"
        assert "applied V002 release-2 (post-deploy)" in _run_job(upgrade, "shop-dbinit-post-deploy",
                                                                  "dbinit-e2e-post-deploy")
        assert pg.psql(comment) == "r2"
        back = _run_job(release_1, "shop-dbinit-rollback", "dbinit-e2e-rollback")
        assert "reverted V002 release-2" in back and pg.psql(comment) == "none"
        assert pg.psql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "2"
    finally:
        _remove(pods + ["dbinit-e2e-upgrade", "dbinit-e2e-post-deploy", "dbinit-e2e-rollback"], servers)


def test_a_two_mib_migration_set_ships_through_the_chart_as_an_archive_and_applies(images, tmp_path):
    """Three years of files (600, some 2 MiB: more than a ConfigMap holds as text): `dbinit archive
    values.json` packs them, the chart ships them as a binaryData ConfigMap, and its hook Job (as a
    Pod, on a read-only root filesystem) reads the archive in place and applies every file."""
    import base64

    sys.path.insert(0, str(ROOT / "bench"))
    from workloads import write_long_lived

    subprocess.run(f"docker save {images['dbinit']} | podman load -q", shell=True, check=True, capture_output=True)
    image = f"localhost/{images['dbinit']}"
    server = PostgresServer()
    pod = "dbinit-e2e-archive"
    try:
        server.start()
        files = write_long_lived(tmp_path / "large", 600)
        assert sum(f.stat().st_size for f in files) > 2_000_000
        packed = subprocess.run([sys.executable, "-m", "dbinit", "archive", str(tmp_path / "values.json"),
                                 "--migrations", str(tmp_path / "large")], capture_output=True, text=True)
        assert packed.returncode == 0, packed.stderr
        (tmp_path / "secret.json").write_text(json.dumps(
            {"POSTGRES_PASSWORD": base64.b64encode(server.password.encode()).decode()}))
        subprocess.run(["podman", "secret", "rm", "app-databases"], capture_output=True)
        subprocess.run(["podman", "secret", "create", "app-databases", str(tmp_path / "secret.json")], check=True,
                       capture_output=True)
        values = {"image": {"repository": image.rsplit(":", 1)[0], "tag": image.rsplit(":", 1)[1]},
                  "env": {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(server.port), "POSTGRES_USER": "postgres",
                          "POSTGRES_DB": "postgres", "DBINIT_LINT": "off"},
                  "credentials": {"existingSecret": "app-databases",
                                  # null: Helm drops the chart's default keys for the other two databases
                                  "keys": {"POSTGRES_PASSWORD": "POSTGRES_PASSWORD", "NEO4J_AUTH": None,
                                           "REDIS_PASSWORD": None}},
                  "migrations": json.loads((tmp_path / "values.json").read_text())["migrations"]}
        rendered = _render(tmp_path / "release", values)
        assert any("binaryData" in d for d in rendered[0] if d["kind"] == "ConfigMap")
        log = _run_job(rendered, "shop-dbinit", pod)
        assert "applied V0600 step-600" in log and "up to date: 600 applied" in log
        assert "/migrations/migrations.tar.gz/V0001-step-1-up.sql" not in log  # nothing to say about a file
        assert server.psql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "600"
    finally:
        _remove([pod], [server])


def _render(directory: Path, values: dict) -> tuple[list[dict], list[str]]:
    """The chart rendered with `values`: its documents, and its ConfigMaps as podman's --configmap options."""
    import yaml

    directory.mkdir()
    (directory / "values.yaml").write_text(yaml.safe_dump(values))
    rendered = subprocess.run([str(ROOT / ".tools" / "bin" / "helm"), "template", "shop",
                               str(ROOT / "deploy" / "helm" / "dbinit"), "-f", str(directory / "values.yaml")],
                              check=True, capture_output=True, text=True).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    configmaps = []
    for cm in (d for d in docs if d["kind"] == "ConfigMap"):
        path = directory / f"{cm['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(cm))
        configmaps += ["--configmap", str(path)]
    return docs, configmaps


def _run_job(rendered: tuple[list[dict], list[str]], job_name: str, pod_name: str) -> str:
    """A rendered Job's pod played by podman (4.3 plays no Jobs) to its end: its log; exit 0 asserted."""
    import yaml

    docs, configmaps = rendered
    # podman keeps a ConfigMap's volume from an earlier play: this release's files need a new one
    subprocess.run(["podman", "volume", "rm", "-f", *(d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap")],
                   capture_output=True)
    job = next(d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == job_name)
    manifest = Path(configmaps[-1]).parent / f"{pod_name}.yaml"
    manifest.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name},
                                        "spec": job["spec"]["template"]["spec"]}))
    play = subprocess.run(["podman", "kube", "play", "--network", "host", *configmaps, str(manifest)],
                          capture_output=True, text=True, timeout=300)
    assert play.returncode == 0, play.stdout + play.stderr
    code = subprocess.run(["podman", "wait", f"{pod_name}-dbinit"], capture_output=True, text=True, timeout=300)
    log = subprocess.run(["podman", "logs", f"{pod_name}-dbinit"], capture_output=True, text=True).stderr
    assert code.stdout.strip() == "0", log
    return log
