"""Row-level security policies (whether a table enforces them is its own)."""
from __future__ import annotations

from .common import Catalog, Obj, user_schema

_POLICIES = f"""
SELECT p.oid, p.polrelid, format('%%I.%%I', n.nspname, c.relname), format('%%I', p.polname), p.polpermissive,
       p.polcmd,
       CASE WHEN p.polroles = '{{0}}' THEN ARRAY['PUBLIC']
            ELSE ARRAY(SELECT format('%%I', r.rolname) FROM pg_roles r WHERE r.oid = ANY(p.polroles) ORDER BY 1) END,
       pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {user_schema('n')}
"""
_COMMANDS = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}


def policies(c: Catalog) -> list[Obj]:
    found = []
    for oid, table, relation, name, permissive, command, roles, using, check in c.rows(_POLICIES):
        text = (f"CREATE POLICY {name} ON {relation} AS {'PERMISSIVE' if permissive else 'RESTRICTIVE'} "
                f"FOR {_COMMANDS[command]} TO {', '.join(roles)}" + (f"\n  USING ({using})" if using else "")
                + (f"\n  WITH CHECK ({check})" if check else "") + ";")
        found.append(Obj("policy", f"{relation}.{name}", text, (("pg_policy", oid),), (("pg_class", table),)))
    return found
