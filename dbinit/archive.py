"""Migrations shipped as one `.tar.gz` (a ConfigMap's binaryData, a file in an image volume): read
in place into memory, never unpacked (the root filesystem is read-only, and /tmp may be too). What
it holds is checked as it is read, before anything runs: regular files and folders only, each
under the archive's root (no absolute path, no `..`, no link, no device), at most
DBINIT_ARCHIVE_MAX_FILES of them unpacking to at most DBINIT_ARCHIVE_MAX_MB, judged by each
member's header before its bytes are read, so a bomb is refused without being inflated.

A file inside is named by the archive's path and its own (migrations.tar.gz/postgres/V001-…-up.sql):
its checksum is the one the same file on disk has. Pure: no server I/O."""
from __future__ import annotations

import contextvars
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from .environment import Variable
from .errors import InvalidMigrations, Problem, UsageError

SUFFIXES = (".tar.gz", ".tgz")
ENVIRONMENT = (
    Variable("DBINIT_ARCHIVE_MAX_MB", "256", "the most a migrations archive (`DBINIT_MIGRATIONS` naming a `.tar.gz`) "
             "may unpack to, in MiB (else exit 65): an archive bomb is refused by its headers, never inflated"),
    Variable("DBINIT_ARCHIVE_MAX_FILES", "20000", "the most files and folders a migrations archive may hold"),
)
MIB = 1 << 20


class Limits(NamedTuple):
    unpacked: int = 256 * MIB  # bytes
    entries: int = 20000


# A run's own (the command line's, or one call of the Python API's, each setting it): a context
# variable, so calls in two threads keep theirs.
_limits: contextvars.ContextVar[Limits] = contextvars.ContextVar("archive_limits", default=Limits())


def configure(limits: Limits) -> None:
    """The run's limits, from its settings (DBINIT_ARCHIVE_MAX_MB, DBINIT_ARCHIVE_MAX_FILES)."""
    _limits.set(limits)


@dataclass
class Archive:
    path: Path
    files: dict[PurePosixPath, bytes] = field(default_factory=dict)
    folders: set[PurePosixPath] = field(default_factory=lambda: {PurePosixPath(".")})


class Entry(NamedTuple):
    """A folder's entry, as os.scandir gives it (name, path, is_dir()), for an archive's folders too."""

    name: str
    path: str
    folder: bool

    def is_dir(self) -> bool:
        return self.folder


# Archives read, by path and the limits they were read under, with the size and time they had:
# read once a process, read again when replaced.
_read: dict[tuple[Path, Limits], tuple[tuple[int, int], Archive]] = {}


def is_archive(path: Path) -> bool:
    return path.name.endswith(SUFFIXES)


def _opened(path: Path) -> Archive:
    stat = path.stat()
    limits = _limits.get()
    key = (path.absolute(), limits)
    if key in _read and _read[key][0] == (stat.st_mtime_ns, stat.st_size):
        return _read[key][1]
    archive = _unpack(path, limits)
    _read[key] = ((stat.st_mtime_ns, stat.st_size), archive)
    return archive


