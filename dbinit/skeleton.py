"""What `dbinit new` writes into a file, and how to know a file that still holds only that: it is
never applied (its statements would never run once it is filled in and `repair` accepts it). The
skeleton's second line says so to whoever opens the file. Pure."""
from __future__ import annotations

import hashlib

from . import phase, registry
from .errors import Problem
from .migration import Migration

HINT = "write the migration below; dbinit does not run a file that holds only these lines"
ADVICE = ("write the migration in it; a file meant to do nothing (a change for another database) says so "
          "in a comment of its own")


def text(db: str, description: str, post_deploy: bool = False, hint: bool = True) -> str:
    comment = registry.get(db).comment
    return ((phase.marker(comment) + "\n" if post_deploy else "") + f"{comment} {description}\n"
            + (f"{comment} {HINT}\n" if hint else ""))


def holds_only_new(m: Migration) -> bool:
    """A file without statements that still has the skeleton's second line."""
    return f"{registry.get(m.db).comment} {HINT}" in (line.strip() for line in m.text.splitlines())


def problem(m: Migration) -> Problem:
    return Problem(m.path, f"still holds only what dbinit new wrote, so dbinit does not run it: {ADVICE}")


def checksums(db: str, description: str) -> set[str]:
    """The checksums a file of this description had while it held only what `dbinit new` wrote,
    by this version or one before it (one line, no hint); the description as typed is not kept:
    with its dashes as spaces, and as the file spells it."""
    return {hashlib.sha256(text(db, words, post, hint).encode()).hexdigest()
            for words in (description.replace("-", " "), description) for post in (False, True)
            for hint in (False, True)}
