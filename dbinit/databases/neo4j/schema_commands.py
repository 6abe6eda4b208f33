"""The common index and constraint commands, recognised without the server: the precheck leaves
them out of its EXPLAINs (planning them cost a third of a run of schema-heavy files). Strict on
purpose: anything not in this small grammar, however valid, is still planned by the server, so
a command accepted here is one the server accepts (tests/test_neo4j_schema_commands.py proves it
on a table of valid and invalid commands)."""
from __future__ import annotations

import re

_TOKEN = re.compile(r"\s*(`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*|[()\[\]:.,<>-])")
# Words that are never taken for a name here: keywords of these commands and Cypher's clauses.
# A name spelt like one is left to the server (backticks make it certain).
_KEYWORDS = frozenset("""
    add all and as asc ascending assert by call case constraint contains create delete desc descending detach
    distinct do drop else end ends exists false for from if in index is key limit mandatory match merge node
    not null of on optional options or order point range relationship remove require return scalar set skip
    starts text then to true union unique unwind when where with xor yield btree fulltext lookup vector
""".split())


class _Tokens:
    def __init__(self, tokens: list[str]):
        self.tokens, self.at = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def word(self, *words: str) -> str | None:
        """The next token if it is one of these keywords (any case)."""
        token = self.peek()
        if token is not None and token.lower() in words:
            self.at += 1
            return token.lower()
        return None

    def mark(self, symbol: str) -> bool:
        if self.peek() == symbol:
            self.at += 1
            return True
        return False

    def name(self) -> str | None:
        """A name as the server reads it: backticked (`` a backtick), or a plain word that is no keyword."""
        token = self.peek()
        if token is None:
            return None
        if token.startswith("`"):
            self.at += 1
            return token[1:-1].replace("``", "`")
        if (token[0].isalpha() or token[0] == "_") and token.lower() not in _KEYWORDS:
            self.at += 1
            return token
        return None

    def done(self) -> bool:
        return self.at == len(self.tokens)


def _tokens(code: str) -> _Tokens | None:
    tokens, at = [], 0
    code = code.rstrip()
    while at < len(code):
        m = _TOKEN.match(code, at)
        if not m:
            return None  # a number, a string, a parameter, a map: not this grammar
        tokens.append(m.group(1))
        at = m.end()
    return _Tokens(tokens)


def _pattern(t: _Tokens) -> tuple[str, bool] | None:
    """`(n:Label)` or `()-[r:TYPE]-()` (either arrow, or none): the variable, and whether a relationship."""
    if not t.mark("("):
        return None
    variable = t.name()
    if variable is not None:
        if t.mark(":") and t.name() is not None and t.mark(")"):
            return variable, False
        return None
    if not t.mark(")"):
        return None
    left = t.mark("<")
    if not (t.mark("-") and t.mark("[")):
        return None
    variable = t.name()
    if variable is None or not (t.mark(":") and t.name() is not None and t.mark("]") and t.mark("-")):
        return None
    right = t.mark(">")
    if left and right or not (t.mark("(") and t.mark(")")):
        return None
    return variable, True


def _property(t: _Tokens, variable: str) -> str | None:
    if t.name() == variable and t.mark("."):
        return t.name()
    return None


def _properties(t: _Tokens, variable: str) -> list[str] | None:
    """`(n.a, n.b)`: one or more, none twice."""
    if not t.mark("("):
        return None
    found = [_property(t, variable)]
    while t.mark(","):
        found.append(_property(t, variable))
    if None in found or not t.mark(")") or len(set(found)) != len(found):
        return None
    return found  # type: ignore[return-value]


def _head(t: _Tokens) -> bool:
    """`[name] [IF NOT EXISTS] FOR`"""
    t.name()
    if t.word("if") and not (t.word("not") and t.word("exists")):
        return False
    return t.word("for") is not None


def _index(t: _Tokens, kind: str | None) -> bool:
    if not _head(t):
        return False
    pattern = _pattern(t)
    if pattern is None or not t.word("on"):
        return False
    properties = _properties(t, pattern[0])
    return properties is not None and (kind is None or kind == "range" or len(properties) == 1)


def _constraint(t: _Tokens) -> bool:
    if not _head(t):
        return False
    pattern = _pattern(t)
    if pattern is None or not t.word("require"):
        return False
    if t.peek() == "(":
        if _properties(t, pattern[0]) is None:
            return False
    elif _property(t, pattern[0]) is None:
        return False
    return t.word("is") is not None and t.word("unique") is not None


def certainly_valid(code: str) -> bool:
    """True for an index or constraint command of the common forms the server is sure to accept;
    False leaves the statement to EXPLAIN (`code`: the statement with comments removed)."""
    t = _tokens(code)
    if t is None:
        return False
    verb = t.word("create", "drop")
    if verb == "drop":
        if not (t.word("index", "constraint") and t.name() is not None):
            return False
        if t.word("if") and not t.word("exists"):
            return False
        return t.done()
    if verb != "create":
        return False
    kind = t.word("range", "text", "point")
    if t.word("index"):
        return _index(t, kind) and t.done()
    return kind is None and t.word("constraint") is not None and _constraint(t) and t.done()
