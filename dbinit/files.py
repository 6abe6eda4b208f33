"""Migration files: discovery, naming, ordering. Pure: no server I/O."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Mapping

from . import archive, phase, preconditions, registry
from .errors import InvalidMigrations, Problem
from .migration import INIT_VERSION, REPEATABLE, Migration, read_text


@dataclass
class Catalog:
    """The migrations of one directory, per database, in order, plus optional baseline scripts and
    checkpoints (the schema as of a version: checkpoints.py), each database's oldest first."""

    migrations: dict[str, list[Migration]]
    init: dict[str, Migration]
    checkpoints: dict[str, list[Migration]] = field(default_factory=dict)

    def databases(self) -> list[str]:
        return [db for db in registry.names() if self.migrations.get(db) or db in self.init]

    def all(self) -> list[Migration]:
        """Every script, per database: the baseline script first, then the migrations in order, then
        the checkpoints."""
        return [m for db in registry.names() for m in ([self.init[db]] if db in self.init else [])
                + self.migrations.get(db, []) + self.checkpoints.get(db, [])]

    @classmethod
    def empty(cls) -> Catalog:
        return cls({db: [] for db in registry.names()}, {})

    def filled(self, values: Mapping[str, str], only: Callable[[Migration], bool] | None = None) -> Catalog:
        """Every file (or those `only` picks) with its placeholders filled; one InvalidMigrations
        listing every problem."""
        problems: list[Problem] = []

        def fill(m: Migration) -> Migration:
            if only is not None and not only(m):
                return m
            try:
                return registry.get(m.db).fill(m, values)
            except InvalidMigrations as e:
                problems.extend(e.problems)
                return m

        catalog = Catalog({db: [fill(m) for m in ms] for db, ms in self.migrations.items()},
                          {db: fill(m) for db, m in self.init.items()},
                          {db: [fill(m) for m in ms] for db, ms in self.checkpoints.items()})
        if problems:
            raise InvalidMigrations(problems)
        return catalog


def version_key(db: str, version: str) -> tuple[object, ...]:
    return registry.version_key(db, version)


def normalise_version(db: str, text: str) -> str:
    """Turn a user-given version (V001, 1, 2025-01-15-001) into the canonical form; ValueError if not one."""
    return registry.get(db).naming.normalise(text)


