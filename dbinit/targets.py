"""Versions given on the command line: `--to VERSION` or `--to DATABASE=VERSION`, and what
`migrate --to` accepts."""
from __future__ import annotations

from typing import Mapping

from . import files, registry
from .errors import UsageError
from .files import Catalog
from .migration import versioned
from .plan import Plan


def among(db: str, target: str, labels: Mapping[str, str], where: str = "the files", given: str | None = None) -> None:
    """A version given on the command line (`given`, as typed) is one of `labels` (version → as its
    file spells it): a typo must not reach past the newest file (baseline would record what never ran)."""
    if target not in labels:
        label = given or registry.version_label(db, target)
        newest = max(labels, key=lambda v: files.version_key(db, v), default=None)
        raise UsageError(f"--to {label}: {db} has no migration {label} among {where}"
                         + (f" (the newest is {labels[newest]})" if newest else ""))


def check(catalog: Catalog, plans: list[Plan], upto: Mapping[str, str]) -> None:
    """`migrate --to`: a version of a file, at or above what is applied (going back is down's)."""
    for plan in plans:
        if (target := upto.get(plan.db)) is None:
            continue
        label = registry.version_label(plan.db, target)
        among(plan.db, target, {m.version: m.label for m in catalog.migrations[plan.db] if versioned(m.version)})
        above = [e.label for e in plan.entries if e.applied is not None and versioned(e.version)
                 and files.version_key(plan.db, e.version) > files.version_key(plan.db, target)]
        if above:
            raise UsageError(f"--to {label}: {plan.db} has {', '.join(above)} applied already, above {label}; "
                             f"migrate only goes forward (dbinit down --to {plan.db}={label} goes back)")


def parse(texts: list[str], dbs: list[str]) -> dict[str, str]:
    """DATABASE=VERSION, or a bare VERSION for the one of `dbs` whose versions look like it (V3:
    PostgreSQL when Redis is not among them; 2025-01-15-001: Neo4j)."""
    targets: dict[str, str] = {}
    for text in texts:
        db, sep, given = text.rpartition("=")
        if sep:
            if db not in dbs:
                raise UsageError(f"--to {text}: {db!r} is not one of {', '.join(dbs)}")
            targets[db] = version(db, given)
            continue
        fits = {}
        for name in dbs:
            try:
                fits[name] = files.normalise_version(name, text)
            except ValueError:
                pass
        if len(fits) != 1:
            which = " and ".join(fits) or " or ".join(dbs)
            raise UsageError(f"--to {text}: {'a version of ' + which if fits else 'not a version of ' + which}; "
                             f"give DATABASE=VERSION")
        targets.update(fits)
    return targets


def version(db: str, text: str) -> str:
    try:
        return files.normalise_version(db, text)
    except ValueError as e:
        raise UsageError(str(e)) from None
