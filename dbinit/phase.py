"""The phase of a release a migration belongs to. Pre-deploy (the default) runs before the new
version of the application starts, while the previous one still serves; post-deploy (GitLab's
db/post_migrate) runs once every instance runs the new version, so it may drop or rename what only
the previous version used. A post-deploy file says so in the comment lines at its top, where a
reviewer sees it: `-- dbinit: post-deploy` (`//` in Cypher, `#` in Redis files). Pure."""
from __future__ import annotations

import difflib
import re
from pathlib import Path

from .errors import InvalidMigrations, Problem

POST_DEPLOY = "post-deploy"
_KNOWN = ("post-deploy", "no-transaction", "placeholders-in-checksum", "precondition")


def marker(comment: str) -> str:
    return f"{comment} dbinit: {POST_DEPLOY}"


def is_post_deploy(text: str, comment: str, path: Path, down: bool = False) -> bool:
    """Whether the file is marked post-deploy. A marker below the first statement, a marker in a
    down file (which takes its up file's phase) or a misspelt one is refused, naming its line."""
    if "dbinit:" not in text:  # most files: no line to look at
        return False
    directive = re.compile(rf"{re.escape(comment)}\s*dbinit:\s*(?P<word>\S+)\s*(?P<rest>.*)")
    header, found, problems = True, False, []
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith(comment):
            header = False
            continue
        m = directive.fullmatch(stripped)
        if m is None:
            continue
        word = m["word"].lower()
        if word == POST_DEPLOY and not m["rest"]:
            if down:
                problems.append(Problem(path, f"'{marker(comment)}' in a down file: a down file takes the phase of "
                                        "its up file; remove it here and mark the up file", number))
            elif not header:
                problems.append(Problem(path, f"'{marker(comment)}' below the first statement: it belongs in the "
                                        "comment lines at the top of the file", number))
            found = True
        elif header and word not in _KNOWN and (close := difflib.get_close_matches(word, _KNOWN, 1, 0.75)):
            problems.append(Problem(path, f"unknown directive 'dbinit: {m['word']}'; did you mean "
                                    f"'{comment} dbinit: {close[0]}'?", number))
    if problems:
        raise InvalidMigrations(problems)
    return found and not down
