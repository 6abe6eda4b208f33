"""Before the first pending migration runs, under the locks: the user's command (a backup, as the
seed's deploy script made one). A replica that finds nothing pending does not run it: no backup
on every pod start. (A database's own backup is its backend's `backup`.)"""
from __future__ import annotations

import os
import subprocess

from . import log
from .errors import HookFailed
from .plan import Plan


def before_migrate(command: str, plans: list[Plan]) -> None:
    """Run `command` with the pending versions per database in its environment
    (DBINIT_PENDING_POSTGRES="V3 V4", …); its output goes to dbinit's log; non-zero stops the run."""
    env = {**os.environ, **{f"DBINIT_PENDING_{p.db.upper()}": " ".join(m.label for m in p.pending) for p in plans}}
    log.info("hook", f"running DBINIT_BEFORE_MIGRATE before {sum(len(p.pending) for p in plans)} migration(s)")
    try:
        proc = subprocess.Popen(["/bin/sh", "-c", command], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace")
    except OSError as e:
        raise HookFailed(f"DBINIT_BEFORE_MIGRATE could not be started ({e.strerror}); nothing was applied") from None
    assert proc.stdout is not None
    for line in proc.stdout:
        log.info("hook", line.rstrip("\n"))
    if proc.wait() != 0:
        raise HookFailed(f"DBINIT_BEFORE_MIGRATE exited with {proc.returncode}; nothing was applied")
    log.info("hook", "DBINIT_BEFORE_MIGRATE finished")
