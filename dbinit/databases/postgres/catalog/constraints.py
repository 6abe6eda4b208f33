"""Table constraints (primary keys, unique, exclusion, checks, foreign keys, NOT VALID ones
included), each added to its table after every table is made. NOT NULL is its column's; a
partition's copy of its parent's constraint comes with the parent's."""
from __future__ import annotations

from .common import Catalog, Obj, not_extension, user_schema

_CONSTRAINTS = f"""
SELECT k.oid, k.conrelid, k.conindid, format('%%I.%%I', n.nspname, c.relname), format('%%I', k.conname), k.contype,
       pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype IN ('p', 'u', 'x', 'c', 'f') AND k.conislocal AND k.conparentid = 0 AND c.relkind IN ('r', 'p')
  AND {user_schema('n')} AND {not_extension('pg_class', 'c.oid')}
"""


def constraints(c: Catalog) -> list[Obj]:
    return [Obj("foreign key" if kind == "f" else "constraint", f"{table}.{name}",
                f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition};",
                # A key's index is the constraint's: what depends on the index depends on it.
                (("pg_constraint", oid), *((("pg_class", index),) if kind in "pux" and index else ())),
                (("pg_class", relation),))
            for oid, relation, index, table, name, kind, definition in c.rows(_CONSTRAINTS)]
