"""Waiting and trying again, in one place: polling until something holds or a deadline passes,
and a bounded number of tries of work that may collide with another runner."""
from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

T = TypeVar("T")
PROGRESS_EVERY = 5.0  # seconds between "still waiting" lines


def poll(attempt: Callable[[], T | None], timeout: float, *, first: float = 0.05, most: float = 1.0,
         jitter: bool = True, waiting: Callable[[float], None] | None = None) -> T | None:
    """`attempt()` until it gives something other than None, or None once `timeout` seconds have
    passed. The pauses double from `first` up to `most` (jittered: racing runners spread out) and
    never run past the deadline; `waiting(elapsed)` is called every PROGRESS_EVERY seconds."""
    start = time.monotonic()
    next_report = start + PROGRESS_EVERY
    delay = first
    while (result := attempt()) is None:
        now = time.monotonic()
        if now - start >= timeout:
            return None
        if waiting is not None and now >= next_report:
            waiting(now - start)
            next_report = now + PROGRESS_EVERY
        time.sleep(min(delay, max(0.0, timeout - (now - start))) * (random.uniform(0.5, 1.0) if jitter else 1.0))
        delay = min(delay * 2, most)
    return result


def again(work: Callable[[], T], *, tries: int, when: Callable[[Exception], bool],
          pause: Callable[[int], float] = lambda n: 0.0, before: Callable[[Exception], None] | None = None) -> T:
    """`work()`, tried up to `tries` times while it raises an error that `when` says is worth
    another try (a collision, a moving slot); then `before(error)` runs, and `pause(try number)`
    seconds pass before the next try. The last error is raised as it is."""
    for n in range(1, tries + 1):
        try:
            return work()
        except Exception as e:
            if n == tries or not when(e):
                raise
            if before is not None:
                before(e)
            time.sleep(pause(n))
    raise AssertionError("unreachable: the last try returns or raises")
