"""The code blocks of the README and docs/, for the tests that run them. A block's title
(```yaml title="compose.yaml"```) says what it is; tests/test_docs.py holds every block to a kind
that some test runs."""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,})(?P<lang>[\w-]*)(?P<rest>.*)$")


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository
    line: int  # of the opening fence
    lang: str
    title: str
    text: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line} ({self.lang} {self.title!r})"


def blocks(pages: list[Path] = PAGES) -> list[Block]:
    found = []
    for page in pages:
        lines = page.read_text(encoding="utf-8").split("\n")
        i = 0
        while i < len(lines):
            m = _FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            indent, fence = m["indent"], m["fence"]
            title = re.search(r'title="([^"]*)"', m["rest"])
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == fence)
            text = "\n".join(line[len(indent):] for line in lines[i + 1:end]) + "\n"
            found.append(Block(str(page.relative_to(ROOT)), i + 1, m["lang"], title[1] if title else "", text))
            i = end + 1
    return found


def block(title: str, page: str | None = None) -> Block:
    """The one block of that title (on that page)."""
    matches = [b for b in blocks() if b.title == title and (page is None or b.page == page)]
    assert len(matches) == 1, f"{len(matches)} blocks titled {title!r}"
    return matches[0]


def shell_commands(text: str) -> list[str]:
    """The commands of a shell block: continued lines joined, comments and heredoc bodies left out."""
    commands, heredoc, pending = [], None, ""
    for line in text.splitlines():
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        if m := re.search(r"<<-?'?(\w+)'?", line):
            heredoc = m[1]
        line = pending + line
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        if not _balanced(line):  # a quoted string over several lines
            pending = line + "\n"
            continue
        pending = ""
        if line.strip() and not line.lstrip().startswith("#"):
            commands.append(line.strip())
    return commands


def _balanced(line: str) -> bool:
    try:
        shlex.split(line, comments=True)
    except ValueError:
        return False
    return True


def command_parts(command: str) -> list[list[str]]:
    """The simple commands of a shell line (split at &&, ||, ;, |), redirections left out."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>")
    lexer.commenters = "#"
    parts: list[list[str]] = [[]]
    words = list(lexer)
    i = 0
    while i < len(words):
        word = words[i]
        if word in (";", "&&", "||", "|", "&"):
            parts.append([])
        elif word in (">", ">>", "<", "2>", "<<"):
            i += 1  # its target
        else:
            parts[-1].append(word)
        i += 1
    return [p for p in parts if p]
