"""The pytest plugin (entry point `pytest11`), off unless `--dbinit-migrations DIR` or the ini
option `dbinit_migrations` names the migrations. Then the test databases configured in the
environment (POSTGRES_URL, NEO4J_URI, REDIS_URL, … as for the command line) are migrated once per
session, before the first test; `dbinit_result` is what that applied; `dbinit_postgres_url` gives
each test module a fresh PostgreSQL database cloned from a migrated template (CREATE DATABASE …
TEMPLATE), and `dbinit_postgres_factory` makes more of them."""
from __future__ import annotations

from typing import Any

import pytest

from .databases.postgres.fixtures import dbinit_postgres_factory, dbinit_postgres_url

__all__ = ["dbinit_postgres_factory", "dbinit_postgres_url", "dbinit_result"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("dbinit").addoption("--dbinit-migrations", metavar="DIR",
                                        help="migrate the test databases with dbinit from DIR, once per session")
    parser.addini("dbinit_migrations", "dbinit's migrations directory (as --dbinit-migrations)")


def _directory(config: pytest.Config) -> str | None:
    return config.getoption("dbinit_migrations") or config.getini("dbinit_migrations") or None


@pytest.fixture(scope="session", autouse=True)
def dbinit_result(request: pytest.FixtureRequest) -> Any:
    """dbinit.Result of migrating the configured databases, before the first test; None when off."""
    directory = _directory(request.config)
    if directory is None:
        return None
    from . import api

    return api.migrate(directory, from_environment=True, post_deploy=True)  # tests run the new version: every file
