"""How the benchmarks measure: every contender is a whole process (start to exit, as its users run
it), timed on the wall clock with its peak resident memory from the kernel; contenders take turns
in rotating order for several rounds, each on a fresh target, and tables show medians and ranges."""
from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Run:
    seconds: float
    rss_mb: float

    @staticmethod
    def combine(runs: list["Run"]) -> "Run":
        """Several processes one after another (the seed's psql loop): times add, memory is the largest."""
        return Run(sum(r.seconds for r in runs), max(r.rss_mb for r in runs))


def run_process(cmd: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> Run:
    """One process, timed from spawn to exit. Its peak RSS comes from GNU time, which forks it: a
    child forked by this (large) Python would inherit this process's peak as its own."""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as peak:
        start = time.perf_counter()
        result = subprocess.run(["/usr/bin/time", "-q", "-f", "%M", "-o", peak.name, *cmd], env=env, cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            out.seek(0)
            raise RuntimeError(f"{cmd[0]} exited {result.returncode}: {out.read()[-3000:].decode(errors='replace')}")
        return Run(seconds, int(peak.read().split()[-1]) / 1024)


@dataclass
class Contender:
    name: str
    # Makes a fresh target (a new database or server) and returns the measured action and its cleanup.
    prepare: Callable[[], tuple[Callable[[], Run], Callable[[], None]]]
    note: str = ""


@dataclass
class Result:
    name: str
    note: str
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def rss_mb(self) -> float:
        return statistics.median(r.rss_mb for r in self.runs)

    def range(self) -> str:
        times = [r.seconds for r in self.runs]
        return f"{min(times):.3f}–{max(times):.3f}"


def play(contenders: list[Contender], rounds: int, log: Callable[[str], None]) -> dict[str, Result]:
    """Round r starts with contender r (mod n): no one always runs first, on a cold or a warm machine."""
    results = {c.name: Result(c.name, c.note) for c in contenders}
    for r in range(rounds):
        order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
        for c in order:
            action, cleanup = c.prepare()
            try:
                run = action()
            finally:
                cleanup()
            results[c.name].runs.append(run)
            log(f"  round {r + 1}/{rounds}  {c.name:<44} {run.seconds:8.3f} s  {run.rss_mb:6.0f} MB")
    return results


def table(results: dict[str, Result], floor: str) -> list[str]:
    base = results[floor].median
    lines = ["| contender | median s | range s | × " + floor + " | peak RSS MB |",
             "|---|---:|---:|---:|---:|"]
    for r in results.values():
        name = f"{r.name} ({r.note})" if r.note else r.name
        lines.append(f"| {name} | {r.median:.3f} | {r.range()} | {r.median / base:.2f} | {r.rss_mb:.0f} |")
    return lines


def goal(text: str, value: float, limit: float, unit: str = "x") -> str:
    """One goal line: the value against its limit, met or not (lower is better)."""
    mark = "met" if value <= limit else "NOT met"
    return f"- {text}: {value:.2f}{unit} (goal ≤ {limit:g}{unit}) — {mark}"
