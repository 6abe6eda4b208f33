"""Objects of kinds dbinit does not describe, named in the file (and so in a drift check by name)
so that nobody takes the file for complete where it is not."""
from __future__ import annotations

from .common import Catalog, Obj, not_extension, user_schema

_OTHERS = f"""
SELECT 'rule', format('%%I on %%I.%%I', r.rulename, n.nspname, c.relname) FROM pg_rewrite r
  JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE r.rulename <> '_RETURN' AND {user_schema('n')} AND {not_extension('pg_rewrite', 'r.oid')}
UNION ALL SELECT 'foreign table', format('%%I.%%I', n.nspname, c.relname) FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'f' AND {user_schema('n')}
  AND {not_extension('pg_class', 'c.oid')}
UNION ALL SELECT 'collation', format('%%I.%%I', n.nspname, o.collname) FROM pg_collation o
  JOIN pg_namespace n ON n.oid = o.collnamespace WHERE {user_schema('n')} AND {not_extension('pg_collation', 'o.oid')}
UNION ALL SELECT 'operator', format('%%I.%%s', n.nspname, o.oprname) FROM pg_operator o
  JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE {user_schema('n')} AND {not_extension('pg_operator', 'o.oid')}
UNION ALL SELECT 'cast', format('(%%s AS %%s)', format_type(k.castsource, NULL), format_type(k.casttarget, NULL))
  FROM pg_cast k WHERE k.oid >= 16384 AND {not_extension('pg_cast', 'k.oid')}
  AND NOT EXISTS (SELECT FROM pg_depend i WHERE i.classid = 'pg_cast'::regclass AND i.objid = k.oid AND i.deptype = 'i')
UNION ALL SELECT 'text search configuration', format('%%I.%%I', n.nspname, t.cfgname) FROM pg_ts_config t
  JOIN pg_namespace n ON n.oid = t.cfgnamespace WHERE {user_schema('n')} AND {not_extension('pg_ts_config', 't.oid')}
UNION ALL SELECT 'statistics object', format('%%I.%%I', n.nspname, s.stxname) FROM pg_statistic_ext s
  JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE {user_schema('n')}
UNION ALL SELECT 'event trigger', format('%%I', e.evtname) FROM pg_event_trigger e
  WHERE {not_extension('pg_event_trigger', 'e.oid')}
UNION ALL SELECT 'publication', format('%%I', p.pubname) FROM pg_publication p
UNION ALL SELECT 'foreign server', format('%%I', s.srvname) FROM pg_foreign_server s
  WHERE {not_extension('pg_foreign_server', 's.oid')}
"""


def unsupported(c: Catalog) -> list[Obj]:
    return [Obj("not described", f"{kind} {name}", f"-- not described by dbinit: {kind} {name}")
            for kind, name in c.rows(_OTHERS)]
