"""COMMENT ON every described object that has one, named as the server identifies it."""
from __future__ import annotations

from .common import Catalog, Ident, Obj

# pg_identify_object's type → what COMMENT ON calls it; objects of other types are not described.
_WHAT = {"table": "TABLE", "view": "VIEW", "materialized view": "MATERIALIZED VIEW", "sequence": "SEQUENCE",
         "index": "INDEX", "table column": "COLUMN", "view column": "COLUMN", "materialized view column": "COLUMN",
         "composite type column": "COLUMN", "function": "FUNCTION", "procedure": "PROCEDURE",
         "aggregate": "AGGREGATE", "type": "TYPE", "domain": "DOMAIN", "schema": "SCHEMA",
         "table constraint": "CONSTRAINT", "domain constraint": "CONSTRAINT", "trigger": "TRIGGER", "policy": "POLICY"}

_COMMENTS = """
SELECT d.classoid::regclass::text, d.objoid, o.type, o.identity, quote_literal(d.description)
FROM pg_description d, pg_identify_object(d.classoid, d.objoid, d.objsubid) o
WHERE d.objoid >= 16384
"""


def comments(c: Catalog, described: set[Ident]) -> list[Obj]:
    found = []
    for catalog, oid, kind, identity, text in c.rows(_COMMENTS):
        catalog = catalog.removeprefix("pg_catalog.")
        if (catalog, oid) not in described or kind not in _WHAT:
            continue
        if kind == "domain constraint":  # "c on d" → CONSTRAINT c ON DOMAIN d
            identity = identity.replace(" on ", " ON DOMAIN ", 1)
        found.append(Obj("comment", f"{kind} {identity}", f"COMMENT ON {_WHAT[kind]} {identity} IS {text};",
                         after=((catalog, oid),)))
    return found
