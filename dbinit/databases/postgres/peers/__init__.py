"""The other tools whose PostgreSQL folders and histories dbinit takes over, one module each
(golang_migrate, dbmate, flyway), loaded when a command needs one: not on every run's start."""
from __future__ import annotations

from typing import Any, Callable

from ....peers import Peer, Variable, later


def _later(module: str, name: str) -> Callable[..., Any]:
    return later(f"{__name__}.{module}", name)


PEERS = (
    Peer("golang-migrate", "golang-migrate", "postgres", None,  # its -path has no default
         _later("golang_migrate", "convert"), _later("golang_migrate", "read_history")),
    Peer("dbmate", "dbmate", "postgres", "db/migrations", _later("dbmate", "convert"), _later("dbmate", "read_history"),
         variables=(
             Variable("DBMATE_MIGRATIONS_DIR", "DBINIT_MIGRATIONS", honoured=True),
             Variable("DBMATE_MIGRATIONS_TABLE", "dbinit baseline --from dbmate reads it", honoured=True),
             Variable("DBMATE_SCHEMA_FILE", "dbinit schema writes the schema files into DBINIT_SCHEMA_DIR"),
             Variable("DBMATE_NO_DUMP_SCHEMA", "dbinit writes no schema file unless DBINIT_SCHEMA_ON_MIGRATE=true"),
             Variable("DBMATE_WAIT", "dbinit always waits for the databases"),
             Variable("DBMATE_WAIT_TIMEOUT", "DBINIT_WAIT_TIMEOUT, in seconds"),
             Variable("DBMATE_STRICT", "dbinit refuses pending files older than the newest applied one unless "
                      "DBINIT_OUT_OF_ORDER=true"),
             Variable("DBMATE_VERBOSE", "DBINIT_LOG_FORMAT"),
         ), migrations_variable="DBMATE_MIGRATIONS_DIR"),
    Peer("flyway", "Flyway", "postgres", "sql", _later("flyway", "convert"), _later("flyway", "read_history"),
         variables=(
             Variable("FLYWAY_URL", "POSTGRES_URL (postgresql://user@host:5432/db, not jdbc:)"),
             Variable("FLYWAY_USER", "the user in POSTGRES_URL"),
             Variable("FLYWAY_PASSWORD", "POSTGRES_PASSWORD"),
             Variable("FLYWAY_LOCATIONS", "DBINIT_MIGRATIONS"),
             Variable("FLYWAY_OUT_OF_ORDER", "DBINIT_OUT_OF_ORDER"),
             Variable("FLYWAY_SCHEMAS", "the search_path in POSTGRES_URL (?options=-csearch_path%3D…)"),
             Variable("FLYWAY_BASELINE_ON_MIGRATE", "dbinit baseline --from flyway, once"),
         )),
)
