"""One migration file as read from disk: its version, text and checksum. Pure: no server I/O."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InvalidMigrations, Problem
from .preconditions import Precondition
from .preconditions import parse as parse_preconditions

INIT_VERSION = "init"  # the version of a baseline script (init/), which sorts before every other
REPEATABLE = "R-"  # a repeatable file's name and version begin so: R-<description>, after every versioned one


def versioned(version: str) -> bool:
    """A versioned file's version: neither a baseline script's nor a repeatable file's (what out of
    order, down, rollback and --to reason about)."""
    return version != INIT_VERSION and not version.startswith(REPEATABLE)


# NUL and the other C0 control characters but tab, line feed, form feed and carriage return.
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")


@dataclass(frozen=True)
class Migration:
    db: str  # the registered database's name
    version: str  # canonical: "1" for V001, "2025-01-15-001" for a dated version, "init" for a baseline script
    label: str  # as the file spells it: "V001", "2025-01-15-001"
    description: str
    path: Path
    text: str = field(repr=False)
    checksum: str
    down: Path | None = None
    post_deploy: bool = False  # runs once the new version of the application is rolled out (phase.py)
    parameters: tuple[tuple[str, str], ...] = ()  # query parameters its placeholders became (placeholders.py)
    checkpoint: bool = False  # the schema as of its version, run on a database with no history (checkpoints.py)
    # A checkpoint's, as a run applies it: (version, description, checksum) of each file it stands
    # for but its own version's, recorded with it (as made by it, not run) in its transaction.
    covers: tuple[tuple[str, str, str], ...] = ()

    @property
    def key(self) -> tuple[object, ...]:
        from .registry import version_key

        return version_key(self.db, self.version)

    @property
    def script(self) -> str:
        return self.path.name

    @property
    def repeatable(self) -> bool:
        """Applied again whenever its text changes (views, functions, reference data), after the
        versioned files of its database."""
        return self.version.startswith(REPEATABLE)

    @property
    def preconditions(self) -> tuple[Precondition, ...]:
        """The queries in its header asked before it runs (of its text as filled: placeholders too)."""
        from .registry import get

        return parse_preconditions(self.text, get(self.db).comment, self.path)

    @property
    def phase(self) -> str:
        return "post-deploy" if self.post_deploy else "pre-deploy"


@dataclass(frozen=True)
class Statement:
    """One statement (or Redis command line) of a file, with the line it starts on."""

    text: str
    line: int


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def read_text(path: Path) -> tuple[str, str]:
    """File text with a UTF-8 BOM dropped and CRLF made LF, and the SHA-256 of that text.

    Raises Problem-carrying InvalidMigrations for unreadable or non-UTF-8 files.
    """
    from .archive import read_bytes

    try:
        raw = read_bytes(path)
    except OSError as e:
        raise InvalidMigrations([Problem(path, f"cannot be read: {e.strerror}")]) from e
    raw = raw.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n")
    if binary := _BINARY.search(raw):
        line = raw.count(b"\n", 0, binary.start()) + 1
        raise InvalidMigrations([Problem(path, f"holds binary content (byte 0x{binary[0][0]:02x}, a control "
                                         "character no text file has); migration files are text", line)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise InvalidMigrations(
            [Problem(path, f"is not UTF-8 (byte 0x{raw[e.start]:02x}); save it as UTF-8", line)]
        ) from e
    return text, hashlib.sha256(raw).hexdigest()


def kept_down(m: Migration) -> str | None:
    """The text of a migration's down script, kept with its history record so that an image without
    the file (the previous release, rolling back) can still revert it."""
    return down_of(m).text if m.down is not None else None


def down_of(m: Migration) -> Migration:
    """The down script of a migration, read and checked like any migration file."""
    assert m.down is not None
    text, checksum = read_text(m.down)
    return Migration(m.db, m.version, m.label, m.description, m.down, text, checksum, post_deploy=m.post_deploy)
