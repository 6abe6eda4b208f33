"""The planner in process, no servers: files × history → states, the refusals of Plan.check,
version order and new file names. Milliseconds each."""
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dbinit import files
from dbinit.errors import InvalidMigrations, MigrationFailed
from dbinit.files import Catalog
from dbinit.migration import Migration
from dbinit.history import NEEDS_REPAIR, State
from dbinit.plan import Applied, reconcile, to_baseline, to_revert, to_roll_back, without_down

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def mig(db: str, label: str, checksum: str = "c") -> Migration:
    version = files.normalise_version(db, label)
    return Migration(db, version, label, "step", Path(f"{label}-step"), "", checksum)


def applied(db: str, label: str, checksum: str = "c", success: bool = True) -> Applied:
    return Applied(files.normalise_version(db, label), "step", f"{label}-step", checksum, NOW, 1, success)


@pytest.mark.parametrize("on_disk, history, expected", [
    (["V1", "V2"], [], {"V1": "Pending", "V2": "Pending"}),
    (["V1", "V2"], [("V1", "c")], {"V1": "Applied", "V2": "Pending"}),
    (["V1"], [("V1", "other")], {"V1": "Changed"}),
    ([], [("V1", "c")], {"V1": "Missing"}),
    (["V1"], [("V1", "c", False)], {"V1": "Failed"}),
    ([], [("V1", "c", False)], {"V1": "Failed"}),  # failed and since deleted: still failed, repair clears it
    (["V1", "V3"], [("V1", "c"), ("V2", "c")], {"V1": "Applied", "V2": "Missing", "V3": "Pending"}),
])
def test_each_version_gets_the_state_of_its_file_and_history(on_disk, history, expected):
    plan = reconcile("postgres", [mig("postgres", v) for v in on_disk], [applied("postgres", *h) for h in history])
    assert {e.label: e.state for e in plan.entries} == expected


def test_entries_are_in_version_order_whatever_the_history_order():
    plan = reconcile("postgres", [mig("postgres", v) for v in ("V10", "V9", "V100")],
                     [applied("postgres", "V100"), applied("postgres", "V9")])
    assert [e.label for e in plan.entries] == ["V9", "V10", "V100"]
    assert [m.label for m in plan.pending] == ["V10"]


def test_a_pending_version_below_the_newest_applied_is_out_of_order():
    plan = reconcile("redis", [mig("redis", v) for v in ("V1", "V2", "V3")], [applied("redis", "V2")])
    assert [e.label for e in plan.out_of_order] == ["V1"]
    with pytest.raises(InvalidMigrations, match="V1 is pending but older than the newest applied redis migration"):
        plan.check(allow_out_of_order=False)
    plan.check(allow_out_of_order=True)


def test_check_refuses_a_changed_file_naming_it_even_when_out_of_order_is_allowed():
    plan = reconcile("postgres", [mig("postgres", "V1", "new")], [applied("postgres", "V1", "old")])
    with pytest.raises(InvalidMigrations) as e:
        plan.check(allow_out_of_order=True)
    assert e.value.problems[0].path == Path("V1-step") and "changed after it was applied" in str(e.value)


def test_check_stops_on_a_failed_mark_until_repair():
    plan = reconcile("postgres", [mig("postgres", "V1")], [applied("postgres", "V1", success=False)])
    with pytest.raises(MigrationFailed, match="dbinit repair"):
        plan.check(allow_out_of_order=False)


def test_the_baseline_script_is_pending_only_on_a_database_without_history():
    init = Migration("postgres", files.INIT_VERSION, "init", "baseline script", Path("init.sql"), "", "i")
    fresh = reconcile("postgres", [mig("postgres", "V1")], [], init)
    assert [e.label for e in fresh.entries] == ["init", "V1"] and len(fresh.pending) == 2
    adopted = reconcile("postgres", [mig("postgres", "V1")], [applied("postgres", "V1")], init)
    assert [e.label for e in adopted.entries] == ["V1"] and adopted.pending == []


@pytest.mark.parametrize("db, labels", [
    ("postgres", ["V1", "V2", "V9", "V10", "V100"]),
    ("redis", ["V0", "V01", "V3", "V20"]),
    ("neo4j", ["2024-12-31-001", "2024-12-31-002", "2024-12-31-010", "2025-01-01-001", "2025-10-01-001"]),
])
def test_versions_order_numerically_and_by_date(db, labels):
    keys = [files.version_key(db, files.normalise_version(db, label)) for label in labels]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert files.version_key(db, files.INIT_VERSION) < keys[0]


