"""The command line's `.env` file, as dbmate reads one: NAME=VALUE lines (quotes, `export`, comments,
multi-line quoted values) parsed by python-dotenv. What the environment already has wins."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError


def load(path: Path) -> list[str]:
    """Set the file's variables that the environment lacks (so that libpq's PG* variables and the
    hook's command see them too); the names it set. A line that is not NAME=VALUE is refused,
    naming file and line, before anything is set."""
    from dotenv.parser import parse_stream

    try:
        with path.open(encoding="utf-8") as stream:
            bindings = list(parse_stream(stream))
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8"
        raise ConfigError(f"{path}: the env file cannot be read ({reason})") from None
    for b in bindings:
        if b.error:
            raise ConfigError(f"{path}:{b.original.line}: not a NAME=VALUE line (quote a value that holds spaces "
                              "or starts with a quote, and close its quotes)")
    loaded = []
    for b in bindings:
        if b.key is not None and b.value is not None and b.key not in os.environ:
            os.environ[b.key] = b.value
            loaded.append(b.key)
    return loaded
