"""Schemas and extensions: CREATE … IF NOT EXISTS, because an empty database has `public` and
plpgsql already."""
from __future__ import annotations

from .common import Catalog, Obj, not_extension, user_schema


def schemas(c: Catalog) -> list[Obj]:
    return [Obj("schema", name, f"CREATE SCHEMA IF NOT EXISTS {name};", (("pg_namespace", oid),))
            for oid, name in c.rows(f"SELECT n.oid, format('%%I', n.nspname) FROM pg_namespace n WHERE {user_schema('n')} "
                                    f"AND {not_extension('pg_namespace', 'n.oid')}")]


def extensions(c: Catalog) -> list[Obj]:
    # The version as a comment: an update by hand is a change, and the file loads wherever the
    # server has another version of it.
    return [Obj("extension", name, f"CREATE EXTENSION IF NOT EXISTS {name} WITH SCHEMA {schema}; -- version {version}",
                (("pg_extension", oid),))
            for oid, name, schema, version in c.rows(
                "SELECT x.oid, format('%%I', x.extname), format('%%I', n.nspname), x.extversion FROM pg_extension x "
                "JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.oid >= 16384")]  # not initdb's plpgsql
