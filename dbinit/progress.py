"""Progress lines while a migration (or an index build) runs long: what the server says it is doing,
asked from a second connection every DBINIT_PROGRESS_INTERVAL seconds. A short migration costs a
flag set and cleared: the thread only wakes, and the backend only connects, once one runs long."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from . import log

Describe = Callable[[float], "tuple[str, dict[str, object]] | None"]


class Monitor:
    """One thread per database for the whole run; `watch` marks what is running."""

    def __init__(self, source: str, interval: float):
        self.source, self.interval = source, interval
        self._current: tuple[str, float, Describe] | None = None
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    @contextmanager
    def watch(self, label: str, describe: Describe) -> Iterator[None]:
        """While the block runs, a line every interval once it has run for one: `label running
        <elapsed>: <what describe(elapsed) says>`."""
        with self._wake:
            self._current = (label, time.monotonic(), describe)
            if self._thread is None:
                self._thread = log.thread(self._run, name=f"{self.source}-progress")
                self._thread.start()
            self._wake.notify()
        try:
            yield
        finally:
            with self._wake:
                self._current = None
                self._wake.notify()

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc: object) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def _run(self) -> None:
        reported_for, next_at = None, 0.0
        while True:
            with self._wake:
                if self._stopped:
                    return
                if self._current is None:
                    self._wake.wait()
                    continue
                label, started, describe = self._current
                if reported_for != started:
                    reported_for, next_at = started, started + self.interval
                remaining = next_at - time.monotonic()
                if remaining > 0:
                    self._wake.wait(remaining)  # woken early when the migration ends or the next begins
                    continue
                next_at += self.interval
            self._report(label, started, describe)

    def _report(self, label: str, started: float, describe: Describe) -> None:
        elapsed = time.monotonic() - started
        try:
            said = describe(elapsed)
        except Exception as e:  # a progress line must never end the run
            said = (f"(the server did not say: {type(e).__name__})", {})
        what, fields = said if said is not None else ("", {})
        log.info(self.source, f"{label} running {_duration(elapsed)}" + (f": {what}" if what else ""),
                 elapsed_s=round(elapsed, 1), **fields)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
