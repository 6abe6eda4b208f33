"""Sequences made on their own or by serial; an identity column's is its table's. Never the value
a sequence has reached: that is data."""
from __future__ import annotations

from .common import Catalog, Obj, not_extension, sequence_options, user_schema

_SEQUENCES = f"""
SELECT c.oid, format('%%I.%%I', n.nspname, c.relname), format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
       s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
       (SELECT format('%%I.%%I.%%I', tn.nspname, t.relname, a.attname) || '|' || t.oid
          FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
           AND d.deptype = 'a')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
WHERE c.relkind = 'S' AND {user_schema('n')} AND {not_extension('pg_class', 'c.oid')}
  AND NOT EXISTS (SELECT FROM pg_depend i WHERE i.classid = 'pg_class'::regclass AND i.objid = c.oid AND i.deptype = 'i')
"""


def sequences(c: Catalog) -> list[Obj]:
    found = []
    for oid, name, kind, start, increment, low, high, cache, cycle, owner in c.rows(_SEQUENCES):
        options = ([f"AS {kind}"] if kind != "bigint" else []) + sequence_options(kind, start, increment, low, high,
                                                                                   cache, cycle)
        found.append(Obj("sequence", name, f"CREATE SEQUENCE {name}{''.join(' ' + o for o in options)};",
                         (("pg_class", oid),)))
        if owner:  # serial's: after its table, which uses it in a default
            column, table = owner.rsplit("|", 1)
            found.append(Obj("sequence owner", name, f"ALTER SEQUENCE {name} OWNED BY {column};",
                             after=(("pg_class", oid), ("pg_class", int(table)))))
    return found
