"""The documentation: the site builds strictly, and every example in the README and docs/ runs —
compose files through docker-compose's own check, Kubernetes YAML through its schema, the Helm
snippets through `helm template`, Python against the test servers, shell lines through dbinit's
own parser or bash, environment blocks through dbinit's settings. The quick start's commands run
for real in the end-to-end tests (tests/e2e)."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pglast
import pytest
import yaml
from dotenv import dotenv_values

from conftest import dbinit_env, run_dbinit
from dbinit import cli, registry, settings
from dbinit.errors import ConfigError
from examples import PAGES, ROOT, Block, block, blocks, command_parts, shell_commands
from test_helm import application_chart, render
from test_manifests import version

VARIABLE = re.compile(r"\b(?:(?:DBINIT|POSTGRES|NEO4J|REDIS|DATABASE)_[A-Z0-9_]+|PG[A-Z]{3,})\b")


def kind(b: Block) -> str:
    """What a test does with a block: every block has one."""
    if b.lang == "yaml":
        if b.title.startswith(("compose.yaml", "docker-compose")):
            return "compose"
        if b.title.startswith(".github/workflows/"):
            return "workflow"
        if b.title in ("values.yaml", "templates/deployment.yaml"):
            return "helm"
        if b.title.startswith("deploy/kubernetes/") or "apiVersion:" in b.text:
            return "kubernetes"
    if b.lang == "python" and b.title in ("migrate.py", "tests/test_orders.py", "tests/test_schema.py"):
        return "python"
    if b.lang == "toml" and b.title == "pyproject.toml":
        return "python"
    if b.lang == "sh":
        return {"environment": "environment", ".env": "environment"}.get(b.title, "shell")
    if b.lang in ("sql", "cypher", "redis") and b.title.startswith("migrations/"):
        return "migration"
    if b.lang == "sql":
        return "sql"
    if b.lang == "text":
        return "text"
    if b.lang == "dockerfile" and b.title == "Dockerfile":
        return "image"  # built and run by tests/e2e
    return "unknown"


def text(b: Block) -> str:
    """A block's text, a `--8<-- "file"` line replaced by the file, as the site does."""
    if m := re.fullmatch(r'--8<-- "([^"]+)"\n', b.text):
        return (ROOT / m[1]).read_text(encoding="utf-8")
    return b.text


def test_the_documentation_builds_strictly_with_the_reference_generated_from_the_code(tmp_path):
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                           cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stdout + built.stderr
    configuration = (tmp_path / "site" / "reference" / "configuration" / "index.html").read_text()
    assert "DBINIT_WAIT_TIMEOUT" in configuration and "generated:" not in configuration
    commands = (tmp_path / "site" / "reference" / "commands" / "index.html").read_text()
    assert all(f"dbinit {name}" in commands for name in cli.COMMANDS)
    home = (tmp_path / "site" / "index.html").read_text()
    assert "service_completed_successfully" in home  # the README's quick start, included


def test_the_readme_is_short_and_starts_with_what_dbinit_is_and_a_quick_start():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 170
    headings = re.findall(r"^## (.*)", readme, flags=re.M)
    assert headings[:2] == ["Quick start: Docker Compose", "Quick start: Kubernetes"]


def test_every_code_block_is_of_a_kind_that_a_test_runs():
    assert [str(b) for b in blocks() if kind(b) == "unknown"] == []


def _known_variables() -> set[str]:
    declared = {v.name for v in settings.variables()}
    compose = set()
    for path in ROOT.glob("docker-compose*.yml"):
        compose |= set(re.findall(r"\$\{(\w+)", path.read_text()))
    dbinit_sets = {f"DBINIT_PENDING_{d.name.upper()}" for d in registry.databases()}  # the backup hook's
    return declared | compose | dbinit_sets


def test_every_variable_an_example_names_is_one_dbinit_or_the_compose_file_reads():
    known = _known_variables()
    wrong = {(str(b), name) for b in blocks() for name in VARIABLE.findall(text(b))
             if name not in known and not name.startswith("DBINIT_PLACEHOLDER_")}
    assert wrong == set()


def _dbinit_arguments(words: list[str]) -> list[str] | None:
    """The arguments of a dbinit command (also `python entrypoint.py`, `docker compose run --rm
    dbinit`, `VAR=value dbinit`), or None when it runs something else."""
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        words = words[1:]
    if words[:2] == ["python", "entrypoint.py"]:
        return words[2:]
    if words[:1] == ["dbinit"]:
        return words[1:]
    if words[:4] == ["docker", "compose", "run", "--rm"] and "dbinit" in words:
        return words[words.index("dbinit") + 1:]
    return None


