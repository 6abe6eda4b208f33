"""The databases dbinit knows, each described once by its own package and registered here; the
shared code reads this and never asks which database it is. The order of registration is the
order of applying (dbinit/databases/__init__.py).

How to add a database (golang-migrate's driver checklist, for dbinit):
1. A package dbinit/databases/NAME/ whose __init__.py registers a `Database`: its naming scheme
   (dbinit.naming), comment marker, baseline script name, a settings loader reading its variables
   and flags (dbinit.environment) with those variables declared (`environment`: the reference in
   docs/ is generated from them), the parser of its files (offline: no client library), and
   `open`, a factory that imports the client library only when called.
2. A backend (a `dbinit.contract.Backend`): connect, history, prepare, a lock (or a lease with
   renew and holds, every write fenced in the database), apply, record, set_checksum, forget; the
   capabilities it has (precheck, revert and kept_downs, script, backup, describe, finish, inspect) as in
   dbinit.contract; where it can keep a fleet's tenants, a `Tenancy` (dbinit/fleet.py).
3. Import the package in dbinit/databases/__init__.py, at its place in the apply order.
4. Add it to report.schema.json's list of databases (a test compares the two), a server to
   tests/servers.py and its target to tests/targets.py: the contract and conformance suites run
   against it from there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Sequence

from .errors import Problem
from .migration import INIT_VERSION, REPEATABLE, Migration
from .naming import Naming

if TYPE_CHECKING:
    from .peers import Peer
    from .contract import Backend
    from .environment import Env, Variable
    from .history import Applied
    from .ports import Protocol


@dataclass(frozen=True)
class Flag:
    """A command-line option, --DEST with dashes, that is also an API keyword (DEST)."""

    dest: str
    help: str


def _no_warnings(migration: Migration) -> list[Problem]:
    return []


def _plain(migration: Migration, values: Mapping[str, str]) -> Migration:
    from .placeholders import fill

    return fill(migration, values, {})


class Tenancy(NamedTuple):
    """How a database keeps a fleet's tenants (dbinit/fleet.py): each tenant a run of one target."""

    kinds: tuple[str, ...]  # what a tenant can be (DBINIT_TENANT_KIND), the first by default
    settings: Callable[[Any, str, str], Any]  # (its settings, kind, tenant) → the tenant's run's; ConfigError
    shared: Callable[[Any, str, list[str]], Any]  # (its settings, kind, tenants) → the shared part's run's
    listed: Callable[[Backend, str], list[str]]  # a query's first column (DBINIT_TENANTS_QUERY)
    # (a session on the configured database, kind, tenants) → the histories it can read at once.
    histories: Callable[[Backend, str, list[str]], dict[str, list[Applied]]]


@dataclass(frozen=True)
class Database:
    name: str  # the log lines' source, the subfolder, the report's key, `dbinit new NAME`
    title: str  # how messages name it
    naming: Naming
    comment: str  # a line comment, for the files `dbinit new` makes
    variables: str  # what to set to configure it, for messages
    environment: tuple[Variable, ...]  # every variable it reads, for the reference
    # Its settings from the environment and the flags (by dest), or None when not configured.
    load_settings: Callable[[Env, Mapping[str, Any]], Any]
    flags: tuple[Flag, ...]
    parse: Callable[[Migration], Sequence[object]]  # its statements; InvalidMigrations names file and line
    open: Callable[[Any, float], Backend]  # (its settings, the lock lease in seconds): a backend, not connected
    system: str = ""  # OpenTelemetry's db.system.name for it (telemetry.py)
    init_script: str | None = None  # the baseline script's name in init/
    warnings: Callable[[Migration], list[Problem]] = _no_warnings
    # Offline findings over many files at once (a lint); None when its tool is not installed.
    lint: Callable[[list[Migration]], list[Problem] | None] | None = None
    api_env: Mapping[str, tuple[str, Callable[[Any], str]]] = field(default_factory=dict)  # API keyword → variable
    server_check: str | None = None  # what its backend's precheck asks of the server, as `validate` says it
    # Its placeholders filled (placeholders.py), with the quoting forms its language has.
    fill: Callable[[Migration, Mapping[str, str]], Migration] = _plain
    # Variables its client library or its server's image reads itself (libpq's PG*): set beside
    # dbinit's, they are no misspelling of one of them.
    foreign: tuple[str, ...] = ()
    # How its protocol opens (dbinit.ports): told apart from the others at a port that answers.
    protocol: Protocol | None = None
    logger: str = ""  # its client library's logger, silenced on the command line
    peers: tuple[Peer, ...] = ()  # other tools whose folders and histories become its own (`dbinit import`)
    tenancy: Tenancy | None = None  # a fleet's tenants (schemas, databases), where it has them
    # (its settings, a name) → the settings of another database of that name on the same server:
    # `dbinit checkpoint`'s scratch database (the backend makes and drops it: `Creates`), where it has one.
    scratch: Callable[[Any, str], Any] | None = None

    @property
    def extension(self) -> str:
        return self.naming.extension


_registered: dict[str, Database] = {}


def register(database: Database) -> None:
    """Called once by each database's package; a second database of a name or extension is refused."""
    for other in _registered.values():
        if database.name == other.name or database.extension == other.extension:
            raise ValueError(f"a database named {other.name!r} ({other.extension}) is registered already")
    _registered[database.name] = database


def databases() -> list[Database]:
    """Every database, in the order of applying."""
    _load()
    return list(_registered.values())


def get(name: str) -> Database:
    if name not in _registered:
        _load()
    return _registered[name]


def _load() -> None:
    # Importing any database's package runs dbinit/databases/__init__.py first, which imports all
    # of them in the order of applying: registration order is that order, whoever imports first.
    from . import databases as _packages  # noqa: F401


def peers() -> list[Peer]:
    """Every other tool dbinit takes over from, whichever database it serves."""
    return [p for d in databases() for p in d.peers]


def peer(name: str) -> Peer:
    """A tool by the name the command line takes (its parser offers only these)."""
    return next(p for p in peers() if p.name == name)


def names() -> list[str]:
    return [d.name for d in databases()]


def version_key(db: str, version: str) -> tuple[object, ...]:
    """Sort key: a baseline script first, then the database's own order of versions, then the
    repeatable files by name."""
    if version == INIT_VERSION:
        return (0,)
    if version.startswith(REPEATABLE):
        return (2, version)
    return (1, *get(db).naming.key(version))


def version_label(db: str, version: str) -> str:
    """How a version is shown when no file spells it (a missing migration)."""
    return version if version == INIT_VERSION or version.startswith(REPEATABLE) else get(db).naming.label(version)
