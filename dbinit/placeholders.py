"""Placeholders: `${name}` in any migration file, filled just before a file is parsed and run, from
DBINIT_PLACEHOLDER_<NAME> (or its _FILE twin), `--placeholder NAME=VALUE` and the API's
`placeholders=`. `${name:FORM}` quotes the value for the file's language (each database registers
its forms); `$${` is a literal `${`. Checksums are over the file as written, so a new value never
makes an applied file "changed"; every value is registered as a secret and masked wherever dbinit
writes. Pure but for that registration."""
from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Callable, Mapping

from . import log
from .environment import Env
from .errors import InvalidMigrations, Problem
from .migration import Migration, line_of

PREFIX = "DBINIT_PLACEHOLDER_"
SHORTEST_SECRET = 4  # "1" or "on" masked would turn every such character of every line into ******
# A repeatable file that should run again when a value it uses changes says so on one of its first two
# lines; its checksum then covers those values (a SHA-256 of them: opt in only for values not guessable).
CHECKSUMMED = re.compile(r"dbinit:\s*placeholders-in-checksum\b")
_TOKEN = re.compile(r"\$(?P<escape>\$?)\{")
_INSIDE = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<form>[a-z]+))?\}")

# A form renders (name, value) as text of the language, and may hand the value over as a query
# parameter instead (Cypher): text and parameters.
Form = Callable[[str, str], tuple[str, dict[str, str]]]


def plain(name: str, value: str) -> tuple[str, dict[str, str]]:
    return value, {}


def from_environment(env: Mapping[str, str]) -> dict[str, str]:
    """name (lower case) → value of every DBINIT_PLACEHOLDER_<NAME> and DBINIT_PLACEHOLDER_<NAME>_FILE."""
    e = Env(env)
    names = {k[len(PREFIX):].removesuffix("_FILE") for k in env if k.startswith(PREFIX) and len(k) > len(PREFIX)}
    return {name.lower(): value for name in sorted(names) if (value := e.twin(PREFIX + name)) is not None}


def fill(migration: Migration, values: Mapping[str, str], forms: Mapping[str, Form]) -> Migration:
    """The file with every placeholder filled (its checksum is the file's as written, or with
    CHECKSUMMED at its top over the values it uses too), or InvalidMigrations naming file, line and
    placeholder: undefined, unterminated, or a form its language does not have."""
    if "${" not in migration.text:
        return migration
    text, parameters, used = substitute(migration.text, values, forms, migration)
    checksum = migration.checksum
    if checksummed(migration):
        checksum = hashlib.sha256("\0".join([checksum, *(f"{k}={values[k]}" for k in sorted(used))]).encode()).hexdigest()
    return replace(migration, text=text, checksum=checksum, parameters=tuple(sorted(parameters.items())))


class Public(str):
    """A value that is no secret (a fleet's tenant name): filled in, never masked."""


def checksummed(migration: Migration) -> bool:
    """A repeatable file whose checksum covers the values it uses: its state needs them."""
    return migration.repeatable and CHECKSUMMED.search("\n".join(migration.text.split("\n", 2)[:2])) is not None


def substitute(text: str, values: Mapping[str, str], forms: Mapping[str, Form], migration: Migration,
               first_line: int = 1) -> tuple[str, dict[str, str], set[str]]:
    """`text` filled: the text, the query parameters its forms ask for, and the names it used."""
    out: list[str] = []
    parameters: dict[str, str] = {}
    used: set[str] = set()
    problems: list[Problem] = []
    position = 0
    for token in _TOKEN.finditer(text):
        out.append(text[position:token.start()])
        if token["escape"]:
            out.append("${")
            position = token.end()
            continue
        line = line_of(text, token.start()) + first_line - 1
        inside = _INSIDE.match(text, token.end())
        if inside is None:
            problems.append(Problem(migration.path, "a placeholder '${' without a name and '}' after it (write "
                                    "'$${' for a literal '${')", line))
            position = token.end()
            continue
        name, form = inside["name"], inside["form"]
        position = inside.end()
        value = values.get(name.lower())
        if value is None:
            problems.append(Problem(migration.path, f"placeholder ${{{name}}} is not defined: set "
                                    f"{PREFIX}{name.upper()} (or its _FILE twin) or pass --placeholder {name}=…", line))
            continue
        render = plain if form is None else forms.get(form)
        if render is None:
            kinds = ", ".join(f":{f}" for f in forms) or "none but the plain one"
            problems.append(Problem(migration.path, f"${{{name}:{form}}}: this file's language has no form "
                                    f":{form} (its forms: {kinds})", line))
            continue
        rendered, params = render(name, value)
        if not params and len(value) >= SHORTEST_SECRET and not isinstance(value, Public):
            log.add_secret(rendered)  # quoted for its language, the value is a secret still
        out.append(rendered)
        parameters.update(params)
        used.add(name.lower())
    if problems:
        raise InvalidMigrations(problems)
    out.append(text[position:])
    return "".join(out), parameters, used


def register(values: Mapping[str, str]) -> None:
    """Every value is masked in whatever dbinit writes: logs, errors, the run report, the script;
    but for a value too short to be a secret, whose mask would hide every such character."""
    for value in values.values():
        if len(value) >= SHORTEST_SECRET:
            log.add_secret(value)