def _unpack(path: Path, limits: Limits) -> Archive:
    import tarfile  # only when there is an archive: not on every run's path
    import zlib

    archive, total = Archive(path), 0

    def refused(why: str) -> InvalidMigrations:
        return InvalidMigrations([Problem(path, f"{why}; nothing was run")])

    members: list[tuple[PurePosixPath, bytes | None]] = []
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for count, info in enumerate(tar, 1):
                name = PurePosixPath(info.name)
                if count > limits.entries:
                    raise refused(f"holds more than {limits.entries} files and folders (DBINIT_ARCHIVE_MAX_FILES)")
                if name.is_absolute() or ".." in name.parts:
                    raise refused(f"holds {info.name}, a path outside the archive; every path in it must be "
                                  "relative, without '..'")
                if info.issym() or info.islnk():
                    raise refused(f"holds a link, {info.name} -> {info.linkname}; an archive of migrations holds "
                                  "files and folders only (tar --dereference copies what links point to)")
                if not (info.isreg() or info.isdir()):
                    raise refused(f"holds {info.name}, which is neither a file nor a folder (a device or a pipe)")
                if info.isdir():
                    members.append((name, None))
                    continue
                total += info.size
                if total > limits.unpacked:  # by the header, before a byte of it is inflated
                    raise refused(f"unpacks to more than {limits.unpacked // MIB} MiB (at {info.name}, "
                                  f"{info.size} bytes); DBINIT_ARCHIVE_MAX_MB is the limit")
                member = tar.extractfile(info)
                members.append((name, member.read() if member is not None else b""))
    except (tarfile.TarError, zlib.error, EOFError, OSError) as e:
        raise refused(f"is not a readable .tar.gz ({e})") from None
    root = _root([name for name, _ in members])
    for name, content in members:
        inside = PurePosixPath(*name.parts[len(root.parts):]) if root.parts else name
        if content is None:
            archive.folders.update([inside, *inside.parents])
        else:
            archive.files[inside] = content
            archive.folders.update(inside.parents)
    return archive


def _root(names: list[PurePosixPath]) -> PurePosixPath:
    """The folder the migrations are in: the archive's root, or the one folder everything is in
    (`tar -czf m.tar.gz migrations/` holds migrations/…), unless it is a database's subfolder."""
    from . import registry

    tops = {name.parts[0] for name in names if name.parts}
    if len(tops) == 1 and any(len(n.parts) > 1 for n in names):
        (top,) = tops
        if top not in registry.names():
            return PurePosixPath(top)
    return PurePosixPath()


def _member(path: Path) -> tuple[Archive, PurePosixPath] | None:
    """The archive that holds `path` (by its own path and the member's), if any; the archive named
    by a path that is one is read here."""
    for parent in [path, *path.parents]:
        if is_archive(parent) and parent.is_file():
            archive = _opened(parent)
            return archive, PurePosixPath(path.relative_to(parent).as_posix())
    return None


def read_bytes(path: Path) -> bytes:
    if (found := _member(path)) is None:
        return path.read_bytes()
    archive, name = found
    if name not in archive.files:
        raise FileNotFoundError(2, os.strerror(2), str(path))
    return archive.files[name]


def is_dir(path: Path) -> bool:
    if (found := _member(path)) is None:
        return path.is_dir()
    archive, name = found
    return name in archive.folders


def is_file(path: Path) -> bool:
    if (found := _member(path)) is None:
        return path.is_file()
    archive, name = found
    return name in archive.files


def scandir(path: Path) -> list[Entry]:
    """A folder's entries, on disk or in an archive."""
    if (found := _member(path)) is None:
        with os.scandir(path) as entries:
            return [Entry(e.name, e.path, e.is_dir()) for e in entries]
    archive, name = found
    children = {f for f in [*archive.files, *archive.folders] if f.parent == name and f != name}
    return [Entry(c.name, str(path / c.name), c in archive.folders) for c in children]


def files_under(path: Path) -> list[Path]:
    """Every file in a folder and the folders in it, on disk or in an archive."""
    if (found := _member(path)) is None:
        return [Path(root, name) for root, _, names in os.walk(path) for name in names]
    archive, name = found
    return [path / f.relative_to(name) for f in archive.files if name in f.parents]


def within(path: Path) -> bool:
    """Whether `path` is in an archive (read-only: nothing is written there)."""
    return any(is_archive(p) and p.is_file() for p in [path, *path.parents])


def writable(path: Path, command: str) -> Path:
    """The migrations directory, for a command that writes into it: never an archive."""
    if within(path):
        raise UsageError(f"{command}: {path} is an archive, which dbinit only reads: run dbinit {command} in the "
                         "folder it was made from, then dbinit archive again")
    return path
