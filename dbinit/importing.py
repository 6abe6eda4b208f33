"""`dbinit import TOOL [FOLDER]`: another tool's folder converted into dbinit's files (each tool's
conversion is pure: file name → text in, dbinit's files out), in place or into the migrations
directory, nothing written when a file cannot be converted."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

from . import archive, peers, registry
from .errors import InvalidMigrations, Problem, UsageError
from .settings import Settings


@dataclass(frozen=True)
class Converted:
    """One file of dbinit's, made from one or two of the peer's."""

    name: str
    text: str
    sources: tuple[str, ...]
    changes: tuple[str, ...] = ()  # what changed beyond the name


@dataclass(frozen=True)
class Conversion:
    files: list[Converted]
    consumed: list[str]  # the peer's files it converted: removed when importing in place
    look_at: list[str] = field(default_factory=list)  # "NAME: why", for a person to decide
    problems: list[Problem] = field(default_factory=list)  # nothing is written when there are any


def read(source: Path, extension: str) -> tuple[dict[str, str], list[str]]:
    """The text of every file of `extension` in `source` and its subfolders, by path relative to it;
    and the other files whose names look like migrations (the tool's XML or Java ones), but another
    database's own (a shared folder)."""
    theirs = {d.extension for d in registry.databases()} - {extension}
    if not source.is_dir():
        raise InvalidMigrations([Problem(source, "is not a directory: give the folder the other tool reads")])
    found, others = {}, []
    for root, dirs, names in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root, name)
            if name.startswith("."):
                continue
            if path.suffix != extension:
                if re.match(r"[A-Za-z]?\d", name) and path.suffix not in theirs:
                    others.append(f"{path.relative_to(source)}: not a {extension} file; not imported")
                continue
            try:
                found[str(path.relative_to(source))] = path.read_bytes().decode("utf-8-sig")
            except (OSError, UnicodeDecodeError) as e:
                raise InvalidMigrations([Problem(path, f"cannot be read as UTF-8 text ({e})")]) from None
    return found, others


def move(peer: peers.Peer, source: Path, target: Path) -> Conversion:
    """Convert the peer's folder `source` into dbinit's files in `target`: in place when they are the
    same folder (the peer's files removed once every new one is written), else into a folder with no
    migration files yet. Nothing is written when a file cannot be converted."""
    texts, others = read(source, peer.extension)
    conversion = peer.convert(texts, date.today())
    conversion.look_at.extend(others)
    if conversion.problems:
        raise InvalidMigrations(conversion.problems)
    if not conversion.files:
        raise InvalidMigrations([Problem(source, f"holds no {peer.title} migration files")])
    in_place = target.absolute() == source.absolute()
    extension = registry.get(peer.database).extension  # another database's files there are no matter
    if not in_place and target.is_dir():
        there = sorted(p.name for p in target.rglob("*") if p.suffix == extension)
        if there:
            raise UsageError(f"import: {target} holds {registry.get(peer.database).title} migration files already "
                             f"({there[0]}, …): import into a folder without them, or in place with --migrations "
                             f"{source}")
    clashes = [c.name for c in conversion.files if (target / c.name).exists() and c.name not in conversion.consumed]
    if clashes:
        raise UsageError(f"import: {target / clashes[0]} exists already; nothing was written")
    target.mkdir(parents=True, exist_ok=True)
    for c in conversion.files:
        (target / c.name).write_text(c.text, encoding="utf-8")
    if in_place:
        written = {c.name for c in conversion.files}
        for name in conversion.consumed:
            if name not in written:
                (source / name).unlink()
    return conversion


class Done(NamedTuple):
    conversion: Conversion
    source: Path
    target: Path
    in_place: bool


def run(settings: Settings, tool: str, source: Path | None) -> Done:
    peer = registry.peer(tool)
    folder = source or _where(peer, settings)
    conversion = move(peer, folder, archive.writable(settings.migrations, "import"))
    return Done(conversion, folder, settings.migrations, folder.absolute() == settings.migrations.absolute())


def _where(peer: peers.Peer, settings: Settings) -> Path:
    """The peer's folder when none is given: the one its variable names (then it is the migrations
    directory too, and the import is in place), else its usual one when there is one, else the
    migrations directory itself."""
    named = peer.migrations_variable and os.environ.get(peer.migrations_variable)
    usual = Path(peer.default_source) if peer.default_source and not named else None
    return usual if usual is not None and usual.is_dir() else settings.migrations
