"""PostgreSQL: V<digits>-<description>-up.sql with optional -down.sql files, split by Postgres's own
parser, applied one transaction a file with its history row, under a session advisory lock (or a
lease row behind a transaction-mode pooler). One concern a module: settings, sql (the parser),
lint, backend, locking, lock_waits, activity, server_errors."""
from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING, Mapping, Sequence

from ...migration import Migration
from ...naming import DESCRIPTION, Numbered
from ...ports import Protocol
from ...registry import Database, Flag, Tenancy, register
from .peers import PEERS
from .settings import ENVIRONMENT, FOREIGN, VARIABLES, in_database, load

if TYPE_CHECKING:
    from ...contract import Backend
    from ...errors import Problem
    from ...history import Applied
    from .settings import PostgresSettings

NAME = "postgres"
_EXPECTED = ("V<digits>-<description>-up.sql (and optionally V<digits>-<description>-down.sql), "
             "e.g. V001-add-session-tags-up.sql")


def _parse(migration: Migration) -> Sequence[object]:
    from .sql import parse

    return parse(migration).statements


def _lint(migrations: list[Migration]) -> list[Problem] | None:
    from .lint import lint

    return lint(migrations)


def _literal(name: str, value: str) -> tuple[str, dict[str, str]]:
    """A string constant whatever standard_conforming_strings says: E'' with \\ and '' doubled."""
    return ("E'" if "\\" in value else "'") + value.replace("\\", "\\\\").replace("'", "''") + "'", {}


def _identifier(name: str, value: str) -> tuple[str, dict[str, str]]:
    return '"' + value.replace('"', '""') + '"', {}


def _fill(migration: Migration, values: Mapping[str, str]) -> Migration:
    from ...placeholders import fill

    return fill(migration, values, {"literal": _literal, "identifier": _identifier})


def _open(settings: PostgresSettings, lease_s: float) -> Backend:
    from .backend import PostgresBackend

    return PostgresBackend(settings, lease_s)


def _tenant_settings(settings: PostgresSettings, kind: str, tenant: str) -> PostgresSettings:
    from .tenancy import settings as of_tenant

    return of_tenant(settings, kind, tenant)


def _shared(settings: PostgresSettings, kind: str, tenants: list[str]) -> PostgresSettings:
    from .tenancy import shared

    return shared(settings, kind, tenants)


def _listed(backend: Backend, query: str) -> list[str]:
    from .tenancy import listed

    return listed(backend, query)


def _histories(backend: Backend, kind: str, tenants: list[str]) -> dict[str, list[Applied]]:
    from .tenancy import histories

    return histories(backend, kind, tenants)


register(Database(
    name=NAME, title="PostgreSQL", system="postgresql",
    naming=Numbered(re.compile(rf"V(?P<num>\d+)-{DESCRIPTION}-(?P<dir>up|down|checkpoint)\.sql"), _EXPECTED,
                    ("-up.sql", "-down.sql"), f"{NAME} migration", hints=(
                        (r"V(?P<num>\d+)__(?P<desc>.+)", "looks like a Flyway name: call it V{num}-{desc}-up.sql "
                         "(dbinit import flyway converts the whole folder)"),
                        (r"(?P<num>\d+)_(?P<desc>.+)\.(?P<dir>up|down)", "looks like a golang-migrate name: call it "
                         "V{num}-{desc}-{dir}.sql (dbinit import golang-migrate converts the whole folder)"),
                        (r"(?P<num>\d+)_(?P<desc>.+)", "looks like a dbmate name: dbinit's are V{num}-{desc}-up.sql "
                         "and V{num}-{desc}-down.sql, one for each section (dbinit import dbmate splits them)"),
                        (r"v\d+-.+", "the V must be upper-case; expected {expected}"),
                        (r"V\d+-(up|down)", "has no description; expected {expected}"),
                        (rf"V\d+-{DESCRIPTION}", "ends in neither -up nor -down; expected {expected}"),
                        (r"V[^-]*[^\d-][^-]*-.*", "the version after V must be digits only; expected {expected}")),
                    checkpoint_suffix="-checkpoint.sql"),
    comment="--", variables=VARIABLES, environment=ENVIRONMENT, load_settings=load,
    flags=(Flag("postgres_url", "PostgreSQL URL (POSTGRES_URL)"),),
    parse=_parse, open=_open, init_script="postgres-init.sql", lint=_lint, fill=_fill, foreign=FOREIGN,
    # An SSLRequest: any PostgreSQL server answers it with one byte, S or N.
    protocol=Protocol("PostgreSQL", struct.pack("!ii", 8, 80877103), lambda reply: reply in (b"S", b"N")),
    logger="psycopg",
    peers=PEERS,
    tenancy=Tenancy(("schema", "database"), _tenant_settings, _shared, _listed, _histories),
    scratch=in_database,
))