def _candidates(directory: Path, init_dir: Path | None = None) -> list[tuple[str, Path]]:
    """(database, path) for every migration-looking file, flat or in a per-database subfolder. A
    migration file where dbinit does not read (another folder, a folder in a database's, an
    extension in capitals) is a problem: skipping it would leave the database unmigrated."""
    extensions = {d.extension: d.name for d in registry.databases()}
    found: list[tuple[str, Path]] = []
    problems: list[Problem] = []

    def file(entry: archive.Entry, folder: str | None) -> None:
        extension = os.path.splitext(entry.name)[1]
        db = extensions.get(extension)
        if db is None:
            if extension.lower() in extensions:
                problems.append(Problem(Path(entry.path), f"is not read: the extension must be lower-case "
                                        f"({extension.lower()})"))
            return
        if folder is not None and db != folder:
            problems.append(Problem(Path(entry.path), f"is a {db} file in the {folder}/ folder; move it to {db}/"))
        found.append((db, Path(entry.path)))

    def unread(entry: archive.Entry, inside: str | None) -> None:
        """A folder dbinit does not read: a problem when migration files are in it."""
        if init_dir is not None and Path(entry.path).absolute() == init_dir.absolute():
            return
        stray = sorted(p for p in archive.files_under(Path(entry.path)) if p.suffix.lower() in extensions)
        if not stray:
            return
        where = (f"dbinit reads no folder inside {inside}/: move them up into {inside}/" if inside else
                 f"dbinit reads only the files of {directory} and of its subfolders "
                 f"{', '.join(n + '/' for n in extensions.values())}: move them there")
        problems.append(Problem(Path(entry.path), f"holds {len(stray)} migration file(s) that would never run "
                                f"(such as {stray[0].name}); {where}"))

    # scandir: the entry knows its own type, so a thousand files cost no thousand stat calls.
    for entry in sorted(archive.scandir(directory), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and entry.name in extensions.values():
            for sub in sorted(archive.scandir(Path(entry.path)), key=lambda e: e.name):
                if sub.name.startswith("."):
                    continue
                if sub.is_dir():
                    unread(sub, entry.name)
                else:
                    file(sub, entry.name)
        elif entry.is_dir():
            unread(entry, None)
        else:
            file(entry, None)
    if problems:
        raise InvalidMigrations(problems)
    return found


def discover(directory: Path, init_dir: Path | None = None) -> Catalog:
    """Read and check every migration file; raise one InvalidMigrations listing all problems."""
    if not archive.is_dir(directory):
        raise InvalidMigrations([Problem(directory, (
            f"is a file, neither a folder nor an archive ({' or '.join(archive.SUFFIXES)})" if directory.is_file() else
            "migrations directory does not exist") + " (set DBINIT_MIGRATIONS)")])
    problems: list[Problem] = []
    ups: dict[str, dict[str, Migration]] = {db: {} for db in registry.names()}
    downs: dict[tuple[str, str], tuple[Path, str]] = {}
    checkpoints: dict[str, dict[str, Migration]] = {db: {} for db in registry.names()}
    try:
        candidates = _candidates(directory, init_dir)
    except InvalidMigrations as e:
        problems += e.problems
        candidates = []
    for db, path in candidates:
        try:
            name = registry.get(db).naming.parse(path)
            text, checksum = read_text(path)
            post_deploy = phase.is_post_deploy(text, registry.get(db).comment, path, name.down)
            preconditions.parse(text, registry.get(db).comment, path, name.down)
        except InvalidMigrations as e:
            problems += e.problems
            continue
        if name.checkpoint:
            if post_deploy:
                problems.append(Problem(path, "a checkpoint cannot be post-deploy: it is the whole schema as of its "
                                        "version, run first on a database with no history"))
            elif name.version in checkpoints[db]:
                problems.append(Problem(path, f"duplicate checkpoint {name.label}: also "
                                        f"{checkpoints[db][name.version].path.name}"))
            else:
                checkpoints[db][name.version] = Migration(db, name.version, name.label, name.description, path, text,
                                                          checksum, checkpoint=True)
            continue
        if name.down:
            if (db, name.version) in downs:
                problems.append(Problem(path, f"duplicate down version {name.label}: also {downs[db, name.version][0].name}"))
            downs[db, name.version] = (path, name.description)
            continue
        if name.version in ups[db]:
            other = ups[db][name.version].path
            problems.append(Problem(path, f"duplicate version {name.label}: also {other.relative_to(directory)}; "
                                    "give one of them the next free number"))
            continue
        ups[db][name.version] = Migration(db, name.version, name.label, name.description, path, text, checksum,
                                          post_deploy=post_deploy)
    for (db, version), (path, description) in downs.items():
        up_suffix, down_suffix = registry.get(db).naming.suffixes
        up = ups[db].get(version)
        if up is None:
            problems.append(Problem(path, f"down file without its up file (expected "
                                    f"{path.name[:-len(down_suffix)]}{up_suffix})"))
        elif description != up.description:
            problems.append(Problem(path, f"down file without its up file: {up.label} is {up.path.name}; name the "
                                    f"down file {up.label}-{up.description}{down_suffix}"))
        else:
            ups[db][version] = Migration(up.db, up.version, up.label, up.description, up.path, up.text, up.checksum, path,
                                         up.post_deploy)
    init: dict[str, Migration] = {}
    if init_dir is not None and init_dir.is_dir():
        for database in registry.databases():
            script = init_dir / database.init_script if database.init_script else None
            if script is not None and script.is_file():
                try:
                    text, checksum = read_text(script)
                except InvalidMigrations as e:
                    problems += e.problems
                    continue
                init[database.name] = Migration(database.name, INIT_VERSION, INIT_VERSION, "baseline script", script,
                                                text, checksum)
    if problems:
        raise InvalidMigrations(problems)
    return Catalog({db: sorted(ups[db].values(), key=lambda m: m.key) for db in ups}, init,
                   {db: sorted(cs.values(), key=lambda m: m.key) for db, cs in checkpoints.items() if cs})


def slug(description: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", description.lower()).strip("-")


def new_paths(directory: Path, catalog: Catalog, db: str, description: str, now: datetime,
              repeatable: bool = False) -> list[Path]:
    """Names for a new migration: the next free version in the database's naming scheme, or a
    repeatable file's R-<description>."""
    name = slug(description)
    if not name:
        raise ValueError("the description needs at least one letter or digit")
    folder = directory / db if (directory / db).is_dir() else directory
    naming = registry.get(db).naming
    existing = catalog.migrations.get(db, [])
    if repeatable:
        if any(m.version == f"{REPEATABLE}{name}" for m in existing):
            raise ValueError(f"there is a repeatable {db} file {REPEATABLE}{name} already; edit it")
        return [folder / f"{REPEATABLE}{name}{naming.extension}"]
    return [folder / n for n in naming.new_names([m for m in existing if not m.repeatable], name, now)]
