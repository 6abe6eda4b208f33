"""A fleet's settings: which tenants, of which kind, from which folder of files, how many at once,
and which share of them this process takes (a Kubernetes Indexed Job's pod). Pure: the list a query
gives comes from the database that runs it (fleet.py asks it)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple

from .environment import Env, Variable
from .errors import ConfigError, UsageError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
PLACEHOLDER = "tenant"  # ${tenant} in a tenant's files

ENVIRONMENT = (
    Variable("DBINIT_TENANTS", "", "the tenants by name, separated by commas or spaces; turns a run into a fleet "
             "run (docs/guides/tenants.md)"),
    Variable("DBINIT_TENANTS_QUERY", "", "instead: a SQL query whose first column names the tenants, run on the "
             "configured PostgreSQL database after its own migrations"),
    Variable("DBINIT_TENANTS_FROM", "", "instead: a file naming one tenant a line (`#` comments)"),
    Variable("DBINIT_TENANT_KIND", "schema", "`schema`: each tenant is a schema of the configured database; "
             "`database`: a database of the same server"),
    Variable("DBINIT_TENANT_MIGRATIONS", "", "the folder of the files every tenant gets; unset: `tenant-migrations/` "
             "beside the migrations"),
    Variable("DBINIT_PARALLEL", "4", "how many tenants migrate at once (each on one connection; one more "
             "connection lists and checks them)"),
    Variable("DBINIT_TENANT_MAX_FAILURES", "", "after this many tenants failed, start no other (those are 'not "
             "attempted'); unset: every tenant is tried"),
    Variable("DBINIT_SHARDS", "", "split the tenants into this many shares, one a process (a Kubernetes Indexed "
             "Job's `completions`); each tenant's share depends only on its name"),
    Variable("JOB_COMPLETION_INDEX", "", "with DBINIT_SHARDS: the share this process takes (Kubernetes sets it "
             "in an Indexed Job's pods; DBINIT_SHARD where it does not)"),
    Variable("DBINIT_SHARD", "", "with DBINIT_SHARDS, outside Kubernetes: the share this process takes (0 to "
             "DBINIT_SHARDS - 1)"),
    Variable("DBINIT_TENANT_DRIFT", "off", "DBINIT_DRIFT for each tenant's schema: `off` (describing a tenant's schema "
             "before and after it changes costs more than small migrations: 7 times the run at 1,000 tenants), "
             "`warn` or `fail`"),
    Variable("DBINIT_TENANT", "", "one tenant: every command addresses only it (an application pod's `wait "
             "--migrated` for its own tenant)"),
)


class Fleet(NamedTuple):  # a NamedTuple: a dataclass costs every run's start a millisecond
    kind: str  # schema or database
    source: str  # the variable that names the tenants, for messages
    names: tuple[str, ...] | None  # the tenants, or None when a query lists them
    query: str | None
    migrations: Path  # the tenants' files
    parallel: int
    max_failures: int | None
    shard: tuple[int, int] | None  # (this share, how many)
    only: str | None  # one tenant
    drift: str  # DBINIT_DRIFT for the tenants

    def mine(self, tenants: Iterable[str]) -> list[str]:
        """The tenants this process takes: its share, or the one it was given."""
        if self.only is not None:
            return [self.only]
        if self.shard is None:
            return list(tenants)
        index, count = self.shard
        return [t for t in tenants if share(t, count) == index]


def share(tenant: str, count: int) -> int:
    """A tenant's share of `count`, from its name alone: a tenant added later moves no other."""
    import hashlib  # only a sharded run needs it: not on every run's start

    return int.from_bytes(hashlib.sha256(tenant.encode()).digest()[:8], "big") % count


def checked(names: Iterable[str], source: str, allow_empty: bool = False) -> tuple[str, ...]:
    """Tenant names as a source gave them: identifiers, each once, at least one (unless `allow_empty`:
    a new installation whose registry has no tenant yet)."""
    found = [n.strip() for n in names if n.strip()]
    if not found and not allow_empty:
        raise ConfigError(f"{source} names no tenant; nothing would be migrated (DBINIT_ALLOW_EMPTY=true when "
                          "none is expected yet)")
    bad = [n for n in found if not NAME.fullmatch(n)]
    if bad:
        raise ConfigError(f"{source}: {', '.join(repr(b) for b in bad[:5])} {'is' if len(bad) == 1 else 'are'} not "
                          "a tenant name (letters, digits and _, not first a digit; at most 63); nothing was run")
    twice = sorted({n for n in found if found.count(n) > 1}) if len(set(found)) < len(found) else []
    if twice:
        raise ConfigError(f"{source} names {', '.join(twice[:5])} more than once; nothing was run")
    return tuple(sorted(found))


