"""Migration files: discovery, naming, ordering and checksums. Pure: no server I/O."""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .errors import InvalidMigrations, Problem

DATABASES = ("postgres", "neo4j", "redis")
EXTENSIONS = {".sql": "postgres", ".cypher": "neo4j", ".redis": "redis"}
INIT_SCRIPTS = {"postgres": "postgres-init.sql", "neo4j": "neo4j-init.cypher"}
INIT_VERSION = "init"
# NUL and the other C0 control characters but tab, line feed, form feed and carriage return.
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")

_DESC = r"(?P<desc>[\w.]+(?:-[\w.]+)*)"
_PG = re.compile(rf"V(?P<num>\d+)-{_DESC}-(?P<dir>up|down)\.sql")
_REDIS = re.compile(rf"V(?P<num>\d+)-{_DESC}\.redis")
_NEO4J = re.compile(rf"(?P<y>\d{{4}})-(?P<m>\d{{2}})-(?P<d>\d{{2}})-(?P<num>\d+)-{_DESC}\.cypher")

EXPECTED = {
    "postgres": "V<digits>-<description>-up.sql (and optionally V<digits>-<description>-down.sql), e.g. V001-add-session-tags-up.sql",
    "neo4j": "YYYY-MM-DD-NNN-<description>.cypher, e.g. 2025-01-15-001-add-product-rating-index.cypher",
    "redis": "V<digits>-<description>.redis, e.g. V001-rename-session-keys.redis",
}


@dataclass(frozen=True)
class Migration:
    db: str
    version: str  # canonical: "1" for V001, "2025-01-15-001" for Neo4j, "init" for a baseline script
    label: str  # as the file spells it: "V001", "2025-01-15-001"
    description: str
    path: Path
    text: str = field(repr=False)
    checksum: str
    down: Path | None = None

    @property
    def key(self) -> tuple:
        return version_key(self.db, self.version)

    @property
    def script(self) -> str:
        return self.path.name


def version_key(db: str, version: str) -> tuple:
    """Sort key: numbers compare as numbers, Neo4j versions by date then NNN; init first."""
    if version == INIT_VERSION:
        return (0,)
    if db == "neo4j":
        day, _, num = version.rpartition("-")
        return (1, day, int(num))
    return (1, int(version))


def version_label(db: str, version: str) -> str:
    """How a version is shown when no file spells it (a missing migration)."""
    return version if db == "neo4j" or version == INIT_VERSION else f"V{version}"


def normalise_version(db: str, text: str) -> str:
    """Turn a user-given version (V001, 1, 2025-01-15-001) into the canonical form."""
    if db == "neo4j":
        m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})-(\d+)", text)
        if not m:
            raise ValueError(f"{text!r} is not a Neo4j version (YYYY-MM-DD-NNN)")
        return f"{m[1]}-{m[2]}-{m[3]}-{int(m[4]):03d}"
    m = re.fullmatch(r"[Vv]?(\d+)", text)
    if not m:
        raise ValueError(f"{text!r} is not a version (V<digits>)")
    return str(int(m[1]))


def read_text(path: Path) -> tuple[str, str]:
    """File text with a UTF-8 BOM dropped and CRLF made LF, and the SHA-256 of that text.

    Raises Problem-carrying InvalidMigrations for unreadable or non-UTF-8 files.
    """
    try:
        raw = path.read_bytes()
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


@dataclass
class Catalog:
    """The migrations of one directory, per database, in order, plus optional baseline scripts."""

    migrations: dict[str, list[Migration]]
    init: dict[str, Migration]

    def databases(self) -> list[str]:
        return [db for db in DATABASES if self.migrations[db] or db in self.init]

    def all(self) -> list[Migration]:
        """Every script, per database: the baseline script first, then the migrations in order."""
        return [m for db in DATABASES for m in ([self.init[db]] if db in self.init else []) + self.migrations[db]]


def down_of(m: Migration) -> Migration:
    """The down script of a Postgres migration, read and checked like any migration file."""
    text, checksum = read_text(m.down)
    return Migration(m.db, m.version, m.label, m.description, m.down, text, checksum)


def _name_problem(db: str, name: str) -> str:
    """Say what is wrong with a name that does not match, with the nearest likely cause."""
    stem = name.rsplit(".", 1)[0]
    if re.search(r"\s", name):
        return f"has white space in its name; expected {EXPECTED[db]}"
    if db == "postgres":
        if re.fullmatch(r"V\d+__.+", stem):
            return f"looks like a Flyway name; dbinit expects {EXPECTED[db]}"
        if re.fullmatch(r"\d+_.+\.(up|down)", stem):
            return f"looks like a golang-migrate name; dbinit expects {EXPECTED[db]}"
        if re.fullmatch(r"v\d+-.+", stem):
            return f"the V must be upper-case; expected {EXPECTED[db]}"
        if re.fullmatch(r"V\d+-(up|down)", stem):
            return f"has no description; expected {EXPECTED[db]}"
        if re.fullmatch(rf"V\d+-{_DESC}", stem):
            return f"ends in neither -up nor -down; expected {EXPECTED[db]}"
        if re.fullmatch(r"V[^-]*\D[^-]*-.*", stem):
            return f"the version after V must be digits only; expected {EXPECTED[db]}"
    if db == "neo4j":
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}-[^\d].*", stem):
            return f"has no sequence number NNN after the date; expected {EXPECTED[db]}"
        if re.fullmatch(r"V\d+__.+", stem):
            return f"looks like a neo4j-migrations name; dbinit expects {EXPECTED[db]}"
    if db == "redis" and re.fullmatch(r"v\d+-.+", stem):
        return f"the V must be upper-case; expected {EXPECTED[db]}"
    return f"is not a valid {db} migration name; expected {EXPECTED[db]}"


