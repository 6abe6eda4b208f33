"""golang-migrate's folder: `{version}_{title}.up.sql` and `.down.sql`, paired by version alone
(their titles may differ); each file sent as one multi-statement query, so a file holds its own
BEGIN … COMMIT blocks. Its history: `schema_migrations(version bigint, dirty boolean)`, one row."""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Mapping

from ....errors import Problem
from ....migration import Migration
from ....naming import words
from ....importing import Conversion, Converted
from ....peers import PeerHistory
from . import history, transactions

TITLE = "golang-migrate"
NAME = re.compile(r"(?P<num>\d+)_(?P<title>.*)\.(?P<dir>up|down)\.sql")


def convert(files: Mapping[str, str], today: date | None = None) -> Conversion:
    pairs: dict[int, dict[str, str]] = {}
    look_at, problems = [], []
    for name in files:
        m = NAME.fullmatch(name)
        if m is None:
            look_at.append(f"{name}: not a {TITLE} migration name; left alone")
            continue
        pair = pairs.setdefault(int(m["num"]), {})
        if m["dir"] in pair:
            problems.append(Problem(None, f"{name}: version {m['num']} twice ({pair[m['dir']]}); {TITLE} refuses "
                                    "this folder too"))
        pair[m["dir"]] = name
    converted, consumed = [], []
    for number, pair in sorted(pairs.items()):
        if "up" not in pair:
            look_at.append(f"{pair['down']}: a down file without its up file; not imported")
            continue
        up = NAME.fullmatch(pair["up"])
        assert up is not None
        stem = f"V{up['num']}-{words(up['title'])}"
        for direction in ("up", "down"):
            if direction not in pair:
                continue
            name = pair[direction]
            body = transactions.convert(files[name], TITLE)
            changes = body.changes
            down = NAME.fullmatch(name)
            if direction == "down" and down is not None and down["title"] != up["title"]:
                changes = (f"named after its up file {pair['up']}: {TITLE} pairs by number only",) + changes
            converted.append(Converted(f"{stem}-{direction}.sql", body.text, (name,), changes))
            consumed.append(name)
            look_at += [f"{name}: {why}" for why in body.look_at]
    return Conversion(converted, consumed, look_at, problems)


def read_history(backend: Any, migrations: list[Migration]) -> PeerHistory | None:
    table = history.table(backend, "schema_migrations", ("version", "dirty"))
    if table is None:
        return None
    row = backend.connection.execute(f"SELECT version, dirty FROM {table} LIMIT 1").fetchone()
    if row is None:
        return None
    version, dirty = int(row[0]), bool(row[1])
    covered = [m.version for m in migrations if not m.repeatable and int(m.version) <= version]
    known = {int(m.version) for m in migrations if not m.repeatable}
    refused = (f"{TITLE}'s history is dirty at version {version}: that migration failed partway. Finish or undo it "
               f"by hand, then `migrate force {version}` (or the version before it), and adopt again") if dirty else None
    return PeerHistory(TITLE, table, f"at version {version}{', dirty' if dirty else ''}", covered, refused,
                       [] if version in known else [str(version)])

