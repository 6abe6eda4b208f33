"""Reading variables, *_FILE secrets and URLs, for every database's settings loader. Errors name
the variable, never its value; every secret read is registered for redaction."""
from __future__ import annotations

import math
import re
from pathlib import Path
from difflib import get_close_matches
from typing import Collection, Iterable, Mapping
from urllib.parse import SplitResult, urlsplit

from dataclasses import dataclass

from . import log
from .errors import ConfigError, UsageError


@dataclass(frozen=True)
class Variable:
    """A variable dbinit reads, declared once beside the code that reads it: docs/reference is
    generated from these, and a test holds every read in the code equal to a declaration."""

    name: str
    default: str  # the value the code takes when it is unset, as the code writes it; "" for none
    meaning: str
    secret: bool = False  # a password: also read from NAME_FILE, never logged


class Env:
    """Reads variables and their _FILE twins."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def get(self, name: str) -> str | None:
        """A variable's value; stray white space around it (a Secret or .env made with `echo`) is
        refused, naming the variable."""
        value = self.raw(name)
        if value is not None and value != value.strip():
            where = "ends with a line break" if value.rstrip(" \t") != value.rstrip() else \
                "ends with white space" if value.rstrip() != value else "begins with white space"
            raise ConfigError(f"{name} {where}; remove it (a value written with `echo` gets a line break: use "
                              "`printf '%s'` or `echo -n`)")
        return value

    def raw(self, name: str) -> str | None:
        """A variable's value as it is (a shell command, a password: white space may be theirs)."""
        value = self.env.get(name)
        return value if value else None

    def secret(self, name: str) -> str | None:
        """A password from a variable or its _FILE twin, registered for redaction. A line break in
        it is refused: it is how `echo` ends a value, never a password."""
        value = self.twin(name)
        if value is not None and ("\n" in value or "\r" in value):
            raise ConfigError(f"{name} holds a line break; remove it (a value written with `echo` gets one: use "
                              "`printf '%s'` or `echo -n`)")
        log.add_secret(value)
        return value

    def twin(self, name: str) -> str | None:
        """A variable, or the content of the file its _FILE twin names (one of the two)."""
        value, file_var = self.raw(name), f"{name}_FILE"
        path = self.get(file_var)
        if value is not None and path is not None:
            raise ConfigError(f"both {name} and {file_var} are set; set only one")
        if path is not None:
            try:
                value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as e:
                reason = e.strerror if isinstance(e, OSError) else "not UTF-8"
                raise ConfigError(f"{file_var} names a file that cannot be read ({reason}): {path}") from None
        return value

    def seconds(self, name: str, default: float, flag: tuple[str, str | None] = ("", None),
                positive: bool = False) -> float:
        """A duration from a (flag name, value), else the variable, else the default: a finite
        number, not negative (`positive`: above zero)."""
        raw = flag[1] if flag[1] is not None else self.get(name)
        if raw is None:
            return default
        error = UsageError if flag[1] is not None else ConfigError  # a bad flag is a bad command line
        if flag[1] is not None:
            name = flag[0]
        try:
            value = float(raw)
        except ValueError:
            raise error(f"{name} must be a number of seconds, not {raw!r}") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise error(f"{name} must be a {'positive' if positive else 'non-negative'} number of seconds, "
                        f"not {raw!r}")
        return value

    def count(self, name: str, default: int) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        if not raw.isdigit():
            raise ConfigError(f"{name} must be a whole number (0 or more), not {raw!r}")
        return int(raw)

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        """One of `choices`, in any case; `default` when unset."""
        value = (self.get(name) or default).lower()
        if value not in choices:
            raise ConfigError(f"{name} must be {', '.join(choices[:-1])} or {choices[-1]}, not {value!r}")
        return value

    def flag(self, name: str) -> bool:
        raw = (self.get(name) or "false").lower()
        if raw not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{name} must be true or false, not {raw!r}")
        return raw in ("true", "1", "yes")


def looks_like_a_password(text: str) -> bool:
    """A user name no one would choose: long, with letters and digits, and mixed case or a sign
    (role and user names are lower-case words, `_`, `-` and `.` aside)."""
    signs = re.search(r"[^A-Za-z0-9_.-]", text) is not None
    mixed = re.search(r"[a-z]", text) is not None and re.search(r"[A-Z]", text) is not None
    return (len(text) >= 8 and re.search(r"[A-Za-z]", text) is not None and re.search(r"\d", text) is not None
            and (mixed or signs))