def _commands() -> list[tuple[Block, list[str]]]:
    found = []
    for b in blocks():
        if kind(b) == "shell":
            lines = shell_commands(b.text)
        elif kind(b) == "text":
            lines = [line[2:] for line in b.text.splitlines() if line.startswith("$ ")]
        elif kind(b) == "workflow":
            lines = [step["run"] for job in yaml.safe_load(b.text)["jobs"].values() for step in job["steps"]
                     if "run" in step]
        else:
            continue
        for line in lines:
            found += [(b, part) for part in command_parts(line)]
    for page in PAGES:  # and `dbinit …` in the prose (a span may wrap), but for the elided ones
        prose = page.read_text(encoding="utf-8")
        for m in re.finditer(r"`((?:[A-Z_]+=\S+\s)*dbinit\s(?!\d)[^`…]+)`", prose):  # not `dbinit 0.2.0: …`
            span = " ".join(m[1].split())
            if re.search(r"\b(COMMAND|DATABASE|VERSION|NAME|TOOL|FOLDER)\b", span):
                continue  # a synopsis (dbinit baseline DATABASE --to VERSION), not an example
            where = Block(str(page.relative_to(ROOT)), prose.count("\n", 0, m.start()) + 1, "", "prose", span)
            found += [(where, part) for part in command_parts(span)]
    return found


def test_every_dbinit_command_line_in_the_docs_is_accepted_by_dbinit_s_own_parser():
    parser = cli._parser()
    checked, refused = 0, []
    for b, words in _commands():
        arguments = _dbinit_arguments(words)
        if arguments is None or (len(arguments) == 1 and arguments[0] in cli.COMMANDS):  # a command named
            continue
        try:
            parser.parse_args(arguments or ["migrate"])
        except SystemExit as e:  # --help, --version
            assert e.code == 0
        except Exception as e:  # noqa: BLE001 - UsageError
            refused.append(f"{b}: {shlex.join(words)!r}: {e}")
        checked += 1
    assert refused == []
    assert checked > 20


def test_the_parser_check_refuses_a_misspelt_flag():
    with pytest.raises(Exception):
        cli._parser().parse_args(["migrate", "--dry-rum"])


