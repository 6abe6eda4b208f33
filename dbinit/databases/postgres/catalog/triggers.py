"""Triggers (constraint triggers too) and whether each is enabled; a partition's copy of its
parent's trigger comes with the parent's."""
from __future__ import annotations

from .common import Catalog, Obj, not_extension, user_schema

_TRIGGERS = f"""
SELECT t.oid, t.tgrelid, format('%%I.%%I', n.nspname, c.relname), format('%%I', t.tgname),
       pg_get_triggerdef(t.oid), t.tgenabled
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {user_schema('n')} AND {not_extension('pg_class', 'c.oid')}
"""
_ENABLED = {"D": "DISABLE TRIGGER", "R": "ENABLE REPLICA TRIGGER", "A": "ENABLE ALWAYS TRIGGER"}


def triggers(c: Catalog) -> list[Obj]:
    found = []
    for oid, table, relation, name, definition, enabled in c.rows(_TRIGGERS):
        text = definition + ";" + (f"\nALTER TABLE {relation} {_ENABLED[enabled]} {name};" if enabled in _ENABLED else "")
        found.append(Obj("trigger", f"{relation}.{name}", text, (("pg_trigger", oid),), (("pg_class", table),)))
    return found
