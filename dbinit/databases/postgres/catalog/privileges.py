"""Owners, grants and default privileges: asked for (DBINIT_POSTGRES_SCHEMA_PRIVILEGES), since the
roles differ from one environment to the next. Grants on a column are not described."""
from __future__ import annotations

from collections import defaultdict

from .common import Catalog, Ident, Obj

_WHAT = {"table": "TABLE", "view": "VIEW", "materialized view": "MATERIALIZED VIEW", "sequence": "SEQUENCE",
         "function": "FUNCTION", "procedure": "PROCEDURE", "aggregate": "AGGREGATE", "type": "TYPE",
         "domain": "DOMAIN", "schema": "SCHEMA"}
_GRANTED_ON = {"view": "TABLE", "materialized view": "TABLE", "aggregate": "FUNCTION", "domain": "DOMAIN"}

_OWNED = """
WITH o (catalog, oid, owner, acl) AS (
  SELECT 'pg_class'::regclass, oid, relowner, relacl FROM pg_class WHERE oid = ANY(%(pg_class)s) AND relkind <> 'i'
  UNION ALL SELECT 'pg_proc'::regclass, oid, proowner, proacl FROM pg_proc WHERE oid = ANY(%(pg_proc)s)
  UNION ALL SELECT 'pg_type'::regclass, t.oid, typowner, typacl FROM pg_type t LEFT JOIN pg_class r ON r.oid = t.typrelid
    WHERE t.oid = ANY(%(pg_type)s) AND typtype <> 'b' AND (r.oid IS NULL OR r.relkind = 'c')
  UNION ALL SELECT 'pg_namespace'::regclass, oid, nspowner, nspacl FROM pg_namespace WHERE oid = ANY(%(pg_namespace)s))
SELECT o.catalog::regclass::text, o.oid,
       CASE WHEN (SELECT typtype FROM pg_type WHERE o.catalog = 'pg_type'::regclass AND oid = o.oid) = 'd' THEN 'domain'
            ELSE i.type END, i.identity, format('%%I', pg_get_userbyid(o.owner)),
       o.acl IS NOT NULL,
       ARRAY(SELECT format('GRANT %%s ON %%s TO %%s%%s', a.privilege_type, '{}',
                           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE format('%%I', pg_get_userbyid(a.grantee)) END,
                           CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
             FROM aclexplode(o.acl) a ORDER BY 1)
FROM o, pg_identify_object(o.catalog, o.oid, 0) i
"""
_DEFAULTS = """
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %%I%%s GRANT %%s ON %%s TO %%s%%s;', pg_get_userbyid(d.defaclrole),
              CASE WHEN d.defaclnamespace = 0 THEN '' ELSE format(' IN SCHEMA %%I', n.nspname) END, a.privilege_type,
              CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS'
                   WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END,
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE format('%%I', pg_get_userbyid(a.grantee)) END,
              CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
WHERE n.nspname IS DISTINCT FROM %(own)s
"""


def privileges(c: Catalog, described: set[Ident]) -> list[Obj]:
    oids: dict[str, list[int]] = defaultdict(list)
    for catalog, oid in described:
        oids[catalog].append(oid)
    found = []
    for catalog, oid, kind, identity, owner, revoked, grants in c.rows(
            _OWNED, **{k: oids.get(k, []) for k in ("pg_class", "pg_proc", "pg_type", "pg_namespace")}):
        catalog = catalog.removeprefix("pg_catalog.")
        if kind not in _WHAT:
            continue
        lines = [f"ALTER {_WHAT[kind]} {identity} OWNER TO {owner};"]
        on = f"{_GRANTED_ON.get(kind, _WHAT[kind])} {identity}"
        if revoked:  # the grants are no longer the defaults: from none, then these
            lines.append(f"REVOKE ALL ON {on} FROM PUBLIC;")
            lines += [grant.replace(" ON {} ", f" ON {on} ", 1) + ";" for grant in grants]
        found.append(Obj("privilege", f"{kind} {identity}", "\n".join(lines), after=((catalog, oid),)))
    defaults = [row[0] for row in c.rows(_DEFAULTS)]
    if defaults:
        found.append(Obj("privilege", "default privileges", "\n".join(sorted(defaults))))
    return found
