"""The Helm chart: `helm lint`, and what `helm template` renders passes Kubernetes' schema and keeps
the security settings of the plain manifests (the hook Job runs for real in the end-to-end run)."""
import json
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import yaml

from conftest import ROOT
from dbinit import settings
from examples import block

CHART = ROOT / "deploy" / "helm" / "dbinit"
HELM = str(ROOT / ".tools" / "bin" / "helm") if (ROOT / ".tools" / "bin" / "helm").exists() else shutil.which("helm")


def helm(*args: str) -> str:
    assert HELM, "no helm: scripts/setup.sh builds it from the Go module proxy into .tools/bin"
    result = subprocess.run([HELM, *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def render(tmp_path: Path, values: dict, chart: Path = CHART) -> list[dict]:
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    docs = [d for d in yaml.safe_load_all(helm("template", "shop", str(chart), "-f", str(tmp_path / "values.yaml")))
            if d]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.30", strict=True)
    return docs


def repository_migrations() -> dict:
    return {"migrations": {"files": {p.name: p.read_text() for p in sorted((ROOT / "migrations").iterdir())
                                     if p.suffix in (".sql", ".cypher", ".redis")},
                           "initFiles": {p.name: p.read_text() for p in sorted((ROOT / "init").iterdir())}},
            "env": {"POSTGRES_HOST": "postgres", "NEO4J_URI": "bolt://neo4j:7687", "REDIS_URL": "redis://redis:6379/0"}}


def test_the_chart_passes_helm_lint(tmp_path):
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(repository_migrations()))
    helm("lint", "--strict", str(CHART))
    helm("lint", "--strict", str(CHART), "-f", str(tmp_path / "values.yaml"))


def test_the_hook_job_migrates_before_install_and_upgrade_with_its_configmaps_made_first(tmp_path):
    docs = render(tmp_path, repository_migrations())
    configmaps = [d for d in docs if d["kind"] == "ConfigMap"]
    job = next(d for d in docs if d["kind"] == "Job")
    assert {c["metadata"]["name"] for c in configmaps} == {"shop-dbinit-migrations", "shop-dbinit-init"}
    assert all(c["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10" for c in configmaps)
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"] == ["migrate"] and pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True and container["resources"]["limits"]
    assert {e["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})} == {
        "POSTGRES_PASSWORD", "NEO4J_AUTH", "REDIS_PASSWORD"}
    # The audit trail's pod (from the Downward API) and namespace (the release's).
    assert {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]
            if "fieldRef" in e.get("valueFrom", {})} == {"POD_NAME": "metadata.name"}
    assert {"name": "POD_NAMESPACE", "value": "default"} in container["env"]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/migrations", "/init"}
    assert "V001-add-session-tags-up.sql" in configmaps[0]["data"] or "V001-add-session-tags-up.sql" in configmaps[1]["data"]


def test_migrations_baked_into_a_derived_image_need_no_configmap(tmp_path):
    docs = render(tmp_path, {"image": {"repository": "registry.example/shop-migrations", "tag": "1.4.0"}})
    assert [d["kind"] for d in docs] == ["Job", "Job", "Job"]
    assert all("volumes" not in d["spec"]["template"]["spec"] for d in docs)


def application_chart(tmp_path: Path) -> Path:
    """An application's chart with dbinit as a dependency and the Kubernetes guide's
    templates/deployment.yaml."""
    app = tmp_path / "shop"
    (app / "templates").mkdir(parents=True)
    shutil.copytree(CHART, app / "charts" / "dbinit")
    (app / "Chart.yaml").write_text("apiVersion: v2\nname: shop\nversion: 1.0.0\n")
    (app / "templates" / "deployment.yaml").write_text(block("templates/deployment.yaml").text)
    return app


def test_the_init_container_snippet_gates_an_applications_own_deployment(tmp_path):
    docs = render(tmp_path, {"dbinit": repository_migrations()}, chart=application_chart(tmp_path))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    init = deployment["spec"]["template"]["spec"]["initContainers"][0]
    assert init["name"] == "dbinit" and init["args"] == ["wait", "--migrated"]
    assert {v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]} == {"dbinit-migrations", "dbinit-init"}


def test_the_post_deploy_job_runs_after_install_and_upgrade_and_the_rollback_job_before_a_rollback(tmp_path):
    docs = render(tmp_path, repository_migrations())
    jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Job"}
    hooks = {name: (job["metadata"]["annotations"]["helm.sh/hook"],
                    job["spec"]["template"]["spec"]["containers"][0]["args"]) for name, job in jobs.items()}
    assert hooks == {"shop-dbinit": ("pre-install,pre-upgrade", ["migrate"]),
                     "shop-dbinit-post-deploy": ("post-install,post-upgrade", ["migrate", "--post-deploy"]),
                     "shop-dbinit-rollback": ("pre-rollback", ["rollback"])}
    # rolled back, the Job must see the files of the release it goes back to: the ConfigMaps are made again
    assert all("pre-rollback" in d["metadata"]["annotations"]["helm.sh/hook"] for d in docs
               if d["kind"] == "ConfigMap")
    off = render(tmp_path, {**repository_migrations(), "postDeploy": {"enabled": False}, "rollback": {"enabled": False}})
    assert [d["metadata"]["name"] for d in off if d["kind"] == "Job"] == ["shop-dbinit"]


def test_a_misspelt_value_or_a_variable_dbinit_does_not_read_is_refused_by_the_chart(tmp_path):
    for values in ({"credentials": {"existingSecrett": "app-databases"}}, {"env": {"POSTGRES_HOSTNAME": "db"}},
                   {"imagee": {"tag": "0.2.0"}}):
        (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
        refused = subprocess.run([HELM, "template", "shop", str(CHART), "-f", str(tmp_path / "values.yaml")],
                                 capture_output=True, text=True)
        assert refused.returncode != 0 and "values don't meet the specifications of the schema" in refused.stderr
    # what libpq and Python's ssl read themselves (the TLS guide's) is let through
    render(tmp_path, {"env": {"PGSSLROOTCERT": "/run/secrets/ca.pem", "SSL_CERT_FILE": "/run/secrets/ca.pem",
                              "DBINIT_PLACEHOLDER_SCHEMA": "app"}})


def test_the_chart_s_list_of_variables_is_the_one_dbinit_reads():
    schema = json.loads((CHART / "values.schema.json").read_text())
    names = schema["properties"]["env"]["propertyNames"]["anyOf"][0]["enum"]
    declared = {v.name for v in settings.variables()}
    assert set(names) == {n for n in declared if "<" not in n}
    assert schema["properties"]["credentials"]["properties"]["keys"]["propertyNames"] == \
        schema["properties"]["env"]["propertyNames"]


def test_a_fleet_s_hook_jobs_are_indexed_over_its_shares_with_the_tenants_files_mounted(tmp_path):
    docs = render(tmp_path, {"job": {"shards": 4}, "env": {"DBINIT_TENANTS_QUERY": "SELECT name FROM tenants"},
                             "migrations": {"files": {"V001-registry-up.sql": "CREATE TABLE tenants (name text);"},
                                            "tenantFiles": {"V001-items-up.sql": "CREATE TABLE items (id int);"}}})
    jobs = [d for d in docs if d["kind"] == "Job"]
    assert len(jobs) == 3
    for job in jobs:
        spec = job["spec"]
        assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 4, 4)
        container = spec["template"]["spec"]["containers"][0]
        assert {"name": "DBINIT_SHARDS", "value": "4"} in container["env"]
        assert {"name": "dbinit-tenant-migrations", "mountPath": "/tenant-migrations", "readOnly": True} in \
            container["volumeMounts"]
    maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    assert maps["shop-dbinit-tenant-migrations"] == {"V001-items-up.sql": "CREATE TABLE items (id int);"}
    one = render(tmp_path, {})
    assert all("completionMode" not in d["spec"] for d in one if d["kind"] == "Job")


def test_a_migration_set_too_large_for_a_configmap_as_text_ships_as_a_binary_archive(tmp_path):
    """`dbinit archive values.yaml` chose the archive for some 2 MiB of files: the chart makes a
    binaryData ConfigMap, mounts it, and points DBINIT_MIGRATIONS at it (the e2e run applies it)."""
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from workloads import write_long_lived

    write_long_lived(tmp_path / "large", 600)
    made = subprocess.run([sys.executable, "-m", "dbinit", "archive", str(tmp_path / "values.json"), "--migrations",
                           str(tmp_path / "large")], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    values = json.loads((tmp_path / "values.json").read_text())
    docs = render(tmp_path, {**values, "env": {"POSTGRES_HOST": "postgres"}})
    (configmap,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert set(configmap["binaryData"]) == {"migrations.tar.gz"} and "data" not in configmap
    assert len(yaml.safe_dump(configmap)) < 1 << 20
    job = next(d for d in docs if d["kind"] == "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "DBINIT_MIGRATIONS", "value": "/migrations/migrations.tar.gz"} in container["env"]
    assert {"name": "dbinit-migrations", "mountPath": "/migrations", "readOnly": True} in container["volumeMounts"]
