"""bench/run.sh keeps working: every section and every peer on tiny sets, one round. The numbers
themselves live in bench/RESULTS.md, never in a test."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_benchmark_section_runs_every_contender_on_tiny_sets():
    result = subprocess.run([sys.executable, "bench/run.py", "--smoke"], cwd=ROOT, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    for contender in ("psql, a commit per migration", "dbinit migrate", "dbmate up", "golang-migrate up",
                      "Flyway migrate", "driver, one session", "neo4j-migrations apply",
                      "python: import psycopg, SELECT 1", "python: all three clients", "dbinit wait", "dbmate wait",
                      "TCP-port loop"):
        assert f"| {contender}" in result.stdout, contender
    assert "## Growth" in result.stdout and "## Peak resident memory" in result.stdout


def test_check_exits_1_naming_each_goal_not_met_and_0_without_it():
    # On tiny sets the checkpoint's goal (0.1x of replaying every file) is never met.
    run = [sys.executable, "bench/run.py", "--smoke", "--sections", "longlived"]
    checked = subprocess.run([*run, "--check"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert checked.returncode == 1, checked.stderr[-3000:]
    assert "goal(s) not met:\n" in checked.stderr
    assert "\n- dbinit from the checkpoint against every file:" in checked.stderr
    assert subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=900).returncode == 0
