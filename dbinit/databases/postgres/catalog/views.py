"""Views and materialized views (without their rows), as the server deparses them."""
from __future__ import annotations

from .common import Catalog, Obj, ids, not_extension, user_schema

_VIEWS = f"""
SELECT c.oid, format('%%I.%%I', n.nspname, c.relname), c.relkind, pg_get_viewdef(c.oid), c.reloptions, c.reltype,
       t.typarray, (SELECT array_agg(r.oid) FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename = '_RETURN')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = c.reltype
WHERE c.relkind IN ('v', 'm') AND {user_schema('n')} AND {not_extension('pg_class', 'c.oid')}
"""


def views(c: Catalog) -> list[Obj]:
    found = []
    for oid, name, kind, query, options, rowtype, array, rules in c.rows(_VIEWS):
        what = "MATERIALIZED VIEW" if kind == "m" else "VIEW"
        query = query.strip().rstrip(";")
        text = (f"CREATE {what} {name}" + (f" WITH ({', '.join(options)})" if options else "") + f" AS\n {query}"
                + ("\n  WITH NO DATA" if kind == "m" else "") + ";")
        found.append(Obj("view", name, text, (("pg_class", oid), *ids("pg_type", [rowtype, array]),
                                              *ids("pg_rewrite", rules))))
    return found
