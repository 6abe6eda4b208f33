"""Functions, procedures and aggregates, as the server deparses them (pg_get_functiondef); not the
constructors a range type makes for itself."""
from __future__ import annotations

from .common import Catalog, Obj, not_extension, user_schema

_FUNCTIONS = f"""
SELECT p.oid, format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), p.prokind,
       CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END,
       a.aggkind, a.aggtransfn::regprocedure::text, format_type(a.aggtranstype, NULL),
       NULLIF(a.aggfinalfn, 0)::regproc::text, NULLIF(a.aggcombinefn, 0)::regproc::text, a.agginitval,
       NULLIF(a.aggsortop, 0)::regoperator::text, a.aggfinalextra
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
WHERE {user_schema('n')} AND {not_extension('pg_proc', 'p.oid')}
  AND NOT EXISTS (SELECT FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass AND i.objid = p.oid AND i.deptype = 'i')
"""


def functions(c: Catalog) -> list[Obj]:
    found = []
    for (oid, name, kind, definition, aggkind, transition, state, final, combine, initial, sortop,
         final_extra) in c.rows(_FUNCTIONS):
        if kind != "a":
            text = definition.rstrip() + ";"
        elif aggkind != "n":
            text = f"-- not described by dbinit: the ordered-set or hypothetical-set aggregate {name}"
        else:
            options = [f"SFUNC = {transition.split('(', 1)[0]}", f"STYPE = {state}"]
            options += [f"FINALFUNC = {final}"] if final else []
            options += ["FINALFUNC_EXTRA"] if final_extra else []
            options += [f"COMBINEFUNC = {combine}"] if combine else []
            options += [f"INITCOND = '{initial.replace(chr(39), chr(39) * 2)}'"] if initial is not None else []
            options += [f"SORTOP = {sortop.split('(', 1)[0]}"] if sortop else []
            text = f"CREATE AGGREGATE {name} (\n    " + ",\n    ".join(options) + "\n);"
        found.append(Obj("function", name, text, (("pg_proc", oid),)))
    return found