def load(e: Env, flags: Mapping[str, Any], migrations: Path, kinds: tuple[str, ...]) -> Fleet | None:
    """The fleet's settings, or None when no tenants are set (a run of one target, as before);
    `kinds`: what a tenant can be, the first by default."""
    sources = {"DBINIT_TENANTS": e.raw("DBINIT_TENANTS"), "DBINIT_TENANTS_QUERY": e.raw("DBINIT_TENANTS_QUERY"),
               "DBINIT_TENANTS_FROM": e.get("DBINIT_TENANTS_FROM")}
    given = [name for name, value in sources.items() if value is not None]
    only = flags.get("tenant") or e.get("DBINIT_TENANT")
    parallel_flag = flags.get("parallel")
    if not given:
        for name in ("DBINIT_TENANT", "DBINIT_SHARDS", "DBINIT_TENANT_MIGRATIONS", "DBINIT_PARALLEL"):
            if e.env.get(name):
                raise ConfigError(f"{name} is set, but no tenants are: set DBINIT_TENANTS, DBINIT_TENANTS_QUERY or "
                                  "DBINIT_TENANTS_FROM")
        if only or parallel_flag is not None:
            raise UsageError(f"{'--tenant' if only else '--parallel'} needs tenants: set DBINIT_TENANTS, "
                             "DBINIT_TENANTS_QUERY or DBINIT_TENANTS_FROM")
        return None
    if len(given) > 1:
        raise ConfigError(f"both {given[0]} and {given[1]} are set; the tenants come from one of them")
    source = given[0]
    names: tuple[str, ...] | None = None
    query = None
    if source == "DBINIT_TENANTS":
        names = checked(re.split(r"[\s,]+", sources[source] or ""), source)
    elif source == "DBINIT_TENANTS_FROM":
        names = checked(_lines(Path(sources[source] or "")), source)
    else:
        query = sources[source]
    if only is not None and not NAME.fullmatch(only):
        raise ConfigError(f"DBINIT_TENANT: {only!r} is not a tenant name (letters, digits and _, not first a digit)")
    if only is not None and names is not None and only not in names:
        raise ConfigError(f"DBINIT_TENANT: {only} is not one of the tenants {source} names")
    return Fleet(
        kind=e.choice("DBINIT_TENANT_KIND", kinds[0], kinds),
        source=source, names=names, query=query,
        migrations=Path(e.get("DBINIT_TENANT_MIGRATIONS") or migrations.absolute().parent / "tenant-migrations"),
        parallel=_parallel(e, parallel_flag),
        max_failures=_positive("DBINIT_TENANT_MAX_FAILURES", e.get("DBINIT_TENANT_MAX_FAILURES")),
        shard=_shard(e), only=only, drift=e.choice("DBINIT_TENANT_DRIFT", "off", ("off", "warn", "fail")))


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8"
        raise ConfigError(f"DBINIT_TENANTS_FROM names a file that cannot be read ({reason}): {path}") from None
    return [line.partition("#")[0] for line in text.splitlines()]


def _parallel(e: Env, flag: str | None) -> int:
    raw = flag if flag is not None else e.get("DBINIT_PARALLEL")
    if raw is None:
        return 4
    if not raw.isdigit() or int(raw) < 1:
        error = UsageError if flag is not None else ConfigError
        raise error(f"{'--parallel' if flag is not None else 'DBINIT_PARALLEL'} must be a whole number of 1 or "
                    f"more, not {raw!r}")
    return int(raw)


def _positive(name: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a whole number of 1 or more, not {raw!r}")
    return int(raw)


def _shard(e: Env) -> tuple[int, int] | None:
    count = _positive("DBINIT_SHARDS", e.get("DBINIT_SHARDS"))
    shard, job = e.get("DBINIT_SHARD"), e.get("JOB_COMPLETION_INDEX")
    index_name, raw = ("DBINIT_SHARD", shard) if shard is not None else ("JOB_COMPLETION_INDEX", job)
    if count is None:
        if shard is not None:
            raise ConfigError("DBINIT_SHARD is set without DBINIT_SHARDS (how many shares there are)")
        return None
    if raw is None:
        raise ConfigError("DBINIT_SHARDS is set, but neither JOB_COMPLETION_INDEX (an Indexed Job's pod) nor "
                          "DBINIT_SHARD says which share this process takes")
    if not raw.isdigit() or int(raw) >= count:
        raise ConfigError(f"{index_name} must be a whole number from 0 to {count - 1} (DBINIT_SHARDS is {count}), "
                          f"not {raw!r}")
    return int(raw), count
