"""Neo4j: YYYY-MM-DD-NNN-<description>.cypher files split into statements, grouped into as few
transactions as Neo4j allows, history nodes under a uniqueness constraint, a leased lock node,
indexes ONLINE before dbinit exits. Modules: settings, cypher (the splitter), backend."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Mapping, Sequence

from ...migration import Migration
from ...naming import DESCRIPTION, Dated
from ...peers import Peer, later
from ...ports import Protocol
from ...registry import Database, Flag, register
from .settings import ENVIRONMENT, load

if TYPE_CHECKING:
    from ...contract import Backend
    from ...errors import Problem
    from .settings import Neo4jSettings

NAME = "neo4j"
_EXPECTED = ("YYYY-MM-DD-NNN-<description>.cypher (and optionally YYYY-MM-DD-NNN-<description>.down.cypher), "
             "e.g. 2025-01-15-001-add-product-rating-index.cypher")


def _parse(migration: Migration) -> Sequence[object]:
    from .cypher import parse

    return parse(migration)


def _warnings(migration: Migration) -> list[Problem]:
    from .cypher import warnings

    return warnings(migration)


def _param(name: str, value: str) -> tuple[str, dict[str, str]]:
    """Where Cypher takes a parameter: the value never enters the statement's text."""
    return f"$dbinit_{name}", {f"dbinit_{name}": value}


def _identifier(name: str, value: str) -> tuple[str, dict[str, str]]:
    return "`" + value.replace("`", "``") + "`", {}


def _fill(migration: Migration, values: Mapping[str, str]) -> Migration:
    from ...placeholders import fill

    return fill(migration, values, {"param": _param, "identifier": _identifier})


def _open(settings: Neo4jSettings, lease_s: float) -> Backend:
    from .backend import Neo4jBackend

    return Neo4jBackend(settings, lease_s)


register(Database(
    name=NAME, title="Neo4j", system="neo4j",
    # A down file sorts right after its up file: 2025-01-15-001-add-index.down.cypher.
    naming=Dated(re.compile(rf"(?P<y>\d{{4}})-(?P<m>\d{{2}})-(?P<d>\d{{2}})-(?P<num>\d+)-{DESCRIPTION}(?<!\.down)"
                            r"(?<!\.checkpoint)(?:\.(?P<dir>down|checkpoint))?\.cypher"),
                 _EXPECTED, (".cypher", ".down.cypher"), f"{NAME} migration", hints=(
                     (r"\d{4}-\d{2}-\d{2}-[^\d].*", "has no sequence number NNN after the date; expected {expected}"),
                     (r"V\d[\d._]*__.+", "looks like a neo4j-migrations name; dbinit expects {expected} (dbinit import "
                      "neo4j-migrations converts the whole folder, dated the day it runs)")),
                 version_word="Neo4j version", checkpoint_suffix=".checkpoint.cypher"),
    comment="//", variables="NEO4J_URI", environment=ENVIRONMENT, load_settings=load,
    flags=(Flag("neo4j_uri", "Neo4j URI (NEO4J_URI)"),),
    parse=_parse, open=_open, init_script="neo4j-init.cypher", warnings=_warnings,
    api_env={"neo4j_auth": ("NEO4J_AUTH", "/".join)}, server_check="the server's plan of every statement (EXPLAIN)",
    fill=_fill,
    # Bolt's magic and four versions offered (5.0-5.4, 4.4, 4.0, 3): a server answers with four bytes.
    protocol=Protocol("Bolt (Neo4j)", b"\x60\x60\xb0\x17" + bytes([0, 4, 4, 5, 0, 0, 4, 4, 0, 0, 0, 4, 0, 0, 0, 3]),
                      lambda reply: len(reply) == 4 and reply[:2] == b"\x00\x00"),
    logger="neo4j",
    peers=(Peer("neo4j-migrations", "neo4j-migrations", NAME, None, later(f"{__name__}.neo4j_migrations", "convert"),
                later(f"{__name__}.neo4j_migrations", "read_history"), extension=".cypher"),),
))
