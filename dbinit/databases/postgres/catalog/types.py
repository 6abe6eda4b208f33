"""Enum, domain, composite and range types."""
from __future__ import annotations

from collections import defaultdict

from .common import Catalog, Obj, ids, not_extension, user_schema

_TYPES = f"""
SELECT t.oid, format('%%I.%%I', n.nspname, t.typname), t.typtype, t.typarray, t.typrelid,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
       t.typnotnull, t.typdefault,
       CASE WHEN t.typtype = 'd' AND t.typcollation <> b.typcollation THEN format('%%I.%%I', cn.nspname, co.collname) END,
       format_type(r.rngsubtype, NULL), r.rngsubdiff::text, r.rngmultitypid
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_type b ON b.oid = t.typbasetype
LEFT JOIN pg_collation co ON co.oid = t.typcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_range r ON r.rngtypid = t.oid
LEFT JOIN pg_class c ON c.oid = t.typrelid
WHERE t.typtype IN ('e', 'd', 'c', 'r') AND (t.typtype <> 'c' OR c.relkind = 'c') AND {user_schema('n')}
  AND {not_extension('pg_type', 't.oid')}
"""
# What each kind adds, by type, in queries of their own (as correlated subqueries in the one
# above, the planner made it some hundred times slower on a catalog of 5,000 tables).
_LABELS = "SELECT enumtypid, quote_literal(enumlabel) FROM pg_enum ORDER BY enumtypid, enumsortorder"
_ATTRIBUTES = """
SELECT a.attrelid, format('%%I %%s', a.attname, format_type(a.atttypid, a.atttypmod))
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relkind = 'c' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum
"""
_CHECKS = """
SELECT k.contypid, k.oid, k.contype, format('%%I', k.conname), pg_get_constraintdef(k.oid)
FROM pg_constraint k WHERE k.contypid <> 0 ORDER BY k.contypid, k.conname
"""


def types(c: Catalog) -> list[Obj]:
    labels, attributes, checks, constraints = defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list)
    for oid, label in c.rows(_LABELS):
        labels[oid].append(label)
    for oid, attribute in c.rows(_ATTRIBUTES):
        attributes[oid].append(attribute)
    for oid, constraint, kind, name, definition in c.rows(_CHECKS):
        constraints[oid].append(constraint)
        if kind == "c":  # a domain's NOT NULL is its own (typnotnull)
            checks[oid].append((name, definition))
    found = []
    for oid, name, kind, array, relation, base, notnull, default, collation, subtype, subdiff, multirange in c.rows(
            _TYPES):
        if kind == "e":
            text = f"CREATE TYPE {name} AS ENUM ({', '.join(labels[oid])});"
        elif kind == "c":
            text = f"CREATE TYPE {name} AS (\n    " + ",\n    ".join(attributes[relation]) + "\n);"
        elif kind == "r":
            diff = f", SUBTYPE_DIFF = {subdiff}" if subdiff and subdiff != "-" else ""
            text = f"CREATE TYPE {name} AS RANGE (SUBTYPE = {subtype}{diff});"
        else:
            text = (f"CREATE DOMAIN {name} AS {base}" + (f" COLLATE {collation}" if collation else "")
                    + (f" DEFAULT {default}" if default is not None else "") + (" NOT NULL" if notnull else "") + ";")
            text += "".join(f"\nALTER DOMAIN {name} ADD CONSTRAINT {check} {definition};" for check, definition in checks[oid])
        found.append(Obj("type", name, text, (("pg_type", oid), *ids("pg_type", [array, multirange]),
                                              *ids("pg_class", [relation]), *ids("pg_constraint", constraints[oid]))))
    return found
