"""dbinit.sum, the integrity file (Atlas's atlas.sum): written by `dbinit hash` and `dbinit new`,
checked by validate, check and migrate before anything runs."""
import subprocess

from conftest import run_dbinit


def dbinit(migrations, *args, **env):
    return run_dbinit(*args, "--migrations", str(migrations.path), **env)


def test_hash_writes_the_file_new_keeps_it_current_and_validate_accepts_it(migrations):
    migrations.write("V001-a-up.sql", "CREATE TABLE a (id int);\n")
    migrations.write("V001-a-down.sql", "DROP TABLE a;\n")
    migrations.write("V001-keys.redis", "SET a 1\n")
    assert dbinit(migrations, "hash").returncode == 0
    listed = (migrations.path / "dbinit.sum").read_text().splitlines()
    assert listed[0].startswith("h1:") and [line.split()[0] for line in listed[1:]] == [
        "V001-a-down.sql", "V001-a-up.sql", "V001-keys.redis"]
    assert dbinit(migrations, "new", "postgres", "b").returncode == 0
    assert "V002-b-up.sql" in (migrations.path / "dbinit.sum").read_text()
    validated = dbinit(migrations, "validate")  # the sum is current: only the unwritten file is refused
    assert validated.returncode == 65 and validated.stderr.count(" ERROR ") == 1, validated.stderr
    assert "V002-b-up.sql: still holds only what dbinit new wrote" in validated.stderr


def test_two_branches_that_each_add_a_migration_conflict_in_git(migrations, tmp_path):
    migrations.write("V001-a-up.sql", "CREATE TABLE a (id int);\n")
    dbinit(migrations, "hash")
    base = (migrations.path / "dbinit.sum").read_text()
    sums = {}
    for branch in ("ours", "theirs"):
        added = migrations.write(f"V002-{branch}-up.sql", f"CREATE TABLE {branch} (id int);\n")
        dbinit(migrations, "hash")
        sums[branch] = (migrations.path / "dbinit.sum").read_text()
        added.unlink()
    for name, text in (("base", base), *sums.items()):
        (tmp_path / name).write_text(text)
    merge = subprocess.run(["git", "merge-file", "-p", str(tmp_path / "ours"), str(tmp_path / "base"),
                            str(tmp_path / "theirs")], capture_output=True, text=True)
    assert merge.returncode > 0 and "<<<<<<<" in merge.stdout  # a conflict a person must resolve


def test_an_edited_a_lost_and_an_unhashed_file_are_each_refused_by_name(migrations):
    edited = migrations.write("V001-a-up.sql", "CREATE TABLE a (id int);\n")
    lost = migrations.write("V002-b-up.sql", "CREATE TABLE b (id int);\n")
    dbinit(migrations, "hash")
    edited.write_text("CREATE TABLE a (id bigint);\n")
    lost.unlink()
    unhashed = migrations.write("V003-c.redis", "SET c 1\n")
    result = dbinit(migrations, "validate")
    assert result.returncode == 65, result.stderr
    assert f"{edited}: differs from dbinit.sum" in result.stderr
    assert f"{lost}: is listed in dbinit.sum but missing" in result.stderr
    assert f"{unhashed}: is not in dbinit.sum" in result.stderr


def test_a_hand_edited_or_merged_sum_file_is_refused(migrations):
    migrations.write("V001-a-up.sql", "CREATE TABLE a (id int);\n")
    dbinit(migrations, "hash")
    path = migrations.path / "dbinit.sum"
    path.write_text(path.read_text() + "V002-b-up.sql 0000\n")
    result = dbinit(migrations, "validate")
    assert result.returncode == 65 and "dbinit.sum:1: was edited by hand or merged" in result.stderr


def test_no_file_no_check_unless_one_is_required(migrations):
    migrations.write("V001-a-up.sql", "CREATE TABLE a (id int);\n")
    assert dbinit(migrations, "validate").returncode == 0
    required = dbinit(migrations, "validate", DBINIT_REQUIRE_SUM="true")
    assert required.returncode == 65 and "dbinit.sum: is missing and DBINIT_REQUIRE_SUM is set" in required.stderr


def test_migrate_refuses_a_file_changed_since_hash_before_anything_runs(redis_db, migrations):
    migrations.write("V001-a.redis", "SET a 1\n")
    second = migrations.write("V002-b.redis", "SET b 1\n")
    dbinit(migrations, "hash")
    second.write_text("SET b 2\n")
    result = dbinit(migrations, "migrate", REDIS_URL=redis_db.url())
    assert result.returncode == 65 and "V002-b.redis: differs from dbinit.sum" in result.stderr
    assert redis_db.client().keys("*") == []