@pytest.mark.parametrize("newest, now, expected", [
    ("V20240115093000", datetime(2026, 12, 5, 16, 30, 59), "V20261205163059"),  # dbmate's, golang-migrate's
    ("V20260225083159", datetime(2026, 2, 25, 8, 31, 59), "V20260225083200"),  # a second later, never second 60
    ("V20991231235959", datetime(2026, 12, 5), "V21000101000000"),  # a newest from the future: the second after it
    ("V20240115", datetime(2026, 12, 5), "V20240116"),  # a date alone is a number like any
])
def test_new_continues_timestamp_versions_with_the_time_now(newest, now, expected):
    catalog = Catalog({"postgres": [mig("postgres", newest)], "neo4j": [], "redis": []}, {})
    assert [p.name for p in files.new_paths(Path("m"), catalog, "postgres", "add", now)][0] == f"{expected}-add-up.sql"


def test_new_file_names_take_the_next_number_keeping_the_width():
    catalog = Catalog({"postgres": [mig("postgres", "V007"), mig("postgres", "V012")], "neo4j": [
        mig("neo4j", "2026-11-26-002")], "redis": []}, {})
    day = datetime(2026, 11, 26, 9, 30)
    assert [p.name for p in files.new_paths(Path("m"), catalog, "postgres", "Add Users!", day)] == [
        "V013-add-users-up.sql", "V013-add-users-down.sql"]
    assert [p.name for p in files.new_paths(Path("m"), catalog, "neo4j", "index", day)] == [
        "2026-11-26-003-index.cypher", "2026-11-26-003-index.down.cypher"]
    assert [p.name for p in files.new_paths(Path("m"), catalog, "neo4j", "index", datetime(2026, 11, 27))] == [
        "2026-11-27-001-index.cypher", "2026-11-27-001-index.down.cypher"]
    assert [p.name for p in files.new_paths(Path("m"), catalog, "redis", "keys", day)] == ["V001-keys.redis"]
    with pytest.raises(ValueError, match="at least one letter"):
        files.new_paths(Path("m"), catalog, "redis", "!!!", day)


def with_down(m: Migration) -> Migration:
    return Migration(m.db, m.version, m.label, m.description, m.path, m.text, m.checksum, Path(f"{m.label}-down"))


@pytest.mark.parametrize("on_disk, downs, kept, history, to, reverted, without", [
    (["V1", "V2", "V3"], ["V1", "V2", "V3"], [], ["V1", "V2", "V3"], "1", ["V3", "V2"], []),  # newest first
    (["V1", "V2", "V3"], ["V1", "V2", "V3"], [], ["V1", "V2"], "0", ["V2", "V1"], []),  # pending V3: nothing to undo
    (["V1", "V2"], ["V1", "V2"], [], ["V1", "V2"], "2", [], []),  # nothing above the target
    (["V1", "V2", "V3"], ["V1", "V3"], [], ["V1", "V2", "V3"], "1", [], ["V2"]),  # V2 has no down file: nothing
    (["V1", "V3"], ["V1", "V3"], [], ["V1", "V2", "V3"], "0", [], ["V2"]),  # V2's file is gone: nothing
    (["V1", "V3"], ["V1", "V3"], ["2"], ["V1", "V2", "V3"], "0", ["V3", "V2", "V1"], []),  # V2's down was kept
    (["V9", "V10"], ["V9", "V10"], [], ["V9", "V10"], "9", ["V10"], []),  # numerically above, not as text
])
def test_down_reverts_what_is_applied_above_the_target_newest_first(on_disk, downs, kept, history, to, reverted,
                                                                     without):
    files_ = [with_down(mig("postgres", v)) if v in downs else mig("postgres", v) for v in on_disk]
    plan = reconcile("postgres", files_, [applied("postgres", v) for v in history])
    undo = to_revert(plan, files.normalise_version("postgres", to))
    missing = without_down(undo, kept)
    assert ([] if missing else [e.label for e in undo]) == reverted and [e.label for e in missing] == without


