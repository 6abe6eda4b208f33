"""Events go to the standard `logging` module under the `dbinit` logger, so an application using
dbinit as a library routes them as it likes; the command line installs the one handler that writes
one line per event on stderr, as text or JSON. Secrets registered here never reach a record."""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

logger = logging.getLogger("dbinit")
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


class _Line(logging.Formatter):
    """`2026-01-15T10:00:00Z INFO postgres: applied …`, or the same fields as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        now = datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        level = "WARN" if record.levelno == logging.WARNING else record.levelname
        source = getattr(record, "source", "dbinit")
        if _format == "json":
            line = {"time": now, "level": level, "source": source, "message": record.getMessage()}
            line.update(getattr(record, "fields", {}))
            return json.dumps(line, default=str)
        return f"{now} {level} {source}: {record.getMessage()}"


def install() -> None:
    """The command line's handler: one line per event on stderr, flushed at once."""
    if not any(isinstance(h.formatter, _Line) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Line())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def event(level: int, source: str, message: str, **fields: object) -> None:
    if not logger.isEnabledFor(level):
        return
    fields = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
    logger.log(level, "%s", redact(message), extra={"source": source, "fields": fields})


def info(source: str, message: str, **fields: object) -> None:
    event(logging.INFO, source, message, **fields)


def warn(source: str, message: str, **fields: object) -> None:
    event(logging.WARNING, source, message, **fields)


def error(source: str, message: str, **fields: object) -> None:
    event(logging.ERROR, source, message, **fields)
