"""Finding a peer's history table where the peer would: on the search path, told apart by its columns."""
from __future__ import annotations

from typing import Any, Sequence


def table(backend: Any, name: str, columns: Sequence[str], absent: Sequence[str] = ()) -> str | None:
    """The qualified name of the table `name` resolves to, when it has `columns` and none of
    `absent` (dbmate's and golang-migrate's tables share a name), else None."""
    row = backend.connection.execute(
        "SELECT format('%%I.%%I', n.nspname, c.relname), array_agg(a.attname::text) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE c.oid = to_regclass(%s) GROUP BY n.nspname, c.relname", (name,)).fetchone()
    if row is None or not set(columns) <= set(row[1]) or set(absent) & set(row[1]):
        return None
    return str(row[0])
