"""The pytest plugin's PostgreSQL fixtures: each test module a fresh database cloned from a template
migrated once per session (CREATE DATABASE … TEMPLATE)."""
from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from . import NAME


@pytest.fixture(scope="session")
def dbinit_postgres_factory(request: pytest.FixtureRequest, dbinit_result: Any) -> Iterator[Callable[[], str]]:
    """A function that returns the URL of a new database with every migration applied: a copy of a
    template migrated once per session. Every database made is dropped at the end."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from ... import api
    from ...settings import load

    directory = request.config.getoption("dbinit_migrations") or request.config.getini("dbinit_migrations") or None
    if directory is None:
        raise pytest.UsageError("dbinit_postgres_factory needs --dbinit-migrations DIR (or the dbinit_migrations "
                                "ini option)")
    settings = load(dict(os.environ), migrations=directory)
    if NAME not in settings.configured():
        raise pytest.UsageError("dbinit_postgres_factory needs PostgreSQL settings (POSTGRES_URL or DATABASE_URL)")
    mine = settings.of(NAME)
    base = mine.conninfo
    if mine.password and "password" not in conninfo_to_dict(base):
        base = make_conninfo(base, password=mine.password)
    made: list[str] = []
    template = "dbinit_template_" + hashlib.sha256(os.path.abspath(directory).encode()).hexdigest()[:12]

    def admin(statement: str, *names: str) -> None:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(*map(sql.Identifier, names)))

    admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", template)
    admin("CREATE DATABASE {}", template)
    made.append(template)
    template_url = make_conninfo(base, dbname=template)
    api.migrate(directory, env={**os.environ, "POSTGRES_URL": template_url}, from_environment=False,
                post_deploy=True)

    def new_database() -> str:
        name = f"dbinit_test_{secrets.token_hex(6)}"
        admin("CREATE DATABASE {} TEMPLATE {}", name, template)
        made.append(name)
        return make_conninfo(base, dbname=name)

    yield new_database
    for name in reversed(made):
        admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


@pytest.fixture(scope="module")
def dbinit_postgres_url(dbinit_postgres_factory: Callable[[], str]) -> str:
    """A fresh PostgreSQL database for this test module, every migration applied (its conninfo)."""
    return dbinit_postgres_factory()
