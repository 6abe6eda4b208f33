"""What the migrating session is doing, from pg_stat_activity and the pg_stat_progress_* views."""
from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg

from ...contract import Progress

if TYPE_CHECKING:
    from .backend import PostgresBackend


class Activity:
    """Asked from a connection of the progress thread's own, opened once a migration runs long."""

    def __init__(self, backend: PostgresBackend) -> None:
        self.backend = backend
        self._watcher: psycopg.Connection | None = None

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    def describe(self) -> Progress:
        """What pg_stat_activity and the pg_stat_progress_* views say of the migrating session."""
        if not self.backend.locking.names_its_session:
            return None
        if self._watcher is None:
            self._watcher = self.backend.open(10)
        pid = self.backend.connection.info.backend_pid
        row = self._watcher.execute(
            """SELECT a.state, a.wait_event_type, a.wait_event, pg_blocking_pids(a.pid),
                      coalesce(i.phase, c.phase, v.phase),
                      CASE WHEN i.blocks_total > 0 THEN 100.0 * i.blocks_done / i.blocks_total
                           WHEN i.tuples_total > 0 THEN 100.0 * i.tuples_done / i.tuples_total
                           WHEN c.heap_blks_total > 0 THEN 100.0 * c.heap_blks_scanned / c.heap_blks_total
                           WHEN v.heap_blks_total > 0 THEN 100.0 * v.heap_blks_scanned / v.heap_blks_total END,
                      CASE WHEN i.pid IS NOT NULL THEN 'building index' WHEN c.pid IS NOT NULL THEN c.command
                           WHEN v.pid IS NOT NULL THEN 'vacuuming' END
                 FROM pg_stat_activity a
                 LEFT JOIN pg_stat_progress_create_index i ON i.pid = a.pid
                 LEFT JOIN pg_stat_progress_cluster c ON c.pid = a.pid
                 LEFT JOIN pg_stat_progress_vacuum v ON v.pid = a.pid
                WHERE a.pid = %s""", (pid,)).fetchone()
        if row is None:
            return None
        state, wait_type, wait_event, blockers, phase, percent, work = row
        fields: dict[str, object] = {"pid": pid, "state": state}
        if blockers:
            fields.update(blocking_pid=blockers[0], wait_event=f"{wait_type}: {wait_event}")
            return f"waiting for a lock ({wait_type}: {wait_event}) held by pid {blockers[0]} (pid {pid})", fields
        if work:
            fields.update(phase=phase, percent=None if percent is None else round(float(percent)))
            done = "" if percent is None else f", {float(percent):.0f}%"
            return f'{work}, phase "{phase}"{done} (pid {pid})', fields
        waiting = f", waiting on {wait_type}: {wait_event}" if wait_event else ""
        return f"{state}{waiting} (pid {pid})", fields
