"""One line per event on stderr, as text or JSON. Secrets registered here never reach a line."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

_format = "text"
_secrets: set[str] = set()


def configure(fmt: str) -> None:
    global _format
    _format = fmt


def add_secret(value: str | None) -> None:
    if value:
        _secrets.add(value)


def redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "******")
    return text


def event(level: str, source: str, message: str, **fields: object) -> None:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = redact(message)
    if _format == "json":
        record = {"time": now, "level": level, "source": source, "message": message}
        record.update({k: redact(v) if isinstance(v, str) else v for k, v in fields.items()})
        line = json.dumps(record, default=str)
    else:
        line = f"{now} {level} {source}: {message}"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def info(source: str, message: str, **fields: object) -> None:
    event("INFO", source, message, **fields)


def warn(source: str, message: str, **fields: object) -> None:
    event("WARN", source, message, **fields)


def error(source: str, message: str, **fields: object) -> None:
    event("ERROR", source, message, **fields)
