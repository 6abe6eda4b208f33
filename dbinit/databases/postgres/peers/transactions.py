"""What the transaction statements written in a peer's file become in dbinit's: one block around
the statements is dbinit's own transaction (commented out, so the file and its history row commit
together); statements that cannot run in a transaction, a peer's `transaction:false`, or several
blocks make the file `-- dbinit: no-transaction`, which runs its statements as written. Pure."""
from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from ..sql import _needs_no_transaction

DIRECTIVE = "-- dbinit: no-transaction\n"
_OPEN = ("TRANS_STMT_BEGIN", "TRANS_STMT_START")
_CLOSE = ("TRANS_STMT_COMMIT",)


class Body(NamedTuple):
    text: str
    changes: tuple[str, ...] = ()  # what was changed, for the person importing
    look_at: tuple[str, ...] = ()  # what a person must still decide


def convert(text: str, peer: str, transaction: bool = True) -> Body:
    """`text` as dbinit runs it the way `peer` ran it; `transaction`: False where the peer's file
    said it runs outside a transaction."""
    from pglast import parser

    if not transaction:
        return Body(DIRECTIVE + text, (f"runs outside a transaction, as {peer} ran it: -- dbinit: no-transaction",))
    data = text.encode()
    try:
        stmts = json.loads(parser.parse_sql_json(text)).get("stmts", [])
    except parser.ParseError as e:
        return Body(text, (), (f"does not parse as SQL ({e.args[0]}): {peer} would fail on it too; fix it or delete it",))
    kinds = [next(iter(s["stmt"].items())) for s in stmts]
    tx = [(i, node.get("kind")) for i, (kind, node) in enumerate(kinds) if kind == "TransactionStmt"
          and node.get("kind") in (*_OPEN, *_CLOSE, "TRANS_STMT_ROLLBACK")]
    outside = sorted({why for kind, node in kinds if (why := _needs_no_transaction(kind, node))})
    if not tx and not outside:
        return Body(text)
    if outside:
        return Body(DIRECTIVE + text, (f"{', '.join(outside)} cannot run in a transaction: -- dbinit: no-transaction",)
                    + ((f"its {_blocks(tx)} run as written",) if tx else ()))
    shape = [k for _, k in tx]
    if shape in ([o, c] for o in _OPEN for c in _CLOSE) or shape in ([o] for o in _OPEN):
        spans = [_span(data, stmts[i]) for i, _ in tx]
        for start, end in reversed(spans):
            word = data[start:end].decode()
            data = data[:start] + f"-- {word}  (imported: dbinit's transaction)".encode() + data[end:]
        said = ("BEGIN … COMMIT" if len(tx) == 2 else "BEGIN without COMMIT")
        return Body(data.decode(), (f"{said} commented out: the file runs in dbinit's own transaction, "
                                    "committed with its history row",))
    return Body(DIRECTIVE + text, (f"has {_blocks(tx)}: kept as written under -- dbinit: no-transaction, so each "
                                   f"block commits on its own as under {peer}",),
                (f"{_blocks(tx)} commit one by one: a failure in a later one leaves the earlier ones applied and "
                 "the file Failed until `dbinit repair`; for all or nothing remove the inner COMMIT and BEGIN lines "
                 "and the first line, or split it into one file per block",))


def _blocks(tx: list[tuple[int, str]]) -> str:
    n = sum(1 for _, k in tx if k in _OPEN)
    return f"{n} transaction block{'s' if n != 1 else ''}" if n else "transaction statements"


def _span(data: bytes, stmt: dict[str, Any]) -> tuple[int, int]:
    """The bytes of a BEGIN or COMMIT statement, its semicolon included, without the comments
    and blank space the parser counts in front of it."""
    start = int(stmt.get("stmt_location", 0))
    length = int(stmt.get("stmt_len") or len(data) - start)
    words = re.search(rb"(?i)\b(begin|start|commit|end)\b", _blank_comments(data[start:start + length]))
    assert words is not None
    end = start + length
    semicolon = re.match(rb"\s*;", data[end:])
    return start + words.start(), end + (semicolon.end() if semicolon else 0)


def _blank_comments(chunk: bytes) -> bytes:
    """The chunk with its comments blanked out (same length), so a word in a comment is not found."""
    chunk = re.sub(rb"--[^\n]*", lambda m: b" " * len(m[0]), chunk)
    return re.sub(rb"/\*.*?\*/", lambda m: b" " * len(m[0]), chunk, flags=re.S)


def statements(text: str) -> bool:
    """Whether the text holds any statement (a part that does not parse counts as one)."""
    from pglast import parser

    try:
        return bool(json.loads(parser.parse_sql_json(text)).get("stmts"))
    except parser.ParseError:
        return True
