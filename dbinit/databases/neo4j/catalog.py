"""The schema of a Neo4j database: its constraints and indexes as the server writes their
createStatement, without ids, states or counters, the default LOOKUP indexes, the indexes a
constraint owns, or dbinit's own; constraints first, each sorted by name."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...description import Description, Item

if TYPE_CHECKING:
    from .backend import Neo4jBackend

HEAD = """\
// The schema of this Neo4j database, described by dbinit (`dbinit schema`) from SHOW CONSTRAINTS and
// SHOW INDEXES: what the migrations made, without dbinit's own constraints, the default LOOKUP indexes
// or any data. Generated: do not edit. Loads into an empty database with: cypher-shell -f FILE
"""
_OWN = "__Dbinit"  # the labels of dbinit's own nodes
_CONSTRAINTS = ("SHOW CONSTRAINTS YIELD name, labelsOrTypes, createStatement "
                "RETURN name, labelsOrTypes, createStatement ORDER BY name")
_INDEXES = ("SHOW INDEXES YIELD name, type, labelsOrTypes, owningConstraint, createStatement "
            "WHERE type <> 'LOOKUP' AND owningConstraint IS NULL RETURN name, labelsOrTypes, createStatement ORDER BY name")
_VERSION = "CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' RETURN versions[0] AS version"


def _theirs(labels: list[str] | None) -> bool:
    return not any(label.startswith(_OWN) for label in labels or [])


def describe(b: Neo4jBackend) -> Description:
    items = [Item(kind, r["name"], r["createStatement"] + ";")
             for kind, query in (("constraint", _CONSTRAINTS), ("index", _INDEXES))
             for r in b.query(query) if _theirs(r["labelsOrTypes"])]
    major = str(b.query(_VERSION)[0]["version"]).split(".")[0]
    return Description("neo4j", f"Neo4j {major}", tuple(items), HEAD)