def test_down_never_reverts_a_baseline_script():
    init = Migration("postgres", files.INIT_VERSION, "init", "baseline script", Path("init.sql"), "", "i")
    history = [Applied(files.INIT_VERSION, "baseline script", "init.sql", "i", NOW, 1), applied("postgres", "V1")]
    plan = reconcile("postgres", [with_down(mig("postgres", "V1"))], history, init)
    assert [e.label for e in to_revert(plan, "0")] == ["V1"]


@pytest.mark.parametrize("on_disk, history, rolled_back", [
    (["V1", "V2"], ["V1", "V2", "V3", "V4"], ["V4", "V3"]),  # the newer release's, newest first
    (["V1", "V2", "V3", "V4"], ["V1", "V2", "V3", "V4"], []),  # the same release: nothing
    (["V1", "V3"], ["V1", "V2", "V3", "V4"], ["V4"]),  # V2 gone below V3 (a squash): stays
    (["V1", "V3", "V5"], ["V1", "V2", "V3", "V4", "V5", "V6"], ["V6"]),  # above the newest kept, not any kept
    ([], ["V1", "V2"], ["V2", "V1"]),  # an image with no files of this database
])
def test_rollback_reverts_the_applied_versions_this_image_has_no_file_for(on_disk, history, rolled_back):
    plan = reconcile("postgres", [mig("postgres", v) for v in on_disk], [applied("postgres", v) for v in history])
    assert [e.label for e in to_roll_back(plan)] == rolled_back


@pytest.mark.parametrize("db, on_disk, history, to, chosen", [
    ("postgres", ["V1", "V2", "V3"], [], "V2", ["init", "V1", "V2"]),  # a fresh database: its baseline script too
    ("postgres", ["V1", "V2", "V3"], ["V1"], "V3", ["V2", "V3"]),  # what is recorded stays as it is
    ("redis", ["V1", "V2"], ["V1", "V2"], "V2", []),
    ("neo4j", ["2025-01-01-001", "2025-02-01-001"], [], "2025-01-31-001", ["init", "2025-01-01-001"]),
])
def test_baseline_records_every_file_up_to_the_target_not_yet_recorded(db, on_disk, history, to, chosen):
    init = Migration(db, files.INIT_VERSION, "init", "baseline script", Path("init"), "", "i")
    picked = to_baseline([mig(db, v) for v in on_disk], [applied(db, v) for v in history], init,
                         files.normalise_version(db, to))
    assert [m.label for m in picked] == chosen


def test_states_carry_what_flyway_s_carry_and_repair_takes_the_changed_and_the_failed():
    assert [(s.on_disk, s.applied, s.failed) for s in State] == [
        (True, False, False), (True, True, False), (True, True, False), (True, True, False), (False, True, False),
        (None, True, True)]
    assert NEEDS_REPAIR == {State.CHANGED, State.FAILED}
    plan = reconcile("postgres", [mig("postgres", "V1", "new"), mig("postgres", "V2")],
                     [applied("postgres", "V1", "old"), applied("postgres", "V2", success=False)])
    assert [(e.label, str(e.state)) for e in plan.needs_repair] == [("V1", "Changed"), ("V2", "Failed")]


def test_a_changed_repeatable_file_is_outdated_and_pending_again_never_a_changed_migration():
    plan = reconcile("postgres", [mig("postgres", "V1"), Migration("postgres", "R-views", "R-views", "views",
                                                                   Path("R-views.sql"), "", "new")],
                     [applied("postgres", "V1"), Applied("R-views", "views", "R-views.sql", "old", NOW, 1)])
    assert [(e.label, str(e.state)) for e in plan.entries] == [("V1", "Applied"), ("R-views", "Outdated")]
    assert [m.label for m in plan.pending] == ["R-views"] and plan.needs_repair == []
    plan.check(allow_out_of_order=False)  # neither changed nor out of order


def test_rollback_never_reverts_a_baseline_script_nor_a_repeatable_file():
    history = [Applied(files.INIT_VERSION, "baseline script", "init.sql", "i", NOW, 1), applied("postgres", "V1"),
               Applied("R-views", "views", "R-views.sql", "r", NOW, 1)]
    plan = reconcile("postgres", [], history)  # an image without any of them
    assert [e.label for e in to_roll_back(plan)] == ["V1"]