@pytest.mark.parametrize("b", [b for b in blocks() if kind(b) == "compose"], ids=str)
def test_a_compose_example_is_a_valid_compose_file(b, tmp_path):
    (tmp_path / "compose.yaml").write_text(text(b))
    checked = subprocess.run(["docker-compose", "-f", "compose.yaml", "config", "-q"], cwd=tmp_path,
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    for service in yaml.safe_load(text(b))["services"].values():
        if str(service.get("image", "")).startswith("dbinit:"):
            environment = {k: str(v) for k, v in service.get("environment", {}).items()}
            settings.load(environment)  # every value is one dbinit takes


@pytest.mark.parametrize("b", [b for b in blocks() if kind(b) == "kubernetes"], ids=str)
def test_a_kubernetes_example_passes_the_kubernetes_schema(b):
    for document in yaml.safe_load_all(text(b)):
        if document:
            kubernetes_validate.validate(document, version(document), strict=True)


def test_the_helm_example_renders_with_the_chart_into_valid_kubernetes_objects(tmp_path):
    rendered = render(tmp_path, yaml.safe_load(block("values.yaml", "docs/guides/kubernetes.md").text),
                      chart=application_chart(tmp_path))
    deployment = next(d for d in rendered if d["kind"] == "Deployment")
    init = deployment["spec"]["template"]["spec"]["initContainers"][0]
    assert init["image"] == "registry.example/dbinit:0.2.0" and init["args"] == ["wait", "--migrated"]
    job = next(d for d in rendered if d["kind"] == "Job")
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["POSTGRES_HOST"] == "postgres" and env["NEO4J_URI"] == "bolt://neo4j:7687"


def test_the_tenants_guide_s_values_make_indexed_hook_jobs_over_the_shares(tmp_path):
    rendered = render(tmp_path, yaml.safe_load(block("values.yaml", "docs/guides/tenants.md").text))
    job = next(d for d in rendered if d["kind"] == "Job")
    assert (job["spec"]["completionMode"], job["spec"]["completions"]) == ("Indexed", 4)
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DBINIT_SHARDS"] == "4" and env["DBINIT_TENANTS_QUERY"].startswith("SELECT schema_name")


def test_the_quick_starts_kubectl_lines_make_what_the_deployment_mounts():
    deployment = yaml.safe_load(block("deployment.yaml", "README.md").text)
    spec = deployment["spec"]["template"]["spec"]
    made = {}
    for line in shell_commands(block("the migrations and the URL").text):
        words = shlex.split(line)
        assert words[:2] == ["kubectl", "create"], line
        made[words[2] if words[2] != "secret" else "secret"] = words
    assert made["configmap"][3] == spec["volumes"][0]["configMap"]["name"]
    assert made["secret"][4] == spec["initContainers"][0]["envFrom"][0]["secretRef"]["name"]
    literal = next(w for w in made["secret"] if w.startswith("--from-literal="))
    name, _, value = literal.removeprefix("--from-literal=").partition("=")
    assert settings.load({name: value}).configured() == ["postgres"]


@pytest.mark.parametrize("b", [b for b in blocks() if kind(b) == "environment"], ids=str)
def test_an_environment_example_is_taken_by_dbinit_s_settings(b, tmp_path):
    (tmp_path / ".env").write_text(b.text)
    environment = {k: v or "" for k, v in dotenv_values(tmp_path / ".env").items()}
    assert environment, "no NAME=VALUE line"
    try:
        settings.load(environment)
    except ConfigError as e:
        pytest.fail(f"{b}: {e}")


def test_a_broken_environment_example_would_be_refused():
    with pytest.raises(ConfigError):
        settings.load({"REDIS_URL": "redis+sentinal://:pw@sentinel-a:26379/mymaster/0"})


@pytest.mark.parametrize("b", [b for b in blocks() if kind(b) == "sql"], ids=str)
def test_an_sql_example_parses_as_postgresql(b):
    pglast.parse_sql(b.text)


@pytest.mark.parametrize("b", [b for b in blocks() if kind(b) == "migration"], ids=str)
def test_a_migration_file_example_passes_validate_and_its_server_s_own_check(b, tmp_path, neo4j_server, redis_server):
    (tmp_path / b.title).parent.mkdir(parents=True)
    (tmp_path / b.title).write_text(b.text)
    values = [f"--placeholder={name}=x" for name in sorted(set(re.findall(r"\$\{(\w+)", b.text)))]
    checked = run_dbinit("validate", "--servers", *values, cwd=tmp_path, DBINIT_LINT="error",
                         NEO4J_URI=neo4j_server.uri(), NEO4J_AUTH=f"neo4j/{neo4j_server.password}",
                         REDIS_URL=redis_server.url())
    assert checked.returncode == 0, checked.stderr
    server = {"cypher": "neo4j", "redis": "redis"}.get(b.lang)
    assert server is None or f"{server}: ready" in checked.stderr  # the server checked it


def test_the_workflow_example_migrates_before_the_tests_with_the_services_it_defines():
    workflow = yaml.safe_load(block(".github/workflows/test.yml").text)
    job = workflow["jobs"]["test"]
    assert set(job["services"]) == {"postgres", "redis", "neo4j"}
    assert settings.load({k: str(v) for k, v in job["env"].items()}).configured() == ["postgres", "neo4j", "redis"]
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs.index(next(r for r in runs if "dbinit migrate" in r)) < runs.index("pytest")


def test_the_api_example_migrates_the_three_databases(pg, redis_db, neo4j_db, migrations, tmp_path):
    migrations.write("V001-add-users-up.sql", "CREATE TABLE users (id int);\n")
    migrations.write("2025-01-15-001-user-index.cypher", "CREATE INDEX user_id IF NOT EXISTS FOR (u:User) ON (u.id);\n")
    migrations.write("V001-flags.redis", "SET flag on\n")
    (tmp_path / "migrate.py").write_text(block("migrate.py").text)
    ran = subprocess.run([sys.executable, "migrate.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env=dbinit_env(POSTGRES_URL=pg.url, REDIS_URL=redis_db.url(), NEO4J_URI=neo4j_db.uri(),
                                        NEO4J_PASSWORD=neo4j_db.password))
    assert ran.returncode == 0, ran.stderr
    printed = dict(line.split(" ", 1) for line in ran.stdout.splitlines())
    assert set(printed) == {"postgres", "neo4j", "redis"}
    assert all(re.fullmatch(r"\[\('[\w-]+', \d+\)\] \[\]", v) for v in printed.values()), printed


def test_the_pytest_plugin_example_passes_in_a_project_of_its_own(pytester, pg, monkeypatch):
    pytester.makepyprojecttoml(block("pyproject.toml").text)
    (pytester.path / "migrations").mkdir()
    (pytester.path / "migrations" / "V001-orders-up.sql").write_text("CREATE TABLE orders (id int PRIMARY KEY);\n")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_orders.py").write_text(block("tests/test_orders.py").text)
    monkeypatch.setenv("POSTGRES_URL", pg.url)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_the_schema_file_test_example_fails_a_file_the_migrations_no_longer_produce(pytester, pg, monkeypatch):
    pytester.makepyprojecttoml(block("pyproject.toml").text)
    migrations = pytester.path / "migrations"
    migrations.mkdir()
    (migrations / "V001-orders-up.sql").write_text("CREATE TABLE orders (id int PRIMARY KEY);\n")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_schema.py").write_text(block("tests/test_schema.py").text)
    monkeypatch.setenv("POSTGRES_URL", pg.url)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(failed=1)  # not written yet
    assert run_dbinit("schema", "--migrations", str(migrations), POSTGRES_URL=pg.url).returncode == 0
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    (migrations / "V002-lines-up.sql").write_text("CREATE TABLE lines (id int);\n")  # and no new schema file
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert "is not what the migrations produce" in result.stdout.str()


PEER_FILES = {
    "from golang-migrate": {"migrations/000001_add_users.up.sql": "BEGIN;\nCREATE TABLE users (id int);\nCOMMIT;\n",
                            "migrations/000001_add_user.down.sql": "DROP TABLE users;\n",
                            "migrations/000002_add_index.up.sql": "CREATE INDEX CONCURRENTLY users_id ON users (id);\n"},
    "from dbmate": {"db/migrations/20240115093000_add_users.sql":
                    "-- migrate:up\nCREATE TABLE users (id int);\n\n-- migrate:down\nDROP TABLE users;\n",
                    "db/migrations/20240116093000_index_users.sql":
                    "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY users_id ON users (id);\n\n"
                    "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY users_id;\n"},
    "from Flyway": {"sql/V1__add_users.sql": "CREATE TABLE users (id int);\n",
                    "sql/V1.1__add_user_email.sql": "ALTER TABLE users ADD COLUMN email text;\n"},
    "from neo4j-migrations": {"neo4j/V001__add_users.cypher": "CREATE (:User {id: 1});\n",
                              "neo4j/V1_1__index_users.cypher":
                                  "CREATE INDEX user_id IF NOT EXISTS FOR (u:User) ON (u.id);\n"},
}


def _project(title: str, where: Path) -> Path:
    for name, content in PEER_FILES[title].items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(content)
    return where


@pytest.mark.parametrize("path", ["a database the tool migrated", "a new database"])
@pytest.mark.parametrize("title", list(PEER_FILES))
def test_each_way_in_of_the_moving_guide_runs_as_written(title, path, tmp_path, request):
    """The guide's lines for a tool, run in a project of that tool's files: on a database the tool
    itself migrated (test_moving_in.py runs the peers), and, without the baseline line, on a new one."""
    from test_moving_in import dbmate, flyway, golang_migrate, neo4j_migrations

    project = _project(title, tmp_path)
    if title == "from neo4j-migrations":
        server = request.getfixturevalue("neo4j_db")
        env = {"NEO4J_URI": server.uri(), "NEO4J_AUTH": f"neo4j/{server.password}"}
        peer, target = (lambda: neo4j_migrations(server, project / "neo4j")), "neo4j"
    else:
        pg = request.getfixturevalue("pg")
        env = {"POSTGRES_URL": pg.url}
        peer = {"from golang-migrate": lambda: golang_migrate(pg, project / "migrations"),
                "from dbmate": lambda: dbmate(pg, project / "db" / "migrations"),
                "from Flyway": lambda: flyway(pg, project / "sql")}[title]
        target = "postgres"
    lines = block(title).text
    if path == "a new database":
        lines = "".join(line for line in lines.splitlines(keepends=True) if " baseline " not in line)
    else:
        peer()
    bin_dir = Path(sys.executable).parent
    done = subprocess.run(["bash", "-euc", lines], cwd=project, capture_output=True, text=True,
                          env=dbinit_env(**env, DBINIT_LINT="off", PATH=f"{bin_dir}:{os.environ['PATH']}"))
    assert done.returncode == 0, done.stdout + done.stderr
    status = run_dbinit("status", "--format", "json", cwd=project, **env)
    states = [m["status"] for m in json.loads(status.stdout)["databases"][target]["migrations"]]
    assert states == ["Baselined" if path == "a database the tool migrated" else "Applied"] * 2, status.stdout
