"""Wait until every configured database answers a real query, all at once, with one deadline."""
from __future__ import annotations

import queue
import time

from typing import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from . import log, ports, registry
from .contract import Addressed, Backend, Creates
from .errors import ConfigError, MissingDatabase, NotReady
from .retry import PROGRESS_EVERY

Ready = Callable[[str, float], None]  # (database, seconds it took)

# Short, capped back-off: a probe on loopback costs little, and the gap between "the server
# answers" and "dbinit notices" is what the application's start waits on.
BACKOFF = wait_exponential_jitter(multiplier=0.01, max=0.1, jitter=0.03)
ATTEMPT_TIMEOUT = 5.0
# How often a port that accepts connections but answers no protocol is asked again: enough to
# outlast a slow answer, few enough that a silent port does not cost every attempt.
ASKS = 5


def _probe(backend: Backend, deadline: float, results: queue.Queue[tuple[Backend, Exception | None]],
           ready: Ready, create: bool) -> None:
    start = time.monotonic()
    state: dict[str, float | str] = {"next_report": start + PROGRESS_EVERY, "last": "no answer yet"}
    asking = [ASKS if isinstance(backend, Addressed) else 0]  # what listens at its address, until that is known

    def report(retry_state: RetryCallState) -> None:
        state["last"] = str(retry_state.outcome.exception() if retry_state.outcome else "")
        now = time.monotonic()
        if now >= float(state["next_report"]):
            log.info(backend.name, f"waiting ({now - start:.0f} s): {str(state['last']).removeprefix(backend.name + ': ')}")
            state["next_report"] = now + PROGRESS_EVERY

    def misdirected() -> None:
        """A port that answers in another protocol, or with TLS where the settings say plain (or
        the reverse), is a setting to change: said at once, not at the deadline."""
        endpoint = backend.endpoint() if asking[0] > 0 and isinstance(backend, Addressed) else None
        mine = registry.get(backend.name).protocol
        if endpoint is None or mine is None:
            return
        others = [d.protocol for d in registry.databases() if d.protocol is not None and d.name != backend.name]
        found = ports.misdirected(backend.name, endpoint, mine, others)
        if isinstance(found, ConfigError):
            raise found
        asking[0] = 0 if found is True else asking[0] - 1 if found is False else asking[0]

    try:
        for attempt in Retrying(retry=retry_if_exception_type(NotReady), wait=BACKOFF,
                                stop=stop_after_delay(max(0.0, deadline - start)), before_sleep=report, reraise=True):
            with attempt:
                timeout = max(1.0, min(ATTEMPT_TIMEOUT, deadline - time.monotonic()))
                try:
                    backend.connect(timeout)
                except NotReady:
                    misdirected()
                    raise
                except MissingDatabase:
                    if not (create and isinstance(backend, Creates)):
                        raise
                    backend.create(timeout)
                    # Connect on the next try: a database another runner is making at the same
                    # moment can still be missing for a moment after our CREATE said it exists.
                    raise NotReady(f"{backend.name}: the database is made; connecting to it") from None
    except NotReady as e:
        results.put((backend, NotReady(str(e))))
    except Exception as e:  # AuthRefused, ConfigError: fail at once, without waiting out the deadline
        results.put((backend, e))
    else:
        took = time.monotonic() - start
        log.info(backend.name, f"ready after {took:.2f} s", elapsed_s=round(took, 3))
        ready(backend.name, took)
        results.put((backend, None))


def wait(backends: list[Backend], timeout: float, ready: Ready = lambda db, seconds: None, create: bool = False) -> None:
    """Return when all are ready; raise the first fatal error, or NotReady naming each that was not
    ready. `ready(database, seconds)` as each becomes ready. `create`: a database the server says is
    missing is made, where the backend can."""
    deadline = time.monotonic() + timeout
    results: queue.Queue[tuple[Backend, Exception | None]] = queue.Queue()
    for backend in backends:
        log.thread(_probe, backend, deadline, results, ready, create, name=f"wait-{backend.name}").start()
    failures: list[str] = []
    for _ in backends:
        backend, error = results.get()
        if error is None:
            continue
        if not isinstance(error, NotReady):
            raise error
        failures.append(str(error))
    if failures:
        raise NotReady(f"not ready within {timeout:g} s (DBINIT_WAIT_TIMEOUT): " + "; ".join(failures))
