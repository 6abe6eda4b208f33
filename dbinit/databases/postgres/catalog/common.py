"""What every kind of object's query shares: the schemas that are the application's, the test that
an extension does not own an object, and the object as the describing code hands it on."""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import psycopg

Ident = tuple[str, int]  # (catalog, oid): how pg_depend names an object; never written to the file

# The order of kinds in the file; within a kind, by qualified name; an object the catalog says
# depends on another comes after it (order.py).
KINDS = ("schema", "extension", "type", "sequence", "function", "table", "sequence owner", "constraint",
         "foreign key", "view", "index", "trigger", "policy", "comment", "privilege", "not described")


class Obj(NamedTuple):  # a tuple: thousands are made for a large schema
    kind: str
    name: str
    text: str
    ids: tuple[Ident, ...] = ()  # the catalog entries that are this object (a table: its row type, its defaults)
    after: tuple[Ident, ...] = ()  # what it must follow beyond what pg_depend says (its table)


class Catalog:
    """Queries in the one read-only snapshot the description is taken from."""

    def __init__(self, conn: psycopg.Connection, own_schema: str, only: str | None = None,
                 excluded: tuple[str, ...] = ()):
        self.conn, self.own = conn, own_schema
        # The application's schemas, decided once: not the system's, temporary ones or dbinit's own
        # (its schema, and a fleet's tenants' histories in <own>_T); of a fleet's, a tenant's own
        # (`only`) alone, and the tenants (`excluded`) in none but their own.
        self.schemas = [oid for oid, in conn.execute(
            """SELECT n.oid FROM pg_namespace n
                WHERE CASE WHEN %(only)s::text IS NOT NULL THEN n.nspname = %(only)s ELSE
                      n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                      AND n.nspname NOT LIKE 'pg\\_temp\\_%%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
                      AND n.nspname <> %(own)s AND n.nspname NOT LIKE %(tenants)s
                      AND n.nspname <> ALL(%(excluded)s::text[]) END""",
            {"own": own_schema, "only": only, "tenants": own_schema.replace("_", "\\_") + "\\_%",
             "excluded": list(excluded)}).fetchall()]

    def rows(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        return self.conn.execute(query, {"own": self.own, "schemas": self.schemas, **params}).fetchall()


def user_schema(alias: str) -> str:
    """A condition on pg_namespace `alias`: one of the application's schemas (Catalog.schemas)."""
    return f"{alias}.oid = ANY(%(schemas)s::oid[])"


def not_extension(catalog: str, oid: str) -> str:
    """A condition: no extension owns the object (CREATE EXTENSION makes it again)."""
    return (f"NOT EXISTS (SELECT FROM pg_depend ext WHERE ext.classid = '{catalog}'::regclass AND ext.objid = {oid} "
            "AND ext.deptype = 'e')")


def ids(catalog: str, oids: Sequence[int] | None) -> tuple[Ident, ...]:
    return tuple((catalog, oid) for oid in oids or () if oid)


_INT_MAX = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}


def sequence_options(kind: str, start: int, increment: int, minimum: int, maximum: int, cache: int,
                     cycle: bool) -> list[str]:
    """A sequence's options that differ from what CREATE SEQUENCE takes by default for its type."""
    top = _INT_MAX.get(kind, _INT_MAX["bigint"])
    low, high = (1, top) if increment > 0 else (-top - 1, -1)
    options = [f"INCREMENT BY {increment}"] if increment != 1 else []
    options += [f"MINVALUE {minimum}"] if minimum != low else []
    options += [f"MAXVALUE {maximum}"] if maximum != high else []
    options += [f"START WITH {start}"] if start != (minimum if increment > 0 else maximum) else []
    options += [f"CACHE {cache}"] if cache != 1 else []
    return options + (["CYCLE"] if cycle else [])
