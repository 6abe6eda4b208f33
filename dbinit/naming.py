"""Naming schemes of migration files: what a name means (version, description, up or down), how
versions order, and the names `dbinit new` makes. A database picks one and gives its suffixes."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple, Sequence

from .errors import InvalidMigrations, Problem
from .migration import REPEATABLE, Migration

DESCRIPTION = r"(?P<desc>[\w.]+(?:-[\w.]+)*)"
TIMESTAMP = "%Y%m%d%H%M%S"  # the versions dbmate, golang-migrate -format and goose make


def dotted(text: str) -> tuple[int, ...]:
    """Another tool's version as numbers: Flyway's and neo4j-migrations' 1.1, also written 1_1."""
    return tuple(int(p) for p in re.split(r"[._]", text) if p)


def words(text: str) -> str:
    """Another tool's title as a dbinit description: words joined by hyphens (add_users: add-users)."""
    return re.sub(r"-+", "-", re.sub(r"[^\w.]+|_", "-", text)).strip("-") or "migration"


class Name(NamedTuple):
    version: str  # canonical
    label: str  # as the file spells it
    description: str
    down: bool
    checkpoint: bool = False  # the schema as of its version (checkpoints.py)


@dataclass(frozen=True)
class Naming:
    """`suffixes`: how an up file's name ends, and a down file's when the database has them.
    `hints`: a stem pattern and what to say when a name that does not match fits it ({expected}
    stands for the expected form)."""

    pattern: re.Pattern[str]
    expected: str
    suffixes: tuple[str, ...]
    what: str  # "postgres migration": what a bad name is not
    hints: tuple[tuple[str, str], ...] = ()
    version_word: str = "version"  # "Neo4j version": what a bad version given on the command line is not
    checkpoint_suffix: str | None = None  # how a checkpoint's name ends, where the database can have one

    def is_checkpoint(self, script: str) -> bool:
        """Whether a file name (a history record's script) is a checkpoint's."""
        return self.checkpoint_suffix is not None and script.endswith(self.checkpoint_suffix)

    @property
    def down_suffix(self) -> str | None:
        return self.suffixes[1] if len(self.suffixes) > 1 else None

    @property
    def extension(self) -> str:
        return "." + self.suffixes[0].rsplit(".", 1)[1]

    def parse(self, path: Path) -> Name:
        """A versioned file's name, or a repeatable one's (R-<description>.sql: its version is its name)."""
        if r := re.fullmatch(rf"{REPEATABLE}{DESCRIPTION}{re.escape(self.extension)}", path.name):
            parts = [s for s in self.suffixes if s != self.extension]  # -up.sql, -down.sql: not a repeatable's
            if not re.match(r"\d+-", r["desc"]) and not path.name.endswith(tuple(parts)):
                return Name(f"{REPEATABLE}{r['desc']}", f"{REPEATABLE}{r['desc']}", r["desc"], False)
        m = self.pattern.fullmatch(path.name)
        if not m:
            raise InvalidMigrations([Problem(path, self.problem(path.name))])
        version, label = self._version(path, m)
        kind = m.groupdict().get("dir")
        return Name(version, label, m["desc"], kind == "down", kind == "checkpoint")

    def problem(self, name: str) -> str:
        """What is wrong with a name that does not match, with the nearest likely cause."""
        if re.search(r"\s", name):
            return f"has white space in its name; expected {self.expected}"
        odd = sorted(set(re.findall(r"[^\w.-]", name)))
        if odd and self.pattern.fullmatch(re.sub(r"[^\w.-]", "-", name)):  # all but those characters fits
            return (f"its description holds characters a name may not have ({' '.join(odd)}): use letters, digits, "
                    f"'.', '_' and '-'; expected {self.expected}")
        stem = name.rsplit(".", 1)[0]
        repeatable = f"{REPEATABLE}<description>{self.extension}"
        if re.fullmatch(r"R-?\d+-.+", stem):
            return f"a repeatable file has no version: name it {repeatable}, or give a versioned file {self.expected}"
        if re.fullmatch(r"R-.+-(up|down)(\.\w+)?", stem):
            return f"a repeatable file has no up or down part: name it {repeatable}"
        if re.fullmatch(r"r-.+", stem):
            return f"the R of a repeatable file must be upper-case: {repeatable}"
        for pattern, say in self.hints:
            if hint := re.fullmatch(pattern, stem):
                parts = {k: words(v) if k == "desc" else v for k, v in hint.groupdict().items()}
                return say.format(expected=self.expected, **parts)
        return f"is not a valid {self.what} name; expected {self.expected}"

    def _version(self, path: Path, m: re.Match[str]) -> tuple[str, str]:
        raise NotImplementedError

    def key(self, version: str) -> tuple[object, ...]:
        raise NotImplementedError

    def label(self, version: str) -> str:
        raise NotImplementedError

    def normalise(self, text: str) -> str:
        """A user-given version (V001, 1, 2025-01-15-001) in the canonical form; ValueError if not one."""
        raise NotImplementedError

    def new_names(self, existing: Sequence[Migration], slug: str, now: datetime) -> list[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class Numbered(Naming):
    """V<digits>-<description><suffix>: versions are integers, so V10 follows V9."""

    def _version(self, path: Path, m: re.Match[str]) -> tuple[str, str]:
        return str(int(m["num"])), f"V{m['num']}"

    def key(self, version: str) -> tuple[object, ...]:
        return (int(version),)

    def label(self, version: str) -> str:
        return f"V{version}"

    def normalise(self, text: str) -> str:
        m = re.fullmatch(r"[Vv]?(\d+)", text)
        if not m:
            raise ValueError(f"{text!r} is not a {self.version_word} (V<digits>)")
        return str(int(m[1]))

    def new_names(self, existing: Sequence[Migration], slug: str, now: datetime) -> list[str]:
        """The next free number, as wide as the widest so far (three digits at first); after
        timestamp versions (another tool's), the time now, as they were made."""
        newest = max((int(m.version) for m in existing), default=0)
        if existing and _timestamp(str(newest)):  # never the same second twice, nor a second 60
            after = datetime.strptime(str(newest), TIMESTAMP) + timedelta(seconds=1)
            stamp = max(now.replace(tzinfo=None), after).strftime(TIMESTAMP)
            return [f"V{stamp}-{slug}{suffix}" for suffix in self.suffixes]
        width = max((len(m.label) - 1 for m in existing), default=3)
        return [f"V{newest + 1:0{width}d}-{slug}{suffix}" for suffix in self.suffixes]


@dataclass(frozen=True)
class Dated(Naming):
    """YYYY-MM-DD-NNN-<description><suffix>: a real calendar date, then NNN."""

    def _version(self, path: Path, m: re.Match[str]) -> tuple[str, str]:
        try:
            date(int(m["y"]), int(m["m"]), int(m["d"]))
        except ValueError:
            raise InvalidMigrations([Problem(path, f"{m['y']}-{m['m']}-{m['d']} is not a calendar date; "
                                             f"expected {self.expected}")]) from None
        label = f"{m['y']}-{m['m']}-{m['d']}-{m['num']}"
        return self.normalise(label), label

    def key(self, version: str) -> tuple[object, ...]:
        day, _, num = version.rpartition("-")
        return (day, int(num))

    def label(self, version: str) -> str:
        return version

    def normalise(self, text: str) -> str:
        m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})-(\d+)", text)
        if not m:
            raise ValueError(f"{text!r} is not a {self.version_word} (YYYY-MM-DD-NNN)")
        return f"{m[1]}-{m[2]}-{m[3]}-{int(m[4]):03d}"

    def new_names(self, existing: Sequence[Migration], slug: str, now: datetime) -> list[str]:
        """Today's date and the next NNN of the day."""
        day = now.date().isoformat()
        n = max((int(m.version.rsplit("-", 1)[1]) for m in existing if m.version.startswith(day)), default=0) + 1
        return [f"{day}-{n:03d}-{slug}{suffix}" for suffix in self.suffixes]


def _timestamp(version: str) -> bool:
    """A version made of the time it was written (20240115093000)."""
    try:
        return len(version) == 14 and datetime.strptime(version, TIMESTAMP).year >= 2000
    except ValueError:
        return False
