"""Redis migration text: one command a line, split as redis-cli splits it (sdssplitargs)."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Mapping

from ... import log
from ...errors import InvalidMigrations, Problem
from ...migration import Migration

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}
_QUOTED = {v: k for k, v in _ESCAPES.items()}
_SHEBANG = re.compile(r"#!\w+\s+name=(?P<name>\S+)")

# Commands a migration may not hold, and why. Everything a migration runs is queued in one
# MULTI/EXEC and the keys it touches are saved first, so the keys must be knowable beforehand.
REFUSED = {
    **dict.fromkeys(["MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"],
                    "dbinit wraps each file in MULTI/EXEC itself"),
    **dict.fromkeys(["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
                     "MONITOR", "SYNC", "PSYNC", "RESET", "QUIT", "HELLO", "AUTH", "CLIENT"],
                    "it changes or takes over the connection and cannot run inside MULTI"),
    **dict.fromkeys(["SELECT", "SWAPDB", "MOVE", "COPY"], "it reaches another database; put the database number in REDIS_URL"),
    **dict.fromkeys(["FLUSHALL", "FLUSHDB", "RESTORE-ASKING", "MIGRATE"],
                    "the keys it changes cannot be known in advance to be restored on failure"),
    **dict.fromkeys(["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO", "SCRIPT"],
                    "a script may touch keys it does not declare, so its effects cannot be restored on failure"),
    "FUNCTION": "of the FUNCTION commands only FUNCTION LOAD [REPLACE] is, whose library dbinit puts back when "
                "the file fails",
    **dict.fromkeys(["SHUTDOWN", "DEBUG", "REPLICAOF", "SLAVEOF", "FAILOVER", "CLUSTER", "BGSAVE", "BGREWRITEAOF", "SAVE",
                     "ACL", "MODULE"],
                    "it administers the server rather than data; do it outside migrations"),
}


def _is_hex(s: str) -> bool:
    return len(s) == 2 and all(h in "0123456789abcdefABCDEF" for h in s)


@dataclass(frozen=True)
class Command:
    args: tuple[str, ...]
    line: int

    @property
    def name(self) -> str:
        return self.args[0].upper()

    @property
    def library(self) -> str | None:
        """The library a FUNCTION LOAD [REPLACE] loads, named on its code's first line
        (`#!lua name=mylib`); None for any other command."""
        if self.name != "FUNCTION" or len(self.args) < 3 or self.args[1].upper() != "LOAD":
            return None
        m = _SHEBANG.match(self.args[-1])
        return m["name"] if m else ""


def split_args(line: str) -> list[str] | None:
    """redis-cli's splitting: quotes, escapes; None when the quotes do not balance."""
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        current: list[str] = []
        in_dq = in_sq = False
        while True:
            if in_dq:
                if i >= n:
                    return None
                c = line[i]
                if c == "\\" and line[i + 1:i + 2] == "x" and _is_hex(line[i + 2:i + 4]):
                    current.append(chr(int(line[i + 2:i + 4], 16)))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    current.append(_ESCAPES.get(line[i + 1], line[i + 1]))
                    i += 1
                elif c == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        return None  # closing quote must be followed by a space
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_sq:
                if i >= n:
                    return None
                c = line[i]
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    current.append("'")
                    i += 1
                elif c == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        return None
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c.isspace():
                    break
                if c == '"':
                    in_dq = True
                elif c == "'":
                    in_sq = True
                else:
                    current.append(c)
            i += 1
        args.append("".join(current))


@lru_cache(maxsize=None)
def parse(migration: Migration) -> list[Command]:
    """Commands of a .redis file; blank lines and '#' comment lines are skipped."""
    commands: list[Command] = []
    problems: list[Problem] = []
    for number, line in enumerate(migration.text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        args = split_args(stripped)
        if args is None:
            problems.append(Problem(migration.path, "unbalanced quotes (as redis-cli reads them)", number))
            continue
        command = Command(tuple(args), number)
        if command.name in REFUSED and command.library is None:
            problems.append(Problem(migration.path, f"{command.name} is not allowed in a migration: {REFUSED[command.name]}", number))
            continue
        commands.append(command)
    if problems:
        raise InvalidMigrations(problems)
    return commands


def quote(arg: str) -> str:
    """An argument as redis-cli reads it back whole, whatever it holds."""
    out = []
    for c in arg:
        if c in '\\"':
            out.append("\\" + c)
        elif c in _QUOTED:
            out.append("\\" + _QUOTED[c])
        elif ord(c) < 32 or ord(c) == 127:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def fill(migration: Migration, values: Mapping[str, str]) -> Migration:
    """Placeholders filled within each argument after the line is split, so a value is one argument
    whatever it holds (spaces, quotes); only the plain form: each argument is already a value."""
    from ...placeholders import SHORTEST_SECRET, substitute

    if "${" not in migration.text:
        return migration
    lines = migration.text.split("\n")
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if "${" not in stripped or stripped.startswith("#") or (args := split_args(stripped)) is None:
            continue  # a comment, or unbalanced quotes, which parse() reports
        filled = [substitute(a, values, {}, migration, number) for a in args]
        lines[number - 1] = " ".join(quote(text) for text, _, _ in filled)
        for name in set().union(*(used for _, _, used in filled)):
            if len(values[name]) >= SHORTEST_SECRET:
                log.add_secret(quote(values[name])[1:-1])  # as the filled line spells it
    return replace(migration, text="\n".join(lines))
