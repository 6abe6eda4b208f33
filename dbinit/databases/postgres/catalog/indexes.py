"""Indexes no constraint owns, as the server deparses them; an INVALID one (a failed CREATE INDEX
CONCURRENTLY) is named; one being built now is left out until it is done."""
from __future__ import annotations

from .common import Catalog, Obj, not_extension, user_schema

_INDEXES = f"""
SELECT i.indexrelid, i.indrelid, format('%%I.%%I', n.nspname, x.relname), pg_get_indexdef(i.indexrelid),
       i.indisvalid
FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = x.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND {user_schema('n')} AND {not_extension('pg_class', 'c.oid')}
  AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                  AND k.contype IN ('p', 'u', 'x'))
  AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
  AND i.indexrelid NOT IN (SELECT p.index_relid FROM pg_stat_progress_create_index p WHERE p.index_relid <> 0)
"""


def indexes(c: Catalog) -> list[Obj]:
    found = []
    for oid, table, name, definition, valid in c.rows(_INDEXES):
        # ON ONLY: pg_dump's way, attaching each partition's index after; made without it, the
        # partitions get theirs at once.
        text = definition.replace(" ON ONLY ", " ON ", 1) + ";"
        if not valid:
            text = "-- INVALID: a CREATE INDEX CONCURRENTLY failed here; DROP it and create it again\n" + text
        found.append(Obj("index", name, text, (("pg_class", oid),), (("pg_class", table),)))
    return found
