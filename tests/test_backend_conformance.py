"""One behaviour, three databases: every backend passes this suite against its real server."""
import time

from conftest import run_dbinit, start_dbinit

from dbinit import phase, registry
from dbinit.settings import load


def migrate(target, migrations, *args, **env):
    return run_dbinit(*args, "--migrations", str(migrations.path), **{**target.env, **env})


def test_applies_pending_migrations_in_order_and_a_second_run_applies_nothing(target, migrations):
    # Unpadded where the name allows it: V10 sorts before V2 as text, after it as a number.
    names = [target.name(n).replace(f"V{n:03d}", f"V{n}") for n in (10, 2, 1)][::-1]
    for n, name in zip((1, 2, 10), names):
        migrations.write(name, target.counting(n))
    first = migrate(target, migrations, "migrate")
    assert first.returncode == 0, first.stderr
    labels = [name.split("-step")[0] for name in names]
    positions = [first.stderr.index(f"applied {label} step") for label in labels]
    assert positions == sorted(positions) and first.stderr.count("applied ") == 3
    second = migrate(target, migrations, "migrate")
    assert second.returncode == 0, second.stderr
    assert "up to date: 0 applied, 3 already applied" in second.stderr
    assert [target.count(n) for n in (1, 2, 10)] == [1, 1, 1]
    status = migrate(target, migrations, "status")
    assert status.returncode == 0
    assert status.stdout.count("Applied") == 3 and target.db in status.stdout