def check_user(variable: str, user: str | None, password_given: bool, example: str) -> None:
    """A user name without a password that looks like a password: the password was put where the user
    name goes (`redis://S3cret@host`), and the user name is printed in every "waiting for" line."""
    if user and not password_given and looks_like_a_password(user):
        raise ConfigError(f"{variable} has a user name that looks like a password, and no password: write "
                          f"{example}; if the user is really so named, give its password too")


def check_userinfo(variable: str, url: str, example: str) -> None:
    """Characters a URL's user name and password must have percent-encoded: with an @, # or / in
    clear, the URL names another host, and part of the password is read as that host."""
    rest = url.split("://", 1)[1] if "://" in url else url
    userinfo = rest.rpartition("@")[0]
    if not userinfo:
        return
    bad = sorted({c for c in userinfo if c in "@#/?[] "}, key="@#/?[] ".index)
    if bad or re.search(r"%(?![0-9A-Fa-f]{2})", userinfo):
        codes = {"@": "%40", "#": "%23", "/": "%2F", "?": "%3F", "[": "%5B", "]": "%5D", " ": "%20"}
        which = ", ".join(f"{c!r} as {codes[c]}" for c in bad) or "'%' as %25"
        raise ConfigError(f"{variable}: the user name or password holds characters a URL must percent-encode "
                          f"({which}), e.g. {example}; or give the password in its own variable")


def url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def without_credentials(url: str) -> str:
    """The URL with its password taken out (user@ kept), whatever its number of hosts."""
    return re.sub(r"^([a-z0-9+.-]+://)([^@/]*?)(?::[^@/]*)?@", lambda m: m[1] + (m[2] + "@" if m[2] else ""), url)


def check_port(variable: str, text: str | None) -> None:
    if text is not None and not (text.isdigit() and 0 < int(text) < 65536):
        raise ConfigError(f"{variable}: the port must be a number from 1 to 65535, not {text!r}")


def split_url(variable: str, url: str, schemes: tuple[str, ...], example: str,
              hints: Mapping[str, str] | None = None) -> SplitResult:
    """urlsplit, with the scheme, host and port checked; every problem names the variable.
    `hints`: what to add when the URL has a scheme the database does not speak."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in schemes:
        hint = (hints or {}).get(scheme, "")
        raise ConfigError(f"{variable} must start with {', '.join(s + '://' for s in schemes)}; "
                          f"{f'not {scheme}://' if scheme else 'it has no scheme'}{hint}, e.g. {example}")
    check_userinfo(variable, url, example)
    address = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    if not address.startswith("[") and address.count(":") > 1 and "," not in address:
        raise ConfigError(f"{variable} holds more than one port ({address}); write host:port once, e.g. {example}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        check_port(variable, url.split("://", 1)[1].split("/", 1)[0].rpartition("@")[2].rpartition(":")[2] or "none")
        raise ConfigError(f"{variable} is not a valid URL, e.g. {example}") from None
    if scheme != "unix" and not parts.hostname:
        raise ConfigError(f"{variable} names no host, e.g. {example}")
    if parts.port is not None:
        check_port(variable, str(parts.port))
    return parts


def one_edit(a: str, b: str) -> bool:
    """`a` and `b` differ by one letter added, removed, changed, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = sorted((a, b), key=len)
    i = next((i for i in range(len(short)) if short[i] != long[i]), len(short))
    return short[i:] == long[i + 1:]


def unknown(names: Iterable[str], read: Collection[str], own: str) -> list[tuple[str, str | None]]:
    """Variables that look like ones dbinit reads but are not: each with the one it is a slip of
    (one edit away), or None for a name of dbinit's own prefix `own` that resembles none."""
    found: list[tuple[str, str | None]] = []
    known = sorted(read)
    own_known = [r for r in known if r.startswith(own)]
    for name in sorted(names):
        if name in read:
            continue
        near = next((r for r in known if one_edit(name, r)), None)
        if near is None and name.startswith(own):
            near = next(iter(get_close_matches(name, own_known, 1, 0.8)), None)
        elif near is None:
            continue
        found.append((name, near))
    return found
