"""neo4j-migrations' folder and history: `V{version}__{description}.cypher` (versions like Flyway's,
1.1 or 1_1), applied in version order and chained as `:__Neo4jMigration` nodes from a BASELINE node.
dbinit's Neo4j versions are dated, so the set becomes one day's files, the day of the import, in
neo4j-migrations' order, each saying the version it had. Its checksums are of its own making and
are not compared."""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Mapping

from ...errors import Problem
from ...migration import Migration
from ...naming import dotted, words
from ...importing import Conversion, Converted
from ...peers import PeerHistory

TITLE = "neo4j-migrations"
NAME = re.compile(r"V(?P<version>\d[\d._]*)__(?P<desc>.+)\.cypher")
ORIGIN = re.compile(r"//\s*neo4j-migrations version (?P<version>\S+)")


def convert(files: Mapping[str, str], today: date | None = None) -> Conversion:
    day = (today or date.today()).isoformat()
    versions: dict[tuple[int, ...], str] = {}
    look_at, problems = [], []
    for path in files:
        m = NAME.fullmatch(path.rsplit("/", 1)[-1])
        if m is None:
            look_at.append(f"{path}: not a versioned {TITLE} file (a repeatable one, or a callback); left alone")
        elif dotted(m["version"]) in versions:
            problems.append(Problem(None, f"{path}: version {m['version']} twice ({versions[dotted(m['version'])]})"))
        else:
            versions[dotted(m["version"])] = path
    converted = []
    width = max(3, len(str(len(versions))))
    for rank, (version, path) in enumerate(sorted(versions.items()), 1):
        m = NAME.fullmatch(path.rsplit("/", 1)[-1])
        assert m is not None
        origin = f"// neo4j-migrations version {'.'.join(map(str, version))} ({path.rsplit('/', 1)[-1]})\n"
        converted.append(Converted(f"{day}-{rank:0{width}d}-{words(m['desc'])}.cypher", origin + files[path], (path,),
                                   (f"dated {day}, number {rank}: dbinit's Neo4j versions are a day and a number",)))
    return Conversion(converted, [c.sources[0] for c in converted], look_at, problems)


def read_history(backend: Any, migrations: list[Migration]) -> PeerHistory | None:
    rows = backend.query("MATCH (m:__Neo4jMigration) WHERE m.version <> 'BASELINE' AND coalesce(m.repeatable, false) "
                         "= false RETURN collect(m.version) AS versions")[0]["versions"]
    if not rows:
        return None
    applied = {".".join(map(str, dotted(v))) for v in rows}
    files = {}
    for m in migrations:
        origin = ORIGIN.match(m.text)
        if origin and not m.repeatable:
            files[".".join(map(str, dotted(origin["version"])))] = m.version
    newest = max(applied, key=dotted)
    return PeerHistory(TITLE, ":__Neo4jMigration", f"{len(applied)} migrations, the newest {newest}",
                       [files[v] for v in sorted(applied, key=dotted) if v in files],
                       unknown=sorted((v for v in applied if v not in files), key=dotted))

