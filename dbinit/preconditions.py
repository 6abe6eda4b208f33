"""Preconditions: queries in a file's header, each asked under the locks before the file runs
(`-- dbinit: precondition SELECT NOT EXISTS (SELECT FROM users WHERE legacy_id IS NOT NULL)`, in
Cypher after `//`, in Redis after `#`). One that is not met stops the run before the file: nothing
of it or after it is applied. There is no "skip and record as run" (Liquibase's MARK_RAN): a
history that says a file ran where it did not makes two databases with the same history differ,
which is what the history is there to rule out. Pure."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .errors import InvalidMigrations, Problem

WORD = "precondition"


@dataclass(frozen=True)
class Precondition:
    query: str  # in the file's own language: a query whose first value is true, or a Redis command
    line: int


class Answer(NamedTuple):
    """What a database said to a precondition: whether it holds, and what it returned (or why it
    could not be asked), for the message."""

    holds: bool
    said: str


def parse(text: str, comment: str, path: Path, down: bool = False) -> tuple[Precondition, ...]:
    """The preconditions in the comment lines at the top of a file. One below the first statement,
    in a down file, or without a query is refused, naming its line."""
    if WORD not in text:  # most files: no line to look at
        return ()
    directive = re.compile(rf"{re.escape(comment)}\s*dbinit:\s*{WORD}\b\s*(?P<query>.*)", re.IGNORECASE)
    header, found, problems = True, [], []
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith(comment):
            header = False
            continue
        if (m := directive.fullmatch(stripped)) is None:
            continue
        if not header:
            problems.append(Problem(path, f"'{comment} dbinit: {WORD}' below the first statement: preconditions belong "
                                    "in the comment lines at the top of the file", number))
        elif down:
            problems.append(Problem(path, f"'{comment} dbinit: {WORD}' in a down file: preconditions guard up files "
                                    "(a down script runs on what its up file made)", number))
        elif not m["query"].strip():
            problems.append(Problem(path, f"'{comment} dbinit: {WORD}' without a query: write the query after it, on "
                                    "the same line", number))
        else:
            found.append(Precondition(m["query"].strip().rstrip(";"), number))
    if problems:
        raise InvalidMigrations(problems)
    return tuple(found)


def judged(value: object, found: bool = True) -> Answer:
    """A query's first value as a precondition's answer: it holds when that is true (a boolean:
    `SELECT count(*) …` returns a number, which says nothing by itself)."""
    if not found:
        return Answer(False, "no row")
    if value is None or isinstance(value, bool):
        return Answer(value is True, {True: "true", False: "false", None: "NULL"}[value])
    return Answer(False, f"{value!r}, not a boolean: the query returns true when the file may run")
