"""Migrations as one .tar.gz: read in place (never unpacked), the same checksums and integrity file
as the folder it was made from, and every unsafe archive refused (65) before anything runs: a path
outside it, a link, a device, a bomb, too many files, not an archive at all."""
from __future__ import annotations

import base64
import gzip
import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

import failure_modes
from dbinit import api
from dbinit.errors import InvalidMigrations
from conftest import ROOT, run_dbinit, write_files

sys.path.insert(0, str(ROOT / "bench"))
from workloads import write_long_lived  # noqa: E402

FILES = {
    "V001-users-up.sql": "CREATE TABLE users (id int PRIMARY KEY);\n",
    "V001-users-down.sql": "DROP TABLE users;\n",
    "V002-names-up.sql": "ALTER TABLE users ADD COLUMN name text;\n",
    "V002-names-down.sql": "ALTER TABLE users DROP COLUMN name;\n",
}


def dbinit(*args: str, **env: str):
    return run_dbinit(*args, DBINIT_LINT="off", **env)


def folder(tmp_path: Path, files: dict[str, str] = FILES) -> Path:
    return write_files(tmp_path / "migrations", files)


def packed(tmp_path: Path, directory: Path, name: str = "migrations.tar.gz") -> Path:
    target = tmp_path / name
    made = dbinit("archive", str(target), "--migrations", str(directory))
    assert made.returncode == 0, made.stderr
    return target


def tar(path: Path, *members: tuple[tarfile.TarInfo, bytes | None]) -> Path:
    with tarfile.open(path, "w:gz") as t:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, **fields) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def nothing_ran(pg) -> bool:
    return pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NULL") == "t"


def test_an_archive_migrates_as_its_folder_does_with_the_same_checksums(pg, tmp_path):
    directory = folder(tmp_path)
    assert dbinit("hash", "--migrations", str(directory)).returncode == 0
    archive = packed(tmp_path, directory)
    assert packed(tmp_path, directory, "again.tar.gz").read_bytes() == archive.read_bytes()  # the same bytes

    done = dbinit("migrate", POSTGRES_URL=pg.url, DBINIT_MIGRATIONS=str(archive), DBINIT_REQUIRE_SUM="true")
    assert done.returncode == 0, done.stderr
    assert "applied V002 names" in done.stderr
    # The folder it was made from finds the database up to date: the checksums are the files' own.
    assert dbinit("check", "--migrations", str(directory), POSTGRES_URL=pg.url).returncode == 0
    down = dbinit("down", "--to", "V0", POSTGRES_URL=pg.url, DBINIT_MIGRATIONS=str(archive))  # down files too
    assert down.returncode == 0 and "reverted V001 users" in down.stderr, down.stderr


def test_a_file_edited_in_an_archive_is_refused_by_the_integrity_file_inside_it(pg, tmp_path):
    directory = folder(tmp_path)
    assert dbinit("hash", "--migrations", str(directory)).returncode == 0
    (directory / "V002-names-up.sql").write_text("ALTER TABLE users ADD COLUMN sneaked text;\n")
    with tarfile.open(tmp_path / "edited.tar.gz", "w:gz") as t:
        t.add(directory, arcname=".")
    refused = dbinit("migrate", POSTGRES_URL=pg.url, DBINIT_MIGRATIONS=str(tmp_path / "edited.tar.gz"))
    assert refused.returncode == 65, refused.stderr
    assert "edited.tar.gz/V002-names-up.sql" in refused.stderr and "dbinit.sum" in refused.stderr
    assert nothing_ran(pg)


def test_an_archive_of_the_folder_itself_reads_as_its_content_and_subfolders_work(pg, tmp_path):
    directory = folder(tmp_path, {"postgres/V001-users-up.sql": FILES["V001-users-up.sql"]})
    with tarfile.open(tmp_path / "whole.tar.gz", "w:gz") as t:
        t.add(directory, arcname="migrations")  # tar -czf whole.tar.gz migrations/
    done = dbinit("migrate", POSTGRES_URL=pg.url, DBINIT_MIGRATIONS=str(tmp_path / "whole.tar.gz"))
    assert done.returncode == 0 and "applied V001 users" in done.stderr, done.stderr


def test_the_lint_reads_files_in_an_archive(tmp_path):
    directory = folder(tmp_path, {"V001-t-up.sql": "CREATE TABLE t (id int);\n",
                                  "V002-i-up.sql": "CREATE INDEX t_id ON t (id);\n"})
    archive = packed(tmp_path, directory)
    said = run_dbinit("validate", DBINIT_MIGRATIONS=str(archive))
    assert said.returncode == 0, said.stderr
    assert f"{archive}/V002-i-up.sql:1: require-concurrent-index-creation" in said.stderr


def test_commands_that_write_into_the_migrations_refuse_an_archive(tmp_path):
    archive = packed(tmp_path, folder(tmp_path))
    before = archive.read_bytes()
    for args in (["new", "postgres", "more"], ["hash"], ["import", "flyway"], ["checkpoint"]):
        refused = dbinit(*args, DBINIT_MIGRATIONS=str(archive))
        assert refused.returncode == 64, refused.stderr
        assert "is an archive, which dbinit only reads" in refused.stderr
    assert archive.read_bytes() == before


def _bomb(path: Path, size: int = 10 << 30) -> Path:
    """A .tar.gz of one 10 GiB file of zeros, about 10 MB: a gzip member a MiB of zeros, again and again."""
    header = member("V001-zeros-up.sql", size=size).tobuf(tarfile.PAX_FORMAT)
    chunk = gzip.compress(bytes(1 << 20), compresslevel=9)
    with path.open("wb") as out:
        out.write(gzip.compress(header))
        for _ in range(size >> 20):
            out.write(chunk)
    return path


