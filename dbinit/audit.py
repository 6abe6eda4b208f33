"""Which run applied a history record: its id (shared by the logs, the run report and the trace),
dbinit's version, the image's revision, and the host or pod and namespace it ran in."""
from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path

from . import log
from .environment import Variable
from .history import Audit
from .version import VERSION

ENVIRONMENT = (
    Variable("DBINIT_IMAGE_REVISION", "", "the source revision the image was built from (the image sets it from its "
             "REVISION build argument); recorded with every migration a run applies"),
    Variable("POD_NAME", "", "the pod's name, from the Downward API (the manifests and the chart set it); else the "
             "host name is recorded"),
    Variable("POD_NAMESPACE", "", "the pod's namespace, from the Downward API; else the service account's, where "
             "mounted"),
)
# Where Kubernetes mounts a pod's service account: its namespace is a file there.
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")

_current: ContextVar[Audit | None] = ContextVar("dbinit_run", default=None)


def new_run_id() -> str:
    return os.urandom(16).hex()  # 128 random bits, as a UUID4's hex, without importing uuid


def begin(run_id: str) -> Audit:
    """The run's record of itself, for every history record written in this context."""
    revision = os.environ.get("DBINIT_IMAGE_REVISION")
    audit = Audit(run_id, VERSION, revision if revision else None, os.environ.get("POD_NAME") or os.uname().nodename,
                  _namespace())
    _current.set(audit)
    log.run(run_id)
    return audit


def current() -> Audit:
    """The run's record; a backend used outside a run (the Python API's helpers) gets one of its own."""
    return _current.get() or begin(new_run_id())


def _namespace() -> str | None:
    if namespace := os.environ.get("POD_NAMESPACE"):
        return namespace
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
