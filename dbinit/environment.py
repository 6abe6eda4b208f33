"""Reading variables, *_FILE secrets and URLs, for every database's settings loader. Errors name
the variable, never its value; every secret read is registered for redaction."""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Mapping
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
        value = self.env.get(name)
        return value if value else None

    def secret(self, name: str) -> str | None:
        """A variable or its _FILE twin, registered for redaction."""
        value = self.twin(name)
        log.add_secret(value)
        return value

    def twin(self, name: str) -> str | None:
        """A variable, or the content of the file its _FILE twin names (one of the two)."""
        value, file_var = self.get(name), f"{name}_FILE"
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

    def flag(self, name: str) -> bool:
        raw = (self.get(name) or "false").lower()
        if raw not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{name} must be true or false, not {raw!r}")
        return raw in ("true", "1", "yes")


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
