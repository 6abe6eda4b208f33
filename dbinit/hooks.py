"""The user's commands around the migrations, run under the locks and only by a runner that has
something to apply: before the first (a backup, as the seed's deploy script made one) and after the
last (grants, a materialised view, a message). A replica that finds nothing pending runs neither:
no backup on every pod start. (A database's own backup is its backend's `backup`.)"""
from __future__ import annotations

import os
import subprocess
from typing import Sequence

from . import log
from .errors import AfterHookFailed, DbinitError, HookFailed
from .history import Applied
from .plan import Plan


def before_migrate(command: str, plans: list[Plan], run_id: str) -> None:
    """Run `command` with the pending versions per database in its environment
    (DBINIT_PENDING_POSTGRES="V3 V4", …); its output goes to dbinit's log; non-zero stops the run."""
    log.info("hook", f"running DBINIT_BEFORE_MIGRATE before {sum(len(p.pending) for p in plans)} migration(s)")
    _run("DBINIT_BEFORE_MIGRATE", command, _environment(plans, run_id), HookFailed, "nothing was applied")


def after_migrate(command: str, plans: list[Plan], applied: Sequence[Sequence[Applied]], run_id: str) -> None:
    """Run `command` once what was pending is applied, with the before hook's environment and what
    was applied per database (DBINIT_APPLIED_POSTGRES="V3 V4", …); non-zero is AfterHookFailed,
    and what was applied stays applied."""
    env = _environment(plans, run_id)
    for plan, records in zip(plans, applied):
        labels = {m.version: m.label for m in plan.pending}
        env[f"DBINIT_APPLIED_{plan.db.upper()}"] = " ".join(labels.get(a.version, a.version) for a in records)
    log.info("hook", f"running DBINIT_AFTER_MIGRATE after {sum(len(a) for a in applied)} migration(s)")
    _run("DBINIT_AFTER_MIGRATE", command, env, AfterHookFailed, "what was applied stays applied and recorded")


def _environment(plans: list[Plan], run_id: str) -> dict[str, str]:
    return {**os.environ, "DBINIT_RUN_ID": run_id,
            **{f"DBINIT_PENDING_{p.db.upper()}": " ".join(m.label for m in p.pending) for p in plans}}


def _run(variable: str, command: str, env: dict[str, str], failed: type[DbinitError], outcome: str) -> None:
    """The command under /bin/sh, its output in dbinit's log line by line."""
    try:
        proc = subprocess.Popen(["/bin/sh", "-c", command], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace")
    except OSError as e:
        raise failed(f"{variable} could not be started ({e.strerror}); {outcome}") from None
    assert proc.stdout is not None
    for line in proc.stdout:
        log.info("hook", line.rstrip("\n"))
    if proc.wait() != 0:
        raise failed(f"{variable} exited with {proc.returncode}; {outcome}")
    log.info("hook", f"{variable} finished")