BAD = {
    "a path with ..": lambda p: tar(p, (member("../V001-evil-up.sql"), b"SELECT 1;\n")),
    "an absolute path": lambda p: tar(p, (member("/etc/V001-evil-up.sql"), b"SELECT 1;\n")),
    "a link out": lambda p: tar(p, (member("V001-evil-up.sql", tarfile.SYMTYPE, linkname="/etc/passwd"), None)),
    "a hard link": lambda p: tar(p, (member("V001-evil-up.sql", tarfile.LNKTYPE, linkname="../../x"), None)),
    "a device": lambda p: tar(p, (member("V001-evil-up.sql", tarfile.CHRTYPE, devmajor=1, devminor=3), None)),
    "a pipe": lambda p: tar(p, (member("V001-evil-up.sql", tarfile.FIFOTYPE), None)),
    "a 10 GiB bomb": _bomb,
    "not a .tar.gz": lambda p: (p.write_bytes(b"PK\x03\x04 a zip file, named as a tarball"), p)[1],
    "a truncated one": lambda p: (tar(p, (member("V001-a-up.sql"), b"SELECT 1;\n" * 1000)),
                                  p.write_bytes(p.read_bytes()[:60]), p)[2],
}
SAYS = {
    "a path with ..": "holds ../V001-evil-up.sql, a path outside the archive",
    "an absolute path": "holds /etc/V001-evil-up.sql, a path outside the archive",
    "a link out": "holds a link, V001-evil-up.sql -> /etc/passwd",
    "a hard link": "holds a link, V001-evil-up.sql -> ../../x",
    "a device": "holds V001-evil-up.sql, which is neither a file nor a folder",
    "a pipe": "holds V001-evil-up.sql, which is neither a file nor a folder",
    "a 10 GiB bomb": "unpacks to more than 256 MiB (at V001-zeros-up.sql, 10737418240 bytes)",
    "not a .tar.gz": "is not a readable .tar.gz",
    "a truncated one": "is not a readable .tar.gz",
}


@pytest.mark.parametrize("case", BAD)
def test_an_unsafe_archive_is_refused_before_anything_runs(pg, tmp_path, case):
    archive = BAD[case](tmp_path / "bad.tar.gz")
    refused = dbinit("migrate", POSTGRES_URL=pg.url, DBINIT_MIGRATIONS=str(archive), timeout=60)
    assert refused.returncode == 65, refused.stderr
    assert SAYS[case] in refused.stderr and "nothing was run" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert nothing_ran(pg)


def test_an_archive_of_more_files_than_allowed_is_refused(pg, tmp_path):
    archive = packed(tmp_path, folder(tmp_path))
    refused = dbinit("migrate", POSTGRES_URL=pg.url, DBINIT_MIGRATIONS=str(archive), DBINIT_ARCHIVE_MAX_FILES="2")
    assert refused.returncode == 65 and "holds more than 2 files and folders (DBINIT_ARCHIVE_MAX_FILES)" \
        in refused.stderr, refused.stderr
    assert nothing_ran(pg)


def test_an_api_call_reads_an_archive_under_its_own_limits_not_an_earlier_calls(pg, tmp_path):
    """An application's process makes many calls: an archive one call read is not taken as read by
    the next call, which allows fewer files, nor do that call's limits outlive it."""
    archive = packed(tmp_path, folder(tmp_path))
    assert api.check(archive, postgres_url=pg.url).databases["postgres"].pending == ["V001", "V002"]
    with pytest.raises(InvalidMigrations, match=r"holds more than 2 files and folders \(DBINIT_ARCHIVE_MAX_FILES\)"):
        api.check(archive, env={"DBINIT_ARCHIVE_MAX_FILES": "2"}, postgres_url=pg.url)
    assert api.migrate(archive, postgres_url=pg.url).databases["postgres"].pending == []
    assert pg.sql("SELECT count(*) FROM dbinit.dbinit_schema_history") == "2"


def test_helm_values_carry_small_sets_as_text_and_large_ones_as_an_archive(tmp_path):
    small = tmp_path / "small.yaml"
    assert dbinit("archive", str(small), "--migrations", str(folder(tmp_path))).returncode == 0
    assert json.loads(small.read_text())["migrations"]["files"] == FILES

    large = tmp_path / "large"
    write_long_lived(large, 600)  # three years of files: some 2 MiB of text
    values = tmp_path / "large.yaml"
    made = dbinit("archive", str(values), "--migrations", str(large))
    assert made.returncode == 0 and "600 files as a" in made.stderr, made.stderr
    data = base64.b64decode(json.loads(values.read_text())["migrations"]["archive"])
    assert len(data) < 200_000  # far under a ConfigMap's 1 MiB
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        assert len(t.getnames()) == 600


def test_every_database_s_files_read_from_an_archive_and_one_reaching_outside_it_runs_nothing(target, tmp_path):
    """The archive is read before any database is: the same on each of the three."""
    directory = folder(tmp_path, {target.name(1): target.counting(1)})
    good = packed(tmp_path, directory)
    done = dbinit("migrate", DBINIT_MIGRATIONS=str(good), **target.env)
    assert done.returncode == 0, done.stderr
    assert target.count(1) == 1

    bad = tar(tmp_path / "bad.tar.gz", (member(target.name(2)), target.counting(2).encode()),
              (member(f"../{target.name(3)}"), target.counting(3).encode()))
    refused = dbinit("migrate", DBINIT_MIGRATIONS=str(bad), **target.env)
    failure_modes.check(refused, "a migrations archive holding a path outside itself", target.db)
    assert target.count(2) == 0 and target.count(3) == 0
