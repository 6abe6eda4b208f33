"""Shared by the benchmarks: the test harness's real servers, timing, and running dbinit as users do."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import Neo4jServer, PostgresServer, RedisServer  # noqa: E402,F401


def dbinit(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    full_env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **env}
    result = subprocess.run([sys.executable, "-m", "dbinit", *args], env=full_env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"dbinit {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")
    return result


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(title: str, rows: list[tuple[str, float]], base: str) -> None:
    reference = dict(rows)[base]
    print(f"\n{title}")
    for name, seconds in rows:
        print(f"  {name:<40} {seconds:8.3f} s   {seconds / reference:5.2f}x {base}")
