"""Flyway's folder: `V{version}__{description}.sql`, undo files `U…`, repeatable `R__…`; versions
may be dotted (1.1, or 1_1), which dbinit's whole numbers cannot hold: such a set is renumbered in
Flyway's order, each file saying the version it had. Each file runs in a transaction, or outside
one when it holds a statement that cannot (CONCURRENTLY). Its history: `flyway_schema_history`."""
from __future__ import annotations

import re
import zlib
from datetime import date
from typing import Any, Mapping

from ....errors import Problem
from ....migration import REPEATABLE, Migration
from ....naming import dotted, words
from ....importing import Conversion, Converted
from ....peers import PeerHistory
from . import history, transactions

TITLE = "Flyway"
NAME = re.compile(r"(?P<prefix>[VUR])(?P<version>[\d._]*)__(?P<desc>.+)\.sql")
ORIGIN = re.compile(r"--\s*Flyway version (?P<version>\S+)")


def convert(files: Mapping[str, str], today: date | None = None) -> Conversion:
    versioned: dict[tuple[int, ...], dict[str, str]] = {}
    converted, consumed, look_at, problems = [], [], [], []
    for path, text in files.items():
        name = path.rsplit("/", 1)[-1]
        m = NAME.fullmatch(name)
        if m is None:
            look_at.append(f"{path}: not a {TITLE} migration name (a callback, or a baseline migration of its paid "
                           "editions); left alone")
        elif m["prefix"] == "R":
            body = transactions.convert(text, TITLE)
            converted.append(Converted(f"{REPEATABLE}{words(m['desc'])}.sql", body.text, (path,), body.changes))
            consumed.append(path)
        elif not m["version"]:
            problems.append(Problem(None, f"{path}: a versioned {TITLE} file without a version"))
        else:
            pair = versioned.setdefault(dotted(m["version"]), {})
            if m["prefix"] in pair:
                problems.append(Problem(None, f"{path}: version {m['version']} twice ({pair[m['prefix']]})"))
            pair[m["prefix"]] = path
    renumber = any(len(v) > 1 for v in versioned)
    width = max(3, len(str(len(versioned))))
    for rank, (version, pair) in enumerate(sorted(versioned.items()), 1):
        if "V" not in pair:
            look_at.append(f"{pair['U']}: an undo file without its versioned file; not imported")
            continue
        up = NAME.fullmatch(pair["V"].rsplit("/", 1)[-1])
        assert up is not None
        number = f"{rank:0{width}d}" if renumber else up["version"]
        written = ".".join(map(str, version))
        for prefix, direction in (("V", "up"), ("U", "down")):
            if prefix not in pair:
                continue
            body = transactions.convert(files[pair[prefix]], TITLE)
            text, changes = body.text, body.changes
            if renumber:  # below the directive, which must stay the first line
                directive = transactions.DIRECTIVE if text.startswith(transactions.DIRECTIVE) else ""
                origin = f"-- Flyway version {written} ({pair[prefix].rsplit('/', 1)[-1]})\n"
                text = directive + origin + text[len(directive):]
                changes = (f"renumbered V{number}: the set has dotted versions, and dbinit's are whole numbers",) + changes
            converted.append(Converted(f"V{number}-{words(up['desc'])}-{direction}.sql", text, (pair[prefix],), changes))
            consumed.append(pair[prefix])
            look_at += [f"{pair[prefix]}: {why}" for why in body.look_at]
    for c in converted:
        if "${flyway:" in c.text:
            look_at.append(f"{c.sources[0]}: uses Flyway's own placeholders (${{flyway:…}}); give dbinit the value "
                           "with DBINIT_PLACEHOLDER_<NAME> under a name of your own")
    return Conversion(converted, consumed, look_at, problems)


def checksum(text: str) -> int:
    """Flyway's checksum of a file: CRC-32 over its lines without their line breaks, as a signed int."""
    crc = zlib.crc32("".join(text.removeprefix("\ufeff").splitlines()).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def _flyway_version(m: Migration) -> str:
    """The Flyway version a dbinit file came from: its first lines say so when it was renumbered."""
    origin = ORIGIN.search("\n".join(m.text.split("\n", 2)[:2]))
    return origin["version"] if origin else m.version


def _as_flyway(m: Migration) -> str:
    """The file's text as Flyway had it: without the lines import added in front."""
    lines = m.text.split("\n")
    while lines and (ORIGIN.match(lines[0]) or lines[0].strip() == transactions.DIRECTIVE.strip()):
        lines.pop(0)
    return "\n".join(lines)


def read_history(backend: Any, migrations: list[Migration]) -> PeerHistory | None:
    table = history.table(backend, "flyway_schema_history", ("installed_rank", "version", "checksum", "success"))
    if table is None:
        return None
    rows = backend.connection.execute(
        f"SELECT version, description, type, checksum, success FROM {table} ORDER BY installed_rank").fetchall()
    applied: dict[str, int | None] = {}  # Flyway version (or R__description) → checksum
    baseline: tuple[int, ...] | None = None
    for version, description, kind, crc, success in rows:
        if not success:
            continue
        if kind == "BASELINE":
            baseline = dotted(version)
        elif kind == "UNDO_SQL":
            applied.pop(version, None)
        elif version is None:
            applied[f"{REPEATABLE}{words(description)}"] = crc
        elif kind in ("SQL", "JDBC"):
            applied[".".join(map(str, dotted(version)))] = crc
    if not applied and baseline is None:
        return None
    failed = [f"{v}" for v, _, kind, _, success in rows if not success and v is not None]
    files = {(m.version if m.repeatable else ".".join(map(str, dotted(_flyway_version(m))))): m
             for m in migrations}
    covered, warnings = [], []
    for key, m in files.items():
        if m.repeatable:
            if key in applied and applied[key] == checksum(m.text):
                covered.append(m.version)
            continue
        if key in applied or (baseline is not None and dotted(key) <= baseline):
            covered.append(m.version)
            if key in applied and applied[key] is not None and applied[key] != checksum(_as_flyway(m)):
                warnings.append(f"{m.path.name} is not the file Flyway applied as version {key} (its checksum "
                                "differs): compare them before relying on it")
    refused = (f"{TITLE}'s history has failed migrations ({', '.join(failed)}): repair them with Flyway first, then "
               "adopt") if failed else None
    newest = max((k for k in applied if not k.startswith(REPEATABLE)), key=dotted, default=None)
    return PeerHistory(TITLE, table, f"{len(applied)} migrations, the newest {newest}", covered, refused,
                       [k for k in applied if k not in files and not k.startswith(REPEATABLE)], warnings)

