"""Other migration tools (golang-migrate, dbmate, Flyway, neo4j-migrations): each is registered by
the database its files become (registry.Database.peers), with a conversion of its folder into
dbinit's files (`dbinit import`, importing.py) and a reader of its history (`baseline --from`, and
the refusal of a database it migrated that dbinit has not adopted). Declared here: what they are."""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Sequence

if TYPE_CHECKING:
    from datetime import date

    from .importing import Conversion
    from .migration import Migration


def later(module: str, name: str) -> Callable[..., Any]:
    """`module.name`, imported on its first call: a run's start loads no tool's conversion."""
    def call(*args: Any) -> Any:
        return getattr(import_module(module), name)(*args)

    return call


class PeerHistory(NamedTuple):
    """What a peer's history table says, in dbinit's versions."""

    tool: str
    table: str
    summary: str  # "at version 117", "20 versions, the newest 20240115093000"
    versions: list[str]  # the dbinit versions it covers, among the files given
    refused: str | None = None  # why it cannot be adopted as it is (golang-migrate's dirty flag)
    unknown: Sequence[str] = ()  # the peer's versions no file has
    warnings: Sequence[str] = ()  # a file that differs from what the peer ran


class Variable(NamedTuple):
    """One of the peer's variables: `honoured` when dbinit reads it, else what dbinit reads instead."""

    name: str
    instead: str
    honoured: bool = False


class Peer(NamedTuple):
    name: str  # as the command line takes it: golang-migrate
    title: str
    database: str  # the registered database its files become
    default_source: str | None  # where its files are when nothing says (dbmate's db/migrations)
    # (file name → text, the day it runs): dbinit's files; the day dates the files of a database
    # whose versions are dated (Neo4j's)
    convert: Callable[[Mapping[str, str], date], Conversion]
    history: Callable[[Any, list[Migration]], PeerHistory | None]  # (a backend, the files): its table
    variables: tuple[Variable, ...] = ()
    migrations_variable: str | None = None  # its variable naming the folder, honoured without DBINIT_MIGRATIONS
    extension: str = ".sql"  # its files
