"""The schema of a Redis database: its Functions libraries, sorted by name, as a file that is itself
a dbinit Redis migration. Keys are data, not schema."""
from __future__ import annotations

from typing import Any

from ...description import Description, Item
from .commands import quote

HEAD = """\
# The Functions libraries of this Redis database, described by dbinit (`dbinit schema`) from FUNCTION
# LIST WITHCODE. Keys are data and are not described. Generated: do not edit. Loads with:
# redis-cli < FILE (each line one command), or as a dbinit Redis migration.
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def describe(client: Any) -> Description:
    libraries = []
    for entry in client.execute_command("FUNCTION", "LIST", "WITHCODE"):
        # A map (RESP3, or redis-py's reply callback), or the pairs of RESP2
        fields = {_text(k): v for k, v in (entry.items() if isinstance(entry, dict) else zip(entry[::2], entry[1::2]))}
        libraries.append((_text(fields["library_name"]), _text(fields["library_code"])))
    major = _text(client.info("server")["redis_version"]).split(".")[0]
    items = tuple(Item("function library", name, f"FUNCTION LOAD REPLACE {quote(code)}") for name, code in sorted(libraries))
    return Description("redis", f"Redis {major}", items, HEAD)
