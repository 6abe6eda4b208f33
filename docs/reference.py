"""The reference pages, generated from the code at build time (a MkDocs hook, mkdocs.yml): the
argument parser, the declared variables, the exit codes, the registry of databases and the JSON
Schemas. A page says `<!-- generated: NAME -->` where NAME's text goes."""
from __future__ import annotations

import argparse
import json
import re
from importlib import resources
from typing import Any

from dbinit import archive, audit, cli, errors, registry, report, settings, telemetry, tenants
from dbinit.environment import Variable

MARKER = re.compile(r"<!-- generated: (?P<name>[a-z_]+) -->")


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs' hook: each marker replaced by its generated text."""
    return MARKER.sub(lambda m: PAGES[m["name"]](), markdown)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _subcommands(parser: argparse.ArgumentParser) -> tuple[dict[str, argparse.ArgumentParser], dict[str, str]]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help or "" for a in action._choices_actions}
    return dict(action.choices), helps


def _option(action: argparse.Action) -> tuple[str, ...]:
    name = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.metavar or action.dest.upper()}`"
    if action.option_strings and action.nargs != 0:
        name += f" `{action.metavar or action.dest.upper()}`"
    what = action.help or ""
    if action.choices:
        what = "one of " + ", ".join(f"`{c}`" for c in action.choices) + (f": {what}" if what else "")
    if action.required and action.option_strings:
        what += " (required)"
    if isinstance(action, argparse._AppendAction):
        what += " (repeatable)"
    return name, what


def _own(action: argparse.Action) -> bool:
    return action.dest not in ("help", "command")


def commands() -> str:
    parser = cli._parser()
    subparsers, helps = _subcommands(parser)
    common = set.intersection(*({a.dest for a in p._actions if _own(a)} for p in subparsers.values()))
    first = next(iter(subparsers.values()))
    out = ["Every command takes these options; each overrides its variable (see "
           "[Configuration](configuration.md)).", "",
           _table(("option", "what"), [_option(a) for a in first._actions if a.dest in common]), ""]
    for name in cli.COMMANDS:
        sub = subparsers[name]
        usage = " ".join(sub.format_usage().split())
        usage = re.sub(r"\[--migrations.*?\]\s*(\[--placeholder NAME=VALUE\]|$)", "[options]", usage, count=1)
        what = sub.description or helps[name][0].upper() + helps[name][1:] + "."
        out += [f"## `dbinit {name}`", "", what, "",
                f"```\n{usage.removeprefix('usage: ')}\n```", ""]
        own = [_option(a) for a in sub._actions if _own(a) and a.dest not in common]
        if own:
            out += [_table(("option", "what"), own), ""]
    return "\n".join(out)


def _variables(variables: tuple[Variable, ...]) -> str:
    rows = []
    for v in variables:
        name = f"`{v.name}`" + (f", `{v.name}_FILE`" if v.secret else "")
        rows.append((name, f"`{v.default}`" if v.default else "", v.meaning))
    return _table(("variable", "default", "meaning"), rows)


def configuration() -> str:
    out = []
    for database in registry.databases():
        out += [f"## {database.title}", "", _variables(database.environment), ""]
    out += ["## dbinit", "", _variables(settings.ENVIRONMENT), ""]
    out += ["## Archives (docs/guides/kubernetes.md)", "", _variables(archive.ENVIRONMENT), ""]
    out += ["## Fleets (docs/guides/tenants.md)", "", _variables(tenants.ENVIRONMENT), ""]
    out += ["## The audit trail (docs/guides/operations.md)", "", _variables(audit.ENVIRONMENT), ""]
    out += ["## OpenTelemetry (docs/guides/operations.md)", "", _variables(telemetry.ENVIRONMENT), ""]
    return "\n".join(out)


def _classes(cls: type) -> list[type]:
    return [cls, *(s for c in cls.__subclasses__() for s in _classes(c))]


def exit_codes() -> str:
    import dbinit.databases  # noqa: F401 - their errors too

    by_code: dict[int, list[str]] = {}
    for cls in _classes(errors.DbinitError):
        if cls.__module__.startswith("dbinit.errors") and cls is not errors.DbinitError:
            by_code.setdefault(cls.exit_code, []).append(f"`dbinit.{cls.__name__}`")
    rows = [(str(code), meaning, ", ".join(by_code.get(code, [])))
            for code, meaning in sorted(report.MEANINGS.items())]
    return _table(("exit code", "meaning", "the Python API raises"), rows)


def files() -> str:
    rows = []
    for d in registry.databases():
        down = f"`…{d.naming.down_suffix}`" if d.naming.down_suffix else "none (forward only)"
        rows.append((d.title, f"`{d.name}/`", d.naming.expected, down, f"`R-<description>{d.extension}`",
                     f"`{d.comment}`", f"`init/{d.init_script}`" if d.init_script else "none"))
    return _table(("database", "subfolder", "a migration", "down file", "repeatable", "comment", "baseline script"),
                  rows)


def _schema_rows(node: dict[str, Any], path: str, rows: list[tuple[str, ...]]) -> None:
    kind = node.get("type", "")
    if "enum" in node:
        kind = "one of " + ", ".join(f"`{json.dumps(e)}`" for e in node["enum"])
    elif isinstance(kind, list):
        kind = " or ".join(kind)
    elif "oneOf" in node:
        kind = " or ".join(a.get("type", "") for a in node["oneOf"])
    if "format" in node:
        kind += f" ({node['format']})"
    if path:
        rows.append((f"`{path}`", kind, node.get("description", "")))
    for name, child in node.get("properties", {}).items():
        _schema_rows(child, f"{path}.{name}" if path else name, rows)
    if isinstance(node.get("additionalProperties"), dict):
        _schema_rows(node["additionalProperties"], f"{path}.<DATABASE>", rows)
    if isinstance(node.get("items"), dict):
        _schema_rows(node["items"], f"{path}[]", rows)
    for alternative in node.get("oneOf", []):  # an object or null: the object's fields
        for name, child in alternative.get("properties", {}).items():
            _schema_rows(child, f"{path}.{name}", rows)


def _schema(name: str) -> str:
    schema = json.loads(resources.files("dbinit").joinpath(name).read_text(encoding="utf-8"))
    rows: list[tuple[str, ...]] = []
    _schema_rows(schema, "", rows)
    return f"`dbinit/{name}`: {schema.get('title', '')}\n\n" + _table(("field", "type", "what"), rows)


def run_report() -> str:
    return _schema("report.schema.json")


def status_json() -> str:
    return _schema("status.schema.json")


PAGES = {"commands": commands, "configuration": configuration, "exit_codes": exit_codes, "files": files,
         "run_report": run_report, "status_json": status_json}