def parse_name(db: str, path: Path) -> tuple[str, str, str, str]:
    """(version, label, description, direction) from a file name, or raise InvalidMigrations."""
    name = path.name
    pattern = {"postgres": _PG, "neo4j": _NEO4J, "redis": _REDIS}[db]
    m = pattern.fullmatch(name)
    if not m:
        raise InvalidMigrations([Problem(path, _name_problem(db, name))])
    direction = m.groupdict().get("dir") or "up"
    if db == "neo4j":
        try:
            date(int(m["y"]), int(m["m"]), int(m["d"]))
        except ValueError:
            raise InvalidMigrations(
                [Problem(path, f"{m['y']}-{m['m']}-{m['d']} is not a calendar date; expected {EXPECTED[db]}")]
            ) from None
        label = f"{m['y']}-{m['m']}-{m['d']}-{m['num']}"
        return normalise_version(db, label), label, m["desc"], direction
    return str(int(m["num"])), f"V{m['num']}", m["desc"], direction


def _candidates(directory: Path) -> list[tuple[str, Path]]:
    """(database, path) for every migration-looking file, flat or in a per-database subfolder."""
    found: list[tuple[str, Path]] = []
    problems: list[Problem] = []
    # os.scandir: the entry knows its own type, so a thousand files cost no thousand stat calls.
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.name in DATABASES and entry.is_dir():
            for sub in sorted(os.scandir(entry.path), key=lambda e: e.name):
                db = EXTENSIONS.get(os.path.splitext(sub.name)[1])
                if db is None or sub.name.startswith(".") or sub.is_dir():
                    continue
                if db != entry.name:
                    problems.append(Problem(Path(sub.path), f"is a {db} file in the {entry.name}/ folder; move it to {db}/"))
                found.append((db, Path(sub.path)))
        elif not entry.is_dir():
            db = EXTENSIONS.get(os.path.splitext(entry.name)[1])
            if db is not None:
                found.append((db, Path(entry.path)))
    if problems:
        raise InvalidMigrations(problems)
    return found


def discover(directory: Path, init_dir: Path | None = None) -> Catalog:
    """Read and check every migration file; raise one InvalidMigrations listing all problems."""
    if not directory.is_dir():
        raise InvalidMigrations([Problem(directory, "migrations directory does not exist (set DBINIT_MIGRATIONS)")])
    problems: list[Problem] = []
    ups: dict[str, dict[str, Migration]] = {db: {} for db in DATABASES}
    downs: dict[tuple[str, str], tuple[Path, str]] = {}
    try:
        candidates = _candidates(directory)
    except InvalidMigrations as e:
        problems += e.problems
        candidates = []
    for db, path in candidates:
        try:
            version, label, description, direction = parse_name(db, path)
            text, checksum = read_text(path)
        except InvalidMigrations as e:
            problems += e.problems
            continue
        if direction == "down":
            if (db, version) in downs:
                problems.append(Problem(path, f"duplicate down version {label}: also {downs[db, version][0].name}"))
            downs[db, version] = (path, description)
            continue
        if version in ups[db]:
            other = ups[db][version].path
            problems.append(Problem(path, f"duplicate version {label}: also {other.relative_to(directory)}; give one of them the next free number"))
            continue
        ups[db][version] = Migration(db, version, label, description, path, text, checksum)
    for (db, version), (path, description) in downs.items():
        up = ups[db].get(version)
        if up is None:
            problems.append(Problem(path, f"down file without its up file (expected {path.name[:-len('-down.sql')]}-up.sql)"))
        elif description != up.description:
            problems.append(Problem(path, f"down file without its up file: {up.label} is {up.path.name}; name the "
                                    f"down file {up.label}-{up.description}-down.sql"))
        else:
            ups[db][version] = Migration(up.db, up.version, up.label, up.description, up.path, up.text, up.checksum, path)
    init: dict[str, Migration] = {}
    if init_dir is not None and init_dir.is_dir():
        for db, name in INIT_SCRIPTS.items():
            path = init_dir / name
            if path.is_file():
                try:
                    text, checksum = read_text(path)
                except InvalidMigrations as e:
                    problems += e.problems
                    continue
                init[db] = Migration(db, INIT_VERSION, INIT_VERSION, "baseline script", path, text, checksum)
    if problems:
        raise InvalidMigrations(problems)
    return Catalog({db: sorted(ups[db].values(), key=lambda m: m.key) for db in DATABASES}, init)


@dataclass(frozen=True)
class Statement:
    """One statement (or Redis command line) of a file, with the line it starts on."""

    text: str
    line: int


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def slug(description: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", description.lower()).strip("-")


def new_paths(directory: Path, catalog: Catalog, db: str, description: str, today: date) -> list[Path]:
    """Names for a new migration: the next free number (Neo4j: today's date and next NNN)."""
    name = slug(description)
    if not name:
        raise ValueError("the description needs at least one letter or digit")
    folder = directory / db if (directory / db).is_dir() else directory
    existing = catalog.migrations[db]
    if db == "neo4j":
        day = today.isoformat()
        n = max((int(m.version.rsplit("-", 1)[1]) for m in existing if m.version.startswith(day)), default=0) + 1
        return [folder / f"{day}-{n:03d}-{name}.cypher"]
    width = max((len(m.label) - 1 for m in existing), default=3)
    version = f"V{max((int(m.version) for m in existing), default=0) + 1:0{width}d}"
    if db == "redis":
        return [folder / f"{version}-{name}.redis"]
    return [folder / f"{version}-{name}-up.sql", folder / f"{version}-{name}-down.sql"]