def test_eight_concurrent_runners_apply_each_migration_exactly_once(target, migrations):
    for n in range(1, 7):
        migrations.write(target.name(n), target.counting(n))
    env = {**target.env, "DBINIT_LOCK_TIMEOUT": "120"}
    procs = [start_dbinit("migrate", "--migrations", str(migrations.path), **env) for _ in range(8)]
    results = [(p.wait(180), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0] * 8, [err for _, err in results]
    assert [target.count(n) for n in range(1, 7)] == [1] * 6
    assert sum(err.count("applied V") + err.count("applied 2025") for _, err in results) == 6


def status_of(target, migrations, name: str) -> str:
    return next(line for line in migrate(target, migrations, "status").stdout.splitlines() if name in line)


def test_a_repeatable_file_runs_once_per_edit_under_racing_runners_and_a_failing_edit_keeps_the_last(target,
                                                                                                     migrations):
    migrations.write(target.name(1), target.counting(1))
    env = {**target.env, "DBINIT_LOCK_TIMEOUT": "120"}
    for n in (2, 3, 4):  # the file, then two edits of it
        migrations.write(target.repeatable_name, target.repeatable(n))
        if n > 2:
            assert "Outdated" in status_of(target, migrations, "R-current")
            assert migrate(target, migrations, "check").returncode == 3
        procs = [start_dbinit("migrate", "--migrations", str(migrations.path), **env) for _ in range(8)]
        results = [(p.wait(180), p.stderr.read()) for p in procs]
        assert [code for code, _ in results] == [0] * 8, [err for _, err in results]
        assert sum(err.count("applied R-current") for _, err in results) == 1
        assert target.count(n) == 1 and target.current() == n
        assert "Applied" in status_of(target, migrations, "R-current")
    assert [target.count(n) for n in (1, 2, 3, 4)] == [1, 1, 1, 1]
    migrations.write(target.repeatable_name, target.failing_repeatable())
    failed = migrate(target, migrations, "migrate")
    assert failed.returncode == 1 and target.repeatable_name in failed.stderr, failed.stderr
    assert target.current() == 4 and "Outdated" in status_of(target, migrations, "R-current")
    assert len(target.history()) == 2 and "R-current" in target.history()  # its last run still recorded


def test_a_failing_migration_exits_1_naming_file_and_line_and_leaves_nothing_behind(target, migrations):
    migrations.write(target.name(1), target.counting(1))
    text, line = target.failing_third_statement(2)
    bad = migrations.write(target.name(2, "breaks"), text)
    result = migrate(target, migrations, "migrate")
    assert result.returncode == 1, result.stderr
    assert f"{bad.name}:{line}" in result.stderr
    assert not target.traces_of_failure(2)
    assert len(target.history()) == 1  # only V1; the failed file is not recorded
    bad.write_text(target.counting(2))
    fixed = migrate(target, migrations, "migrate")
    assert fixed.returncode == 0, fixed.stderr
    assert target.count(2) == 1


def test_an_edited_applied_migration_stops_migrate_before_anything_runs_and_repair_accepts_it(target, migrations):
    first = migrations.write(target.name(1), target.counting(1))
    assert migrate(target, migrations, "migrate").returncode == 0
    first.write_text(target.counting(1) + ("# edited\n" if target.db == "redis" else "// edited\n" if target.db == "neo4j" else "-- edited\n"))
    migrations.write(target.name(2), target.counting(2))
    result = migrate(target, migrations, "migrate")
    assert result.returncode == 65
    assert f"{first.name}: " in result.stderr and "was changed after it was applied" in result.stderr
    assert target.count(2) == 0
    assert "Changed" in migrate(target, migrations, "status").stdout
    repaired = migrate(target, migrations, "repair")
    assert repaired.returncode == 0 and "repaired" in repaired.stderr
    assert migrate(target, migrations, "migrate").returncode == 0
    assert target.count(2) == 1


def test_a_crlf_checkout_of_an_applied_file_is_not_an_edit(target, migrations):
    path = migrations.write(target.name(1), target.counting(1))
    assert migrate(target, migrations, "migrate").returncode == 0
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert migrate(target, migrations, "migrate").returncode == 0


def test_dry_run_prints_the_plan_and_changes_nothing(target, migrations):
    migrations.write(target.name(1), target.counting(1))
    result = migrate(target, migrations, "migrate", "--dry-run")
    assert result.returncode == 0 and "would apply" in result.stderr
    assert target.count(1) == 0 and target.history() == []


HISTORY_WRITE = {"postgres": 'INSERT INTO "dbinit"."dbinit_schema_history"', "neo4j": "CREATE (m:__DbinitMigration)",
                 "redis": "HSET dbinit:migrations 1 "}


def test_the_script_of_a_dry_run_shows_every_statement_and_the_history_write_and_changes_nothing(target, migrations):
    migrations.write(target.name(1), target.counting(1))
    shown = migrate(target, migrations, "migrate", "--dry-run", "--script")
    assert shown.returncode == 0, shown.stderr
    body = shown.stdout[shown.stdout.index(target.name(1)):]
    statements = [line.strip().rstrip(";") for line in target.counting(1).splitlines()]
    positions = [body.index(s) for s in statements] + [body.index(HISTORY_WRITE[target.db])]
    assert positions == sorted(positions) and "Lock: " in shown.stdout
    assert target.count(1) == 0 and target.history() == []


def test_a_vanished_applied_file_is_reported_as_missing(target, migrations):
    gone = migrations.write(target.name(1), target.counting(1))
    migrations.write(target.name(2), target.counting(2))
    assert migrate(target, migrations, "migrate").returncode == 0
    gone.unlink()
    result = migrate(target, migrations, "migrate")
    assert result.returncode == 0 and "its file is missing" in result.stderr
    assert "Missing" in migrate(target, migrations, "status").stdout


def test_an_older_pending_migration_is_refused_unless_out_of_order_is_allowed(target, migrations):
    migrations.write(target.name(2), target.counting(2))
    assert migrate(target, migrations, "migrate").returncode == 0
    late = migrations.write(target.name(1, "late"), target.counting(1))
    refused = migrate(target, migrations, "migrate")
    assert refused.returncode == 65 and late.name in refused.stderr and "--out-of-order" in refused.stderr
    assert target.count(1) == 0
    allowed = migrate(target, migrations, "migrate", DBINIT_OUT_OF_ORDER="true")
    assert allowed.returncode == 0 and target.count(1) == 1


def post_deploy(target, text: str) -> str:
    return phase.marker(registry.get(target.db).comment) + "\n" + text


def test_post_deploy_files_wait_for_the_post_deploy_run_without_being_out_of_order(target, migrations):
    migrations.write(target.name(1), target.counting(1))
    assert migrate(target, migrations, "migrate").returncode == 0
    contract = migrations.write(target.name(2, "contract"), post_deploy(target, target.counting(2)))
    migrations.write(target.name(3), target.counting(3))
    deploy = migrate(target, migrations, "migrate")
    assert deploy.returncode == 0, deploy.stderr
    assert "left for the post-deploy run (dbinit migrate --post-deploy)" in deploy.stderr
    assert [target.count(n) for n in (1, 2, 3)] == [1, 0, 1]
    again = migrate(target, migrations, "migrate")
    assert again.returncode == 0 and "up to date: 0 applied, 2 already applied" in again.stderr
    assert migrate(target, migrations, "check").returncode == 0
    assert migrate(target, migrations, "wait", "--migrated", DBINIT_WAIT_TIMEOUT="5").returncode == 0
    row = next(line for line in migrate(target, migrations, "status").stdout.splitlines() if "contract" in line)
    assert "post-deploy" in row and "Pending" in row
    after_rollout = migrate(target, migrations, "migrate", "--post-deploy")
    assert after_rollout.returncode == 0, after_rollout.stderr
    assert f"applied {contract.name.split('-contract')[0]} contract (post-deploy)" in after_rollout.stderr
    assert [target.count(n) for n in (1, 2, 3)] == [1, 1, 1]
    assert "Pending" not in migrate(target, migrations, "status").stdout


def test_a_database_without_history_gets_every_file_in_version_order_in_one_migrate(target, migrations):
    names = [target.name(1), target.name(2, "contract"), target.name(3)]
    for n, name in zip((1, 2, 3), names):
        migrations.write(name, post_deploy(target, target.counting(n)) if n == 2 else target.counting(n))
    result = migrate(target, migrations, "migrate")
    assert result.returncode == 0, result.stderr
    positions = [result.stderr.index(f"applied {name.split('-step')[0].split('-contract')[0]} ") for name in names]
    assert positions == sorted(positions) and [target.count(n) for n in (1, 2, 3)] == [1, 1, 1]


def test_baseline_records_without_running(target, migrations):
    for n in (1, 2, 3):
        migrations.write(target.name(n), target.counting(n))
    version = target.name(2).split("-step")[0]
    result = migrate(target, migrations, "baseline", "--to", f"{target.db}={version}")
    assert result.returncode == 0, result.stderr
    assert len(target.history()) == 2 and target.count(1) == 0
    assert migrate(target, migrations, "migrate").returncode == 0
    assert [target.count(n) for n in (1, 2, 3)] == [0, 0, 1]
    status = migrate(target, migrations, "status")  # what was recorded, apart from what ran
    assert status.stdout.count("| Baselined |") == 2 and status.stdout.count("| Applied ") == 1, status.stdout


def test_wrong_password_fails_at_once_with_77_and_never_shows_the_password(target, migrations):
    migrations.write(target.name(1), target.counting(1))
    started = time.monotonic()
    result = migrate(target, migrations, "migrate", DBINIT_WAIT_TIMEOUT="60", **target.wrong_password_env)
    assert result.returncode == 77, result.stderr
    assert time.monotonic() - started < 20  # at once: far below the deadline a retried refusal would reach
    assert "not-the-password" not in result.output
    assert "authentication" in result.stderr.lower()


def test_migrations_for_an_unconfigured_database_are_a_configuration_error(target, migrations):
    migrations.write(target.name(1), target.counting(1))
    result = run_dbinit("migrate", "--migrations", str(migrations.path))
    assert result.returncode == 78
    assert f"{target.db} is not configured" in result.stderr


def test_a_bad_file_among_pending_ones_stops_migrate_before_anything_runs(target, migrations):
    migrations.write(target.name(1), target.counting(1))
    broken = {"postgres": "SELEC 1;", "neo4j": "CREATE (n {a: 'open);", "redis": "SET a \"open"}[target.db]
    migrations.write(target.name(2, "broken"), broken)
    result = migrate(target, migrations, "migrate")
    assert result.returncode == 65, result.stderr
    assert target.count(1) == 0


def test_a_broken_pending_file_stops_a_runner_at_once_while_another_holds_the_lock(target, migrations):
    """The checks that need no server come before the lock: every replica of a broken release
    fails with 65 at once instead of queueing for the lock first, and nothing is applied."""
    migrations.write(target.name(1), target.counting(1))
    broken = migrations.write(target.name(2, "broken"), target.unparsable)
    settings = load(target.env)
    holder = registry.get(target.db).open(settings.of(target.db), 60)
    holder.connect(10)
    try:
        assert holder.try_lock()
        start = time.monotonic()
        result = migrate(target, migrations, "migrate", DBINIT_LOCK_TIMEOUT="60")
        assert result.returncode == 65, result.stderr
        assert time.monotonic() - start < 20  # refused before queueing: far below the lock's 60 s
        assert f"{broken.name}:1" in result.stderr
        assert target.count(1) == 0 and target.history() == []
    finally:
        holder.unlock()
        holder.close()


def test_baseline_to_a_version_beyond_the_newest_file_is_refused_and_records_nothing(target, migrations):
    for n in (1, 2):
        migrations.write(target.name(n), target.counting(n))
    typo = target.name(9).split("-step")[0]  # V9 for V2, say: baseline would record files that never ran
    result = migrate(target, migrations, "baseline", "--to", f"{target.db}={typo}")
    assert result.returncode == 64, result.stderr
    assert f"has no migration {typo} among the files (the newest is {target.name(2).split('-step')[0]})" in result.stderr
    assert target.history() == []


def test_a_file_still_holding_only_what_new_wrote_is_not_applied_and_nothing_runs(target, migrations):
    migrations.write(target.name(1), target.counting(1))
    made = run_dbinit("new", target.db, "add orders", "--migrations", str(migrations.path))
    assert made.returncode == 0, made.stderr
    up = made.stdout.split()[0]
    result = migrate(target, migrations, "migrate")
    assert result.returncode == 65, result.stderr
    assert f"{up}: still holds only what dbinit new wrote, so dbinit does not run it" in result.stderr
    assert target.count(1) == 0 and target.history() == []


def test_a_file_applied_while_it_held_only_what_new_wrote_is_refused_by_migrate_and_repair(target, migrations):
    """As an older dbinit applied its one-line skeleton: filled in later, its statements never ran,
    and accepting its new checksum would record them as applied."""
    from dbinit import skeleton

    path = migrations.write(target.name(1, "add-orders"), skeleton.text(target.db, "add orders", hint=False))
    assert migrate(target, migrations, "migrate").returncode == 0
    path.write_text(path.read_text() + target.counting(1))
    for command in ("migrate", "repair"):
        result = migrate(target, migrations, command)
        assert result.returncode == 65, result.stderr
        assert "was applied while it held only what dbinit new wrote, so what it holds now never ran" in result.stderr
    assert target.count(1) == 0 and "Changed" in migrate(target, migrations, "status").stdout


def test_another_projects_history_is_named_as_such_and_repair_refuses_it(target, migrations, tmp_path):
    ours = migrations.write(target.name(1, "create-users"), target.counting(1))
    assert migrate(target, migrations, "migrate").returncode == 0
    other = tmp_path / "other-project"
    other.mkdir()
    (other / target.name(1, "a")).write_text(target.counting(2))
    for command in ("migrate", "repair"):
        result = run_dbinit(command, "--migrations", str(other), **target.env)
        assert result.returncode == 65, result.stderr
        assert f"in the history is {ours.name}, not this file: another migration of the same version" in result.stderr
    assert target.count(2) == 0 and target.history() == [target.history()[0]]
