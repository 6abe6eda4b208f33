"""dbmate's folder: one file a version, `{version}_{name}.sql`, its `-- migrate:up` and
`-- migrate:down` sections each run in a transaction unless marked `transaction:false`. Its
history: `schema_migrations(version varchar)`, a row per applied version (DBMATE_MIGRATIONS_TABLE)."""
from __future__ import annotations

import os
import re
from datetime import date
from typing import Any, Mapping

from ....migration import Migration
from ....naming import words
from ....importing import Conversion, Converted
from ....peers import PeerHistory
from . import history, transactions

TITLE = "dbmate"
NAME = re.compile(r"(?P<num>\d+)(?:_(?P<title>.*))?\.sql")
SECTION = re.compile(r"^--\s*migrate:(?P<dir>up|down)\b(?P<options>[^\n]*)$", re.MULTILINE)


def convert(files: Mapping[str, str], today: date | None = None) -> Conversion:
    converted, consumed, look_at = [], [], []
    for name, text in sorted(files.items()):
        m = NAME.fullmatch(name)
        if m is None:
            look_at.append(f"{name}: not a {TITLE} migration name; left alone")
            continue
        sections = {s["dir"]: s for s in SECTION.finditer(text)}
        if "up" not in sections:
            look_at.append(f"{name}: has no -- migrate:up line; left alone")
            continue
        consumed.append(name)
        stem = f"V{m['num']}-{words(m['title'] or 'migration')}"
        ends = sorted([s.start() for s in sections.values()] + [len(text)])
        for direction, section in sections.items():
            part = text[section.end():min(e for e in ends if e > section.start())].strip("\n") + "\n"
            if direction == "down" and not transactions.statements(part):
                look_at.append(f"{name}: its down section is empty: no down file, so `dbinit down` stops above it")
                continue
            transaction = "transaction:false" not in section["options"].replace(" ", "")
            body = transactions.convert(part, TITLE, transaction)
            converted.append(Converted(f"{stem}-{direction}.sql", body.text, (name,),
                                       (f"its -- migrate:{direction} section",) + body.changes))
            look_at += [f"{name} ({direction}): {why}" for why in body.look_at]
        if "down" not in sections:
            look_at.append(f"{name}: has no down section: no down file, so `dbinit down` stops above it")
    return Conversion(converted, consumed, look_at)


def read_history(backend: Any, migrations: list[Migration]) -> PeerHistory | None:
    name = os.environ.get("DBMATE_MIGRATIONS_TABLE") or "schema_migrations"
    table = history.table(backend, name, ("version",), absent=("dirty",))
    if table is None:
        return None
    applied = sorted({int(v) for v, in backend.connection.execute(f"SELECT version FROM {table}")})
    if not applied:
        return None
    files = {int(m.version): m.version for m in migrations if not m.repeatable}
    return PeerHistory(TITLE, table, f"{len(applied)} versions, the newest {applied[-1]}",
                       [files[v] for v in applied if v in files], unknown=[str(v) for v in applied if v not in files])

