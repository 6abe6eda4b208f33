"""The schema of a PostgreSQL database from its catalog, without pg_dump: one read-only
repeatable-read transaction with an empty search_path (every name comes qualified), one small
query and renderer per kind of object, in an order that loads (`psql -1 -f`)."""
from __future__ import annotations

import psycopg

from ....description import Description, Item
from .comments import comments
from .common import Catalog, Obj
from .constraints import constraints
from .functions import functions
from .indexes import indexes
from .order import ordered
from .policies import policies
from .privileges import privileges
from .schemas import extensions, schemas
from .sequences import sequences
from .tables import tables
from .triggers import triggers
from .types import types
from .unsupported import unsupported
from .views import views

HEAD = """\
-- The schema of this PostgreSQL database, described from its catalog by dbinit (`dbinit schema`):
-- what the migrations made, without dbinit's own schema, extensions' objects or any data.
-- Generated: do not edit. Loads into an empty database with: psql -1 -f FILE
SET check_function_bodies = false;
SELECT pg_catalog.set_config('search_path', '', false);
"""
KINDS = (schemas, extensions, types, sequences, functions, tables, constraints, views, indexes, triggers, policies)


def describe(conn: psycopg.Connection, own_schema: str, with_privileges: bool, only: str | None = None,
             excluded: tuple[str, ...] = ()) -> Description:
    """`conn` in autocommit mode, outside a transaction; `only`: a tenant's schema, alone; `excluded`:
    a fleet's tenants' schemas, left out of the shared part's."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SET LOCAL search_path = ''")
        c = Catalog(conn, own_schema, only, excluded)
        objects: list[Obj] = [o for kind in KINDS for o in kind(c)]
        described = {ident for o in objects for ident in o.ids}
        objects += comments(c, described)
        if with_privileges:
            objects += privileges(c, described)
        objects += unsupported(c)
        major = int(conn.execute("SHOW server_version_num").fetchall()[0][0]) // 10000
        items = tuple(Item(o.kind, o.name, o.text) for o in ordered(c, objects))
    return Description("postgres", f"PostgreSQL {major}", items, HEAD)
