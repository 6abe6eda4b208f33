"""The reference in docs/ is generated from the code: these tests hold the declarations it is
generated from equal to what the code really does, so that it cannot drift."""
from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from dbinit import cli, report, settings
from dbinit.errors import DbinitError

ROOT = Path(__file__).resolve().parents[1]
VARIABLE = re.compile(r"(DBINIT|POSTGRES|NEO4J|REDIS|PG|DATABASE|JOB_COMPLETION|POD|OTEL|TRACE)_?[A-Z0-9_]*")  # Kubernetes' too
READERS = {"get", "raw", "secret", "twin", "seconds", "count", "flag", "choice"}  # Env's methods, and os.environ.get


def declared() -> dict[str, str]:
    names = [v.name for v in settings.variables()]
    assert len(names) == len(set(names)), "a variable is declared twice"
    return {v.name: v.default for v in settings.variables()}


def reads() -> dict[str, set[str]]:
    """Every variable the code reads by a literal name, with the constant defaults it gives it
    (`.seconds(NAME, 60)`, `.flag(NAME)`: false, `.choice(NAME, "x", …)`, `.get(NAME) or "x"`)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "dbinit").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            name, default = None, None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in READERS \
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                name = node.args[0].value
                if node.func.attr in ("seconds", "count") and len(node.args) > 1 \
                        and isinstance(node.args[1], ast.Constant):
                    default = repr(node.args[1].value)
                elif node.func.attr == "choice" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    default = node.args[1].value
                elif node.func.attr == "flag":
                    default = "false"
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ" \
                    and isinstance(node.slice, ast.Constant):
                name = node.slice.value
            if name is not None and VARIABLE.fullmatch(name):
                found.setdefault(name, set())
                if default is not None:
                    found[name].add(default)
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and len(node.values) == 2:
                first, second = node.values
                if isinstance(first, ast.Call) and isinstance(first.func, ast.Attribute) \
                        and first.func.attr == "get" and first.args and isinstance(first.args[0], ast.Constant) \
                        and isinstance(second, ast.Constant) and VARIABLE.fullmatch(str(first.args[0].value)):
                    found.setdefault(first.args[0].value, set()).add(str(second.value))
    return found


def test_every_variable_the_code_reads_is_declared_for_the_reference_and_every_declared_one_is_read():
    code, docs = set(reads()), {n for n in declared() if "<" not in n}
    assert code - docs == set(), "read by the code, missing from the reference"
    assert docs - code == set(), "in the reference, read nowhere"


def test_each_declared_default_is_the_one_the_code_uses():
    docs = declared()
    for name, defaults in reads().items():
        for default in defaults:
            assert docs[name] == default, f"{name}: the code's default is {default!r}, the reference says {docs[name]!r}"


def test_every_exit_code_an_error_can_carry_has_its_meaning_in_the_reference():
    def subclasses(cls: type) -> list[type]:
        return [cls, *(s for c in cls.__subclasses__() for s in subclasses(c))]

    import dbinit.databases  # noqa: F401 - every database's errors

    codes = {c.exit_code for c in subclasses(DbinitError)} | {0, 130, 143}
    assert codes == set(report.MEANINGS)


def _generator():
    spec = importlib.util.spec_from_file_location("reference", ROOT / "docs" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_has_every_command_and_flag_of_the_parser_and_every_variable():
    reference = _generator()
    commands, configuration = reference.commands(), reference.configuration()
    parser = cli._parser()
    for command in cli.COMMANDS:
        assert f"## `dbinit {command}`" in commands
        sub = parser._subparsers._group_actions[0].choices[command]
        for action in sub._actions:
            for option in (o for o in action.option_strings if o not in ("-h", "--help")):
                assert f"`{option}`" in commands, option
    for name in declared():
        assert f"`{name}`" in configuration, name


def test_a_page_s_marker_is_replaced_by_its_generated_text():
    reference = _generator()
    page = reference.on_page_markdown("# Exit codes\n<!-- generated: exit_codes -->\n")
    assert "<!-- generated" not in page and "| 75 |" in page
