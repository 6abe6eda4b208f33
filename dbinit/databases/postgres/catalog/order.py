"""The file's order: by kind and qualified name, except that an object comes after everything the
catalog (pg_depend) says it depends on, so that the file loads. Never by OID."""
from __future__ import annotations

import heapq

from .common import KINDS, Catalog, Ident, Obj

# Normal and automatic dependencies between objects made after initdb; a sequence's on the table
# that owns it is left out (its table's default uses it: "sequence owner" follows the table).
_DEPENDS = """
SELECT classid::regclass::text, objid, refclassid::regclass::text, refobjid FROM pg_depend
WHERE deptype IN ('n', 'a') AND objid >= 16384 AND refobjid >= 16384
"""


def ordered(c: Catalog, objects: list[Obj]) -> list[Obj]:
    owner: dict[Ident, int] = {ident: i for i, o in enumerate(objects) for ident in o.ids}
    needs: list[set[int]] = [set() for _ in objects]
    for i, o in enumerate(objects):
        for ident in o.after:
            if (j := owner.get(ident)) is not None:
                needs[i].add(j)
    for catalog, oid, ref_catalog, ref_oid in c.rows(_DEPENDS):
        this = owner.get((catalog.removeprefix("pg_catalog."), oid))
        that = owner.get((ref_catalog.removeprefix("pg_catalog."), ref_oid))
        if this is not None and that is not None and not (objects[this].kind == "sequence"
                                                          and objects[that].kind == "table"):
            needs[this].add(that)
    rank = {kind: n for n, kind in enumerate(KINDS)}
    keys = [(rank[o.kind], o.name, o.text, i) for i, o in enumerate(objects)]
    waiting = [0] * len(objects)
    unblocks: list[list[int]] = [[] for _ in objects]
    for i, deps in enumerate(needs):
        deps.discard(i)
        waiting[i] = len(deps)
        for d in deps:
            unblocks[d].append(i)
    ready = [keys[i] for i in range(len(objects)) if not waiting[i]]
    heapq.heapify(ready)
    result: list[Obj] = []
    done = [False] * len(objects)
    while len(result) < len(objects):
        if not ready:  # a cycle the catalog allows (rare): its first object by kind and name goes first
            heapq.heappush(ready, min(keys[i] for i in range(len(objects)) if not done[i]))
        i = heapq.heappop(ready)[3]
        if done[i]:
            continue
        done[i] = True
        result.append(objects[i])
        for j in unblocks[i]:
            waiting[j] -= 1
            if waiting[j] == 0 and not done[j]:
                heapq.heappush(ready, keys[j])
    return result
