"""Events go to the standard `logging` module under the `dbinit` logger, so an application using
dbinit as a library routes them as it likes; the command line installs the one handler that writes
one line per event on stderr, as text or JSON. Secrets never reach a record: a password is masked
where it stands (a URL's password, a `password=` pair), and a value registered as a secret wherever
it stands as a word of its own, never inside another word. The registered values are a run's own
(the command line's, or one call of the Python API's: `secrets`), not the process's."""
from __future__ import annotations

import json
import logging
import re
import sys
import contextvars
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator

logger = logging.getLogger("dbinit")
_format: contextvars.ContextVar[str] = contextvars.ContextVar("format", default="text")  # a run's own
# What every event of this thread is about (a fleet's tenant); threads started by `thread` carry it.
_scope: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("scope", default={})
_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("run_id", default=None)
MASK = "******"
# A value shorter than this is not masked as a word: "1", "on" or "p" masked would rewrite every
# line where such a word stands, and the gaps would spell the secret.
SHORTEST_SECRET = 4
# scheme://user:PASSWORD@host (the password up to the last @ of the address: an unencoded @ in it
# must not leave its tail in clear), and libpq's password=… pairs.
_IN_PLACE = (re.compile(r"(\b[A-Za-z][\w+.-]*://[^\s:/@]*:)(?!PASSWORD@)\S*(?=@)"),  # not the examples' PASSWORD
             re.compile(r"(\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s']+)", re.IGNORECASE))


def configure(fmt: str) -> None:
    _format.set(fmt)


class Secrets:
    """The values one run masks; its threads (started by `thread`) add to and mask with the same."""

    def __init__(self) -> None:
        self.values: frozenset[str] = frozenset()
        self.pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if not value or len(value) < SHORTEST_SECRET or value in self.values:
            return
        with self._lock:
            self.values = self.values | {value}
            words = "|".join(re.escape(s) for s in sorted(self.values, key=len, reverse=True))
            self.pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{words})(?![A-Za-z0-9])")


# Outside any run (settings loaded by hand): what is registered there stays for the process.
_secrets: contextvars.ContextVar[Secrets] = contextvars.ContextVar("secrets", default=Secrets())


@contextmanager
def secrets(values: Iterable[str] = ()) -> Iterator[Secrets]:
    """A run's own secrets, `values` and whatever is registered inside: masked in its lines and
    forgotten when it ends, so an application's process does not mask one call's passwords in the
    next call's lines (nor keep them for its life)."""
    own = Secrets()
    for value in values:
        own.add(value)
    token = _secrets.set(own)
    try:
        yield own
    finally:
        _secrets.reset(token)


def add_secret(value: str | None) -> None:
    _secrets.get().add(value)


def redact(text: str) -> str:
    for pattern in _IN_PLACE:
        text = pattern.sub(lambda m: m[1] + MASK, text)
    known = _secrets.get().pattern
    return text if known is None else known.sub(MASK, text)


class _Line(logging.Formatter):
    """`2026-01-15T10:00:00Z INFO postgres: applied …`, or the same fields as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        now = datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        level = "WARN" if record.levelno == logging.WARNING else record.levelname
        source = getattr(record, "source", "dbinit")
        scope = getattr(record, "scope", {})
        if _format.get() == "json":
            line = {"time": now, "level": level, "source": source, "message": record.getMessage(), **scope}
            if run_id := _run_id.get():
                line["run_id"] = run_id
            line.update(getattr(record, "fields", {}))
            return json.dumps(line, default=str)
        # One line per event, also when a client library's words span lines.
        message = " ".join(part.strip() for part in record.getMessage().splitlines() if part.strip())
        return f"{now} {level} {source}{''.join(f'[{v}]' for v in scope.values())}: {message}"


def install() -> None:
    """The command line's handler: one line per event on stderr, flushed at once."""
    if not any(isinstance(h.formatter, _Line) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Line())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def silence(*names: str) -> None:
    """The command line's: client libraries' own loggers say nothing (Python's last-resort handler
    would print their warnings raw, outside the log format); what they would say comes as dbinit's
    typed errors."""
    for name in names:
        driver = logging.getLogger(name)
        driver.addHandler(logging.NullHandler())
        driver.propagate = False


def run(run_id: str) -> None:
    """Every later JSON line of this context names the run (as its history records and trace do)."""
    _run_id.set(run_id)


@contextmanager
def scoped(**fields: str) -> Iterator[None]:
    """Every event of this thread inside is about `fields` (`tenant="acme"`: `postgres[acme]: …`, or
    a field of the JSON line)."""
    token = _scope.set({**_scope.get(), **fields})
    try:
        yield
    finally:
        _scope.reset(token)


class Once:
    """What runs sharing it (a fleet's tenants, in threads of their own) have said: each line once."""

    def __init__(self) -> None:
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def first(self, line: str) -> bool:
        """True the first time `line` is given."""
        with self._lock:
            fresh = line not in self._said
            self._said.add(line)
            return fresh


def thread(target: Callable[..., Any], *args: Any, name: str) -> threading.Thread:
    """A daemon thread whose events are about what its starter's are (`scoped`)."""
    return threading.Thread(target=contextvars.copy_context().run, args=(target, *args), name=name, daemon=True)


def event(level: int, source: str, message: str, **fields: object) -> None:
    if not logger.isEnabledFor(level):
        return
    fields = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
    logger.log(level, "%s", redact(message),
               extra={"source": source, "fields": fields, "scope": _scope.get()})


def info(source: str, message: str, **fields: object) -> None:
    event(logging.INFO, source, message, **fields)


def warn(source: str, message: str, **fields: object) -> None:
    event(logging.WARNING, source, message, **fields)


def error(source: str, message: str, **fields: object) -> None:
    event(logging.ERROR, source, message, **fields)
