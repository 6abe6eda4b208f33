"""The Kubernetes manifests pass schema validation and keep the security settings they promise."""
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

MANIFESTS = sorted((Path(__file__).resolve().parent.parent / "deploy" / "kubernetes").glob("*.yaml"))


def version(doc: dict) -> str:
    """The oldest Kubernetes a manifest must pass: 1.30, or 1.35 (image volumes on by default) for
    a pod with an image volume."""
    pod = ((doc.get("spec") or {}).get("template") or {}).get("spec") or doc.get("spec") or {}
    return "1.35" if any("image" in v for v in pod.get("volumes") or []) else "1.30"


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifest_passes_kubernetes_schema_validation(path):
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, version(doc), strict=True)


def test_the_image_volume_job_needs_1_35_and_reads_the_migrations_from_the_image():
    job = yaml.safe_load((MANIFESTS[0].parent / "image-volume-job.yaml").read_text())
    assert version(job) == "1.35"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, "1.30", strict=True)  # an image volume is unknown there
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DBINIT_MIGRATIONS"].startswith(container["volumeMounts"][0]["mountPath"])


@pytest.mark.parametrize("name", ["deployment.yaml", "deployment-waits.yaml", "job.yaml",
                                  "argocd-post-deploy-job.yaml"])
def test_dbinit_runs_non_root_on_a_read_only_root_filesystem_with_limits(name):
    doc = yaml.safe_load((MANIFESTS[0].parent / name).read_text())
    pod = doc["spec"]["template"]["spec"]
    dbinit = next(c for c in pod.get("initContainers", []) + pod["containers"] if c["name"] == "dbinit")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert dbinit["securityContext"]["readOnlyRootFilesystem"] is True
    assert dbinit["resources"]["limits"]
    secret_vars = {e["name"] for e in dbinit["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert secret_vars == {"POSTGRES_PASSWORD", "NEO4J_AUTH", "REDIS_PASSWORD"}
    # The audit trail's pod, from the Downward API (its namespace: the service account's; podman kube
    # play, which runs these manifests in the tests, has no fieldRef to metadata.namespace).
    assert {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in dbinit["env"]
            if "fieldRef" in e.get("valueFrom", {})} == {"POD_NAME": "metadata.name"}


def test_the_argo_cd_example_runs_the_post_deploy_migrations_after_the_sync():
    job = yaml.safe_load((MANIFESTS[0].parent / "argocd-post-deploy-job.yaml").read_text())
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PostSync"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate", "--post-deploy"]


def test_the_fleet_job_is_indexed_and_its_shares_are_its_completions():
    job = yaml.safe_load((MANIFESTS[0].parent / "fleet-indexed-job.yaml").read_text())
    spec = job["spec"]
    env = {e["name"]: e.get("value") for e in spec["template"]["spec"]["containers"][0]["env"]}
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == int(env["DBINIT_SHARDS"])
    assert "JOB_COMPLETION_INDEX" not in env  # Kubernetes sets it in each pod
