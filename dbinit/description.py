"""A database's schema described as a value: the objects each database's package describes from its server
(`contract.Inspects`), rendered as a file that recreates them, digested, stored with the history,
and compared (drift). Shared: knows no database."""
from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

FORMAT = 1  # of the stored record: a record of another format is compared as "record again"


class Item(NamedTuple):
    """One object: its kind ("table", "index", "function library"), its qualified name, and the
    statements that recreate it, as the file holds them. A tuple: thousands are made for a large
    schema."""

    kind: str
    name: str
    text: str

    @property
    def key(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Description:
    db: str
    server: str  # what deparsed it ("PostgreSQL 15"): a record by another major version is not compared
    items: tuple[Item, ...]  # in the file's order
    head: str = ""  # the file's first lines: what it is, how to load it, the session settings it needs

    def text(self) -> str:
        """The schema file: deterministic, no time, host or version of dbinit in it."""
        return self.head + "".join(f"\n{item.text}\n" for item in self.items)

    @property
    def digest(self) -> str:
        """Of the objects, whatever their order (a record that kept a change by hand is in another)."""
        return hashlib.sha256(json.dumps(sorted([i.kind, i.name, i.text] for i in self.items)).encode()).hexdigest()

    def by_key(self) -> dict[str, Item]:
        return {item.key: item for item in self.items}


class Change(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class Difference:
    kind: str
    name: str
    change: Change
    recorded: str | None  # the object's statements as recorded, None when added
    live: str | None  # as the server has them now, None when removed

    @property
    def key(self) -> str:
        return f"{self.kind} {self.name}"

    def __str__(self) -> str:
        return f"{self.kind} {self.name} {self.change}"

    def document(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "change": str(self.change)}


def differences(recorded: Description, live: Description) -> list[Difference]:
    """Each object added, removed or changed since the record, in the live file's order then the
    removed ones in the record's."""
    before, now = recorded.by_key(), live.by_key()
    found = [Difference(i.kind, i.name, Change.ADDED if i.key not in before else Change.CHANGED,
                        before[i.key].text if i.key in before else None, i.text)
             for i in live.items if before.get(i.key, None) is None or before[i.key].text != i.text]
    return found + [Difference(i.kind, i.name, Change.REMOVED, i.text, None) for i in recorded.items if i.key not in now]


def carried(recorded: Description, before: Description, after: Description) -> Description:
    """The description to record after a run: `after`, except that what had drifted before the run
    (and the run did not touch) stays as recorded, so the drift is still reported until a person
    accepts it or a migration makes it so."""
    by_hand = {d.key for d in differences(recorded, before)} - {d.key for d in differences(before, after)}
    was, now = recorded.by_key(), after.by_key()
    items = [was.get(i.key) if i.key in by_hand else i for i in after.items]
    items += [i for i in recorded.items if i.key in by_hand and i.key not in now]
    return Description(after.db, after.server, tuple(i for i in items if i is not None), after.head)


@dataclass(frozen=True)
class Record:
    """A description as dbinit stored it after a run that changed the schema, or as a person accepted it."""

    description: Description
    recorded_at: datetime
    recorded_by: str
    reason: str
    format: int = FORMAT

    def encode(self) -> str:
        d = self.description
        return json.dumps({"format": self.format, "server": d.server, "digest": d.digest, "head": d.head,
                           "items": [[i.kind, i.name, i.text] for i in d.items], "recorded_at": self.recorded_at.isoformat(),
                           "recorded_by": self.recorded_by, "reason": self.reason})

    @staticmethod
    def decode(db: str, text: str) -> Record:
        data = json.loads(text)
        items = tuple(Item(*item) for item in data.get("items", []))
        return Record(Description(db, data.get("server", ""), items, data.get("head", "")),
                      datetime.fromisoformat(data["recorded_at"]), data.get("recorded_by", ""), data.get("reason", ""),
                      data.get("format", 0))


class Drift(enum.StrEnum):
    SAME = "as recorded"
    DRIFTED = "drifted"
    UNRECORDED = "not recorded"  # no run recorded it yet (a database migrated by an older dbinit)
    INCOMPARABLE = "cannot compare"  # recorded by another major version of the server, or another format


@dataclass(frozen=True)
class Comparison:
    db: str
    state: Drift
    differences: list[Difference] = field(default_factory=list)
    record: Record | None = None
    live: Description | None = None

    @property
    def drifted(self) -> bool:
        return self.state is Drift.DRIFTED

    def says(self) -> str:
        """One line for the log."""
        if self.state is Drift.DRIFTED:
            return (f"the schema drifted from the one recorded {_when(self.record)}: "
                    + ", ".join(map(str, self.differences)))
        if self.state is Drift.INCOMPARABLE:
            assert self.record is not None and self.live is not None
            by = self.record.description.server or "an older dbinit"
            return (f"cannot compare the schema with the one recorded {_when(self.record)} by {by}: the server is "
                    f"{self.live.server} now; record again (dbinit accept --reason \"…\")")
        if self.state is Drift.UNRECORDED:
            return ("no schema recorded yet to compare with: the next migrate that applies something records it, "
                    "or dbinit accept --reason \"…\"")
        return f"the schema is as recorded {_when(self.record)}"

    def document(self) -> dict[str, Any]:
        r = self.record
        return {"state": str(self.state).replace(" ", "_"), "changes": [d.document() for d in self.differences],
                "recorded_at": r.recorded_at.isoformat() if r else None, "recorded_by": r.recorded_by if r else None,
                "reason": r.reason if r else None, "digest": self.live.digest if self.live else None}


def _when(record: Record | None) -> str:
    return "" if record is None else f"{record.recorded_at:%Y-%m-%d %H:%M} ({record.reason})"


def compare(db: str, record: Record | None, live: Description) -> Comparison:
    if record is None:
        return Comparison(db, Drift.UNRECORDED, live=live)
    if record.format != FORMAT or record.description.server != live.server:
        return Comparison(db, Drift.INCOMPARABLE, record=record, live=live)
    if record.description.digest == live.digest:
        return Comparison(db, Drift.SAME, record=record, live=live)
    return Comparison(db, Drift.DRIFTED, differences(record.description, live), record, live)
