"""Command line: parse arguments, run, and choose the exit code. The only place that prints or exits."""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from . import audit, envfile, log, registry, telemetry
from .errors import DbinitError, Interrupted, InvalidMigrations, Pending, UsageError
from .status_json import status_document
from .version import VERSION

if TYPE_CHECKING:
    from .importing import Done
    from .plan import Plan
    from .report import RunReport
    from .settings import Settings

COMMANDS = ("migrate", "wait", "check", "status", "validate", "down", "rollback", "new", "hash", "baseline", "repair",
            "create", "drop", "schema", "accept", "import", "checkpoint", "archive")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # exit 64, not argparse's 2; the log line says "dbinit" once
        command = self.prog.removeprefix("dbinit").strip()
        raise UsageError(f"{command}: {message}" if command else message)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _in_order(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """The command first: `dbinit --migrations m migrate` means `dbinit migrate --migrations m`."""
    sub = _subcommands(parser)
    takes_value = {o for p in sub.values() for a in p._actions if a.nargs != 0 for o in a.option_strings}
    for i, word in enumerate(argv):
        if not word.startswith("-") and (i == 0 or argv[i - 1] not in takes_value):
            return [word, *argv[:i], *argv[i + 1:]]  # the first word that is no option's value
    return argv


def _unrecognised(args: argparse.Namespace, extras: list[str], parser: argparse.ArgumentParser) -> UsageError:
    """What argparse would call unrecognised arguments, with the flag meant or how to quote."""
    command = args.command
    sub = _subcommands(parser)[command]
    flags = [o for a in sub._actions for o in a.option_strings if o.startswith("--")]
    words = [w for w in extras if not w.startswith("-")]
    if command == "new" and words and len(words) == len(extras):
        return UsageError(f"new: the description is one argument: quote it, dbinit new {args.database} "
                          f"\"{' '.join([args.description, *words])}\"")
    hints = "".join(_did_you_mean(w.split("=", 1)[0], flags) for w in extras if w.startswith("--"))
    return UsageError(f"{command}: unrecognized arguments: {' '.join(extras)}{hints}")


def _early_format(argv: list[str]) -> str:
    """The log format asked for, for errors met before the settings are read (a bad command line)."""
    for i, word in enumerate(argv):
        if word.startswith("--log-format="):
            return word.split("=", 1)[1].lower()
        if word == "--log-format" and i + 1 < len(argv):
            return argv[i + 1].lower()
    return (os.environ.get("DBINIT_LOG_FORMAT") or "text").lower()


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--migrations", help="migrations directory (DBINIT_MIGRATIONS, default ./migrations)")
    for database in registry.databases():
        for flag in database.flags:
            common.add_argument("--" + flag.dest.replace("_", "-"), help=flag.help)
    common.add_argument("--wait-timeout", metavar="SECONDS", help="seconds to wait for the databases (DBINIT_WAIT_TIMEOUT)")
    common.add_argument("--lock-timeout", metavar="SECONDS", help="seconds to wait for the migration lock (DBINIT_LOCK_TIMEOUT)")
    common.add_argument("--log-format", choices=("text", "json"), help="one line an event, or one JSON object "
                        "a line (DBINIT_LOG_FORMAT)")
    common.add_argument("--tenant", metavar="NAME", help="one tenant of a fleet (DBINIT_TENANT)")
    common.add_argument("--parallel", metavar="N", help="how many tenants of a fleet migrate at once (DBINIT_PARALLEL)")
    common.add_argument("--env-file", metavar="PATH",
                        help="variables to read (default: .env in the working directory, when there is one); "
                             "the environment wins")
    common.add_argument("--placeholder", action="append", metavar="NAME=VALUE", default=[],
                        help="fills ${NAME} in the migration files (DBINIT_PLACEHOLDER_NAME); repeat for several")

    parser = _Parser(prog="dbinit", description="Wait for Neo4j, PostgreSQL and Redis, apply pending migrations, exit.")
    parser.add_argument("--version", action="version", version=f"dbinit {VERSION}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    order = ", then ".join(d.title for d in registry.databases())
    m = sub.add_parser("migrate", parents=[common], description=(
        f"Wait, then validate, take the locks, apply every pending migration ({order}), release, and print a summary."
        " Pending post-deploy files are left for --post-deploy, which applies them too (on"
        " a database with no history every file runs in one migrate: there is no old version to protect)."),
        help="wait, then apply every pending migration (default)")
    m.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    m.add_argument("--script", action="store_true",
                   help="with --dry-run: print every statement that would run, dbinit's history writes included, "
                        "for review (its PostgreSQL part runs under psql -1 -f)")
    m.add_argument("--to", action="append", metavar="[DATABASE=]VERSION",
                   help="apply no version above this one: a release rolled out in steps (repeat per database)")
    m.add_argument("--post-deploy", action="store_true",
                   help="also apply post-deploy migrations: run once the new version of the application is rolled out")
    m.add_argument("--out-of-order", action="store_true", default=None,
                   help="allow pending migrations older than the newest applied one (DBINIT_OUT_OF_ORDER)")
    w = sub.add_parser("wait", parents=[common], description=(
        "Only wait until every configured database answers a real query (not only accepts a connection). With --migrated, also until nothing is pending (migrated elsewhere:"
        " a Job, a Helm hook), else exit 69 at the deadline naming what is pending: the initContainer of application "
        "pods when one Job migrates."),
        help="only wait until every configured database is ready")
    w.add_argument("--migrated", action="store_true",
                   help="also wait until no migration is pending (applied elsewhere: a Job, a Helm hook)")
    for p in (m, w):
        p.add_argument("--create-database", action="store_true", default=None,
                       help="make the database when the server has not got it (DBINIT_CREATE_DATABASE)")
    sub.add_parser("create", parents=[common], description=(
        "Make each configured database the server has not got yet, waiting for the servers as wait does; a database "
        "that is there is left alone. Where a server cannot make one (an edition with one database, a role without "
        "the right), it says why."),
        help="make each configured database the server has not got yet")
    dr = sub.add_parser("drop", parents=[common], description=(
        "A fresh start on a laptop: remove the database DATABASE is set to, only when --confirm names it once more "
        "exactly as the settings do (else exit 64, nothing dropped). A database with sessions on it is refused (exit 1:"
        " stop the application first); none there is no error."),
        help="remove the database DATABASE is set to: a fresh start on a laptop")
    dr.add_argument("database", choices=registry.names(), help="which database to drop")
    dr.add_argument("--confirm", required=True, metavar="NAME",
                    help="the database's name once more, as the settings give it: nothing is dropped otherwise")
    c = sub.add_parser("check", parents=[common], description=(
        "No lock, no writes: exit 0 when every configured database is up to date with the files, 3 when something is "
        "pending (each pending file logged), 65 for changed or out-of-order files. Post-deploy files waiting for their "
        "run are logged and do not count."),
        help="no lock, no writes: exit 0 when up to date, 3 when pending")
    s = sub.add_parser("status", parents=[common], description=(
        "The migration history: Version, Date, Database, Description, Phase (pre-deploy, post-deploy), Status "
        "(Applied, Baselined: recorded by baseline, not run here, Checkpoint: made by a checkpoint, not by its own "
        "file, Pending, Outdated: a repeatable file changed since "
        "its run, Changed, Missing, Failed), Run (the run that applied it: its id and host or pod; --format json gives "
        "dbinit's version, the image's revision and the namespace too)."),
        help="show the migration history")
    for p in (c, s):
        p.add_argument("--format", choices=("table", "json"), default="table",
                       help="json: one document on stdout, its schema in dbinit/status.schema.json")
    c.add_argument("--drift", action="store_true",
                   help="also compare each database's schema with the one recorded by the last run that changed it: "
                        "exit 4 naming each object added, removed or changed by hand (pending files are not drift)")
    sc = sub.add_parser("schema", parents=[common], description=(
        "Write each configured database's schema, read from the server under no lock, as a file for review beside "
        "the migrations (DBINIT_SCHEMA_DIR, default schema/): postgres-schema.sql (loads with psql -1 -f), "
        "neo4j-schema.cypher, redis-schema.redis (its Functions libraries). Deterministic: the same schema, the same "
        "file. With --check, compare the files there with the live schema instead: exit 65 naming where they "
        "differ (CI: is the committed schema what the migrations produce?)."),
        help="write each database's schema file for review (--check: compare with the committed ones)")
    sc.add_argument("--dir", dest="schema_dir", metavar="DIR",
                    help="where the schema files are (DBINIT_SCHEMA_DIR; default: schema/ beside the migrations)")
    sc.add_argument("--check", action="store_true",
                    help="compare the files in DIR with the live schema (exit 65 where they differ); write nothing")
    able = " and ".join(d.title for d in registry.databases() if d.naming.checkpoint_suffix)
    cp = sub.add_parser("checkpoint", parents=[common], description=(
        f"{able}: write a checkpoint, the whole schema as of a version (default: the newest file), beside the files: "
        "V<version>-schema-checkpoint.sql, <version>-schema.checkpoint.cypher. A database with no history then runs "
        "it instead of every file up to that version, and the files after it. It is made from the files themselves: "
        "they run in a scratch database (PostgreSQL: one made on the configured server and dropped after; Neo4j: the "
        "configured database, which must be empty), whose schema is described as dbinit schema does. With --check, "
        "make it again and compare with the newest checkpoint: exit 65 naming where they differ (CI)."),
        help="write the schema as of a version as a file new databases start from")
    cp.add_argument("--to", action="append", metavar="[DATABASE=]VERSION",
                    help="the version the checkpoint stands for (default: the newest file); repeat per database")
    cp.add_argument("--check", action="store_true",
                    help="compare the newest checkpoint with what the files up to its version make; write nothing")
    ar = sub.add_parser("archive", parents=[common], description=(
        "Pack the migrations directory for shipping, once its files read as a run reads them. FILE.tar.gz: one "
        "archive, the same bytes for the same files, which DBINIT_MIGRATIONS may name (read in place, never "
        "unpacked). FILE.yaml: values for the Helm chart: the files as text while they fit a ConfigMap, else the "
        "archive as binaryData (helm install -f FILE.yaml)."),
        help="pack the migrations as a .tar.gz, or as Helm values that ship them")
    ar.add_argument("file", metavar="FILE", help="the archive to write (.tar.gz) or the Helm values (.yaml)")
    ac = sub.add_parser("accept", parents=[common], description=(
        "A change by hand you stand by (an index added during an incident): record each database's schema as it is "
        "now, with who and why, under the migration locks. The next drift check (check --drift, migrate) compares "
        "with it. Put the change in a migration too, or a new environment will not have it."),
        help="accept the live schema after a change by hand: the next drift check is clean")
    ac.add_argument("--reason", required=True, help="why the schema as it is now is right (kept in the history)")
    ac.add_argument("--by", metavar="NAME", help="who accepts it (default: the login name)")
    ac.add_argument("databases", nargs="*", metavar="DATABASE",
                    help=f"only these databases ({', '.join(registry.names())}; default: every configured one)")
    v = sub.add_parser("validate", parents=[common], description=(
        "Offline checks of the files, no database needed: names, duplicates, pairs, encodings, placeholders, the "
        "integrity file, each file's syntax by its database's own parser, and the lint. With "
        "--servers, each configured server also checks every file, without a lock and changing nothing."),
        help="check the migration files offline")
    v.add_argument("--servers", action="store_true",
                   help="also have each configured server check every file, changing nothing (Neo4j: EXPLAIN)")
    reverting = ", ".join(d.title for d in registry.databases() if d.naming.down_suffix)
    d = sub.add_parser("down", parents=[common], description=(
        f"{reverting}: run the down scripts of the migrations newer than VERSION, newest first, each with its history "
        f"record (PostgreSQL: in one transaction); the down script kept in the history when the file is gone."),
        help=f"{reverting}: revert migrations newer than VERSION")
    d.add_argument("--to", required=True, action="append", metavar="[DATABASE=]VERSION",
                   help="the version to go back to (0 reverts all); a bare version applies to each database whose "
                        "versions look like it (V3: PostgreSQL, 2025-01-15-001: Neo4j); repeat for several")
    sub.add_parser("rollback", parents=[common], description=(
        "Run from the previous image (helm rollback, an older tag): revert, newest first and in the reverse order of "
        "the databases, every applied migration whose file this image does not have, from the down scripts kept in "
        "the history. Nothing is reverted when any of them cannot be."),
                   help="revert every applied migration this image has no file for (a newer release's), newest "
                        "first, from the down scripts kept in the history: run it from the previous image")
    n = sub.add_parser("new", parents=[common], description=(
        "Create correctly named files in the migrations directory: the next number (Neo4j: today and the next NNN), and"
        " a down file for the databases that have them."),
        help="create a correctly named migration file")
    sub.add_parser("hash", parents=[common], description=(
        "Write dbinit.sum, the integrity file of the migrations: commit it with them; validate, check and migrate then "
        "refuse a file edited, added or missing since."),
        help="write dbinit.sum, the integrity file of the migrations")
    n.add_argument("database", choices=registry.names(), help="which database the migration is for")
    n.add_argument("description", help="what it does, in a few words: they become the file name (add users: add-users)")
    n.add_argument("--post-deploy", action="store_true",
                   help="a post-deploy migration: runs once the new version of the application is rolled out")
    n.add_argument("--repeatable", action="store_true",
                   help="a repeatable file, R-<description>: applied again whenever it changes (views, functions, "
                        "reference data, Redis Functions)")
    tools = [p.name for p in registry.peers()]
    b = sub.add_parser("baseline", parents=[common], description=(
        "Adopt an existing database: record its migrations up to VERSION (and the baseline script) as applied, without "
        f"running them; or, with --from TOOL ({', '.join(tools)}), exactly the versions that tool's history table says "
        "it applied. Status shows them as Baselined."),
        help="record migrations up to VERSION as applied without running them")
    b.add_argument("database", nargs="?", choices=registry.names(), help=argparse.SUPPRESS)  # the old form
    b.add_argument("--to", action="append", metavar="[DATABASE=]VERSION",
                   help="the newest version to record as applied, as down takes it; repeat for several databases")
    b.add_argument("--from", dest="tool", choices=tools,
                   help="record what this tool's history table says it applied (its dirty flag refuses)")
    im = sub.add_parser("import", parents=[common], description=(
        f"Convert another tool's migration folder ({', '.join(tools)}) into dbinit's files in the migrations directory "
        "(--migrations, DBINIT_MIGRATIONS): in place when that is the folder given, the tool's files removed once "
        "every new one is written; else into a folder without that database's files. Files are paired by version, "
        "dbmate's sections split, transaction markers kept on both parts, a file-wide BEGIN … COMMIT made dbinit's "
        "own transaction. Prints what it changed, file by file, and what a person must still look at. Then: dbinit "
        "baseline --from TOOL on a database the tool migrated."),
        help="convert another tool's migration folder into dbinit's files")
    im.add_argument("tool", choices=tools, help="the tool whose files these are")
    im.add_argument("source", nargs="?", metavar="FOLDER",
                    help="the tool's folder (default: the migrations directory itself, converted in place)")
    sub.add_parser("repair", parents=[common], description=(
        "After a person has fixed things: accept changed checksums and clear failed marks, so that the next migrate "
        "runs a failed file again."),
        help="accept changed checksums and clear failed marks")
    return parser


def _status_table(plans: list[Plan]) -> str:
    rows = [("Version", "Date", "Database", "Description", "Phase", "Status", "Run")]
    for plan in plans:
        for e in plan.entries:
            day = e.applied.applied_at.strftime("%Y-%m-%d %H:%M") if e.applied else ""
            rows.append((e.label, day, plan.db, e.description, e.migration.phase if e.migration else "", e.shown,
                         str(e.applied.audit) if e.applied else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _print_import(tool: str, done: Done) -> None:
    """What `import` wrote, file by file, and what a person must still look at."""
    for c in done.conversion.files:
        print(f"{', '.join(c.sources)} -> {c.name}" + "".join(f"\n    {change}" for change in c.changes))
    if done.conversion.look_at:
        print("\nlook at:")
        for item in done.conversion.look_at:
            print(f"  {item}")
    print(f"\n{len(done.conversion.files)} files written to {done.target}"
          + (f" (the {len(done.conversion.consumed)} files they came from removed)" if done.in_place else
             f"; {done.source} is left as it was: remove it once dbinit runs the new folder"))
    print(f"next: dbinit validate --migrations {done.target}; on a database {tool} migrated, dbinit baseline --from "
          f"{tool} records what it applied")


def _pairs(given: list[str]) -> dict[str, str]:
    """--placeholder NAME=VALUE options, by name."""
    pairs = {}
    for text in given:
        name, sep, value = text.partition("=")
        if not sep:
            raise UsageError(f"--placeholder takes NAME=VALUE, not {name!r}")
        pairs[name] = value
    return pairs


def _on_signal(signum: int, frame: FrameType | None) -> NoReturn:
    raise Interrupted(signum)


def run(argv: list[str], report: RunReport) -> int:
    from . import drift, importing, schema_commands
    from .runner import Runner
    from .settings import load

    parser = _parser()
    argv = _in_order(argv, parser)
    if argv and argv[0] == "help":  # `dbinit help [COMMAND]`, as git and docker take it
        named = argv[1:2] if argv[1:2] and argv[1] in COMMANDS else []
        (_subcommands(parser)[named[0]] if named else parser).print_help()
        return 0
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        raise UsageError(f"unknown command {argv[0]!r}{_did_you_mean(argv[0], [*COMMANDS, 'help'])} "
                         f"(commands: {', '.join(COMMANDS)}; dbinit help COMMAND says more)")
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help", "--version"):
        argv = ["migrate", *argv]
    args, extras = parser.parse_known_args(argv)
    if extras:
        raise _unrecognised(args, extras, parser)
    report.command = args.command
    env_file = Path(args.env_file or ".env") if args.command else None
    loaded = envfile.load(env_file) if env_file is not None and (args.env_file or env_file.is_file()) else []
    targets = {f.dest: getattr(args, f.dest) for d in registry.databases() for f in d.flags}
    settings = load(migrations=args.migrations, schema_dir=getattr(args, "schema_dir", None),
                    wait_timeout=args.wait_timeout, lock_timeout=args.lock_timeout,
                    log_format=args.log_format, out_of_order=getattr(args, "out_of_order", None),
                    create_database=getattr(args, "create_database", None), tenant=args.tenant, parallel=args.parallel,
                    placeholders=_pairs(args.placeholder), **targets)
    settings.use()
    report.path, report.termination_log = settings.report, settings.termination_log
    log.info("dbinit", f"dbinit {VERSION}: {args.command}", version=VERSION)  # in the chosen log format
    origin = audit.current()
    telemetry.start(args.command, report.run_id, {"host.name": origin.host, "k8s.namespace.name": origin.namespace,
                                                  "dbinit.image.revision": origin.image_revision})
    if loaded:
        log.info("dbinit", f"read {', '.join(loaded)} from {env_file}")
    if settings.fleet is not None and args.command in _FLEET:
        return _fleet(args, settings, report)
    if settings.fleet is not None and settings.fleet.only is not None:
        raise UsageError(f"dbinit {args.command} addresses the shared part, not a tenant: leave out --tenant "
                         "(DBINIT_TENANT)")
    runner = Runner(settings, report)
    if args.command == "migrate":
        if args.script and not args.dry_run:
            raise UsageError("--script shows what would run: use it with --dry-run")
        runner.migrate(dry_run=args.dry_run, post_deploy=args.post_deploy, to=args.to,
                       script=(lambda text: print(log.redact(text), end="")) if args.script else None)
    elif args.command == "wait":
        runner.wait_migrated() if args.migrated else runner.wait()
    elif args.command == "create":
        runner.create()
    elif args.command == "drop":
        runner.drop(args.database, args.confirm)
    elif args.command == "check":
        plans = runner.check(schemas=args.drift)
        if args.format == "json":
            print(json.dumps(status_document(plans, "check", runner.drifts), indent=2))
        pending = [(p.db, m) for p in plans for m in p.pending]
        for db, m in pending:
            log.info(db, f"pending: {m.label} {m.description} ({m.path})")
        for p in plans:
            for m in p.deferred:
                log.info(p.db, f"left for the post-deploy run: {m.label} {m.description} ({m.path})")
        drift.refuse(runner.drifts, "put the change in a migration, or accept it: dbinit accept --reason \"…\"")
        if pending:
            raise Pending(f"{len(pending)} migration(s) pending: " + ", ".join(f"{db} {m.label}" for db, m in pending))
        log.info("dbinit", "up to date")
    elif args.command == "status":
        plans = runner.status()
        print(json.dumps(status_document(plans, "status", runner.drifts), indent=2) if args.format == "json"
              else _status_table(plans) + "".join(f"\n{c.db} schema: {c.says()}" for c in runner.drifts))
    elif args.command == "validate":
        runner.validate(servers=args.servers)
    elif args.command == "down":
        runner.down(args.to)
    elif args.command == "rollback":
        runner.rollback()
    elif args.command == "hash":
        print(runner.hash())
    elif args.command == "new":
        for path in runner.new(args.database, args.description, post_deploy=args.post_deploy,
                               repeatable=args.repeatable):
            print(path)
    elif args.command == "baseline":
        to = args.to
        if args.database:  # dbinit baseline postgres --to V7: the form before down's
            to = [f"{args.database}={t}" for t in (to or [])]
            log.warn("dbinit", f"`baseline {args.database} --to VERSION` is the old form: dbinit baseline --to "
                     f"{args.database}=VERSION takes the target as down does")
        runner.baseline(to, args.tool)
    elif args.command == "import":
        _print_import(args.tool, importing.run(settings, args.tool, Path(args.source) if args.source else None))
    elif args.command == "repair":
        runner.repair()
    elif args.command == "schema":
        for path in schema_commands.schema(runner, check=args.check):
            print(path)
    elif args.command == "accept":
        schema_commands.accept(runner, args.reason, args.by, args.databases)
    elif args.command == "archive":
        from .packing import write

        log.info("dbinit", f"wrote {args.file}: {write(settings.migrations, settings.init, Path(args.file))}")
    elif args.command == "checkpoint":
        from .checkpoints import checkpoint

        for path in checkpoint(runner, args.to, args.check):
            print(path)
    return 0


# What a fleet run does over the shared part and its tenants; the others address the shared part alone.
_FLEET = ("migrate", "wait", "check", "status", "down", "rollback", "hash", "baseline", "repair", "validate", "accept")


def _fleet(args: argparse.Namespace, settings: Settings, report: RunReport) -> int:
    from . import drift, schema_commands
    from .fleet import FleetRunner

    fleet = FleetRunner(settings, report)
    if args.command == "migrate":
        if args.script:
            raise UsageError("--script shows one target's statements: without the tenant settings for the shared "
                             "part, or with DBINIT_TENANT_MIGRATIONS as --migrations for a tenant's")
        fleet.migrate(dry_run=args.dry_run, post_deploy=args.post_deploy, to=args.to)
    elif args.command == "wait":
        fleet.wait_migrated() if args.migrated else fleet.offline.wait()
    elif args.command in ("check", "status"):
        plans = fleet.check(schemas=args.drift) if args.command == "check" else fleet.status()
        outcomes = [fleet.outcomes[t] for t in sorted(fleet.outcomes)]
        if args.format == "json":
            document = status_document(plans, args.command, fleet.shared.drifts)
            document["tenants"] = {
                o.tenant: {"state": o.state, "pending": o.pending,
                           "databases": status_document(o.plans, args.command, o.drifts)["databases"]}
                for o in outcomes}
            document["up_to_date"] = document["up_to_date"] and all(not o.pending for o in outcomes)
            print(json.dumps(document, indent=2))
        elif args.command == "status":
            print(_status_table(plans) + "".join(f"\n{c.db} schema: {c.says()}" for c in fleet.shared.drifts) + "".join(
                f"\ntenant {o.tenant}: {o.state}" + (f" ({', '.join(o.pending)})" if o.pending else "")
                + "".join(f"; {c.db} schema: {c.says()}" for c in o.drifts if c.drifted) for o in outcomes)
                + ("".join(f"\n\ntenant {o.tenant}:\n{_status_table(o.plans)}" for o in outcomes)
                   if settings.fleet and settings.fleet.only else ""))
        pending = [f"{p.db} {m.label}" for p in plans for m in p.pending] + [
            f"tenant {o.tenant} {', '.join(o.pending)}" for o in outcomes if o.pending]
        if args.command == "check":
            drift.refuse([*fleet.shared.drifts, *(dataclasses.replace(c, db=f"tenant {o.tenant} {c.db}")
                                                  for o in outcomes for c in o.drifts)],
                         "put the change in a migration, or accept it: dbinit accept --reason \"…\"")
        if args.command == "check" and pending:
            raise Pending(f"pending: {'; '.join(pending[:20])}" + (" …" if len(pending) > 20 else ""))
    elif args.command == "validate":
        fleet.validate(servers=args.servers)
    elif args.command == "hash":
        for path in fleet.hash():
            print(path)
    elif args.command == "down":
        fleet.every("down", lambda runner: runner.down(args.to), shared=False)
    elif args.command == "baseline":
        fleet.every("baseline", lambda runner: runner.baseline(args.to, args.tool), shared=False)
    elif args.command == "rollback":
        fleet.every("rollback", lambda runner: runner.rollback())
    elif args.command == "repair":
        fleet.every("repair", lambda runner: runner.repair())
    elif args.command == "accept":
        fleet.every("accept", lambda runner: schema_commands.accept(
            runner, args.reason, args.by, args.databases if runner is fleet.shared else None))
    return 0


def main(argv: list[str] | None = None) -> None:
    """Run a command and exit with its code, skipping the interpreter's teardown: tearing down the
    three client libraries takes longer (about 150 ms here) than the whole wait on a ready
    database, and the application's start waits on it. Every connection is closed by then."""
    code = _run_and_map(sys.argv[1:] if argv is None else argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run_and_map(argv: list[str]) -> int:
    with log.secrets():  # this run's, also when called twice in one process (tests)
        return _run_once(argv)


def _run_once(argv: list[str]) -> int:
    from .report import RunReport

    log.install()
    log.silence(*(d.logger for d in registry.databases() if d.logger))
    early = _early_format(argv)
    log.configure(early if early in ("text", "json") else "text")
    # PID 1 in a container gets no default signal handling: handle both ourselves.
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    report = RunReport(path=Path(os.environ["DBINIT_REPORT"]) if os.environ.get("DBINIT_REPORT") else None,
                       termination_log=Path(os.environ.get("DBINIT_TERMINATION_LOG") or "/dev/termination-log"))
    audit.begin(report.run_id)
    error: BaseException | None = None
    try:
        code = run(argv, report)
    except Interrupted as e:
        log.error("dbinit", f"{e}; open transactions rolled back, locks released")
        code, error = e.exit_code, e
    except InvalidMigrations as e:
        for problem in e.problems:
            log.error("dbinit", str(problem), exit_code=e.exit_code)
        code, error = e.exit_code, e
    except DbinitError as e:
        log.error(e.source, str(e), exit_code=e.exit_code)
        code, error = e.exit_code, e
    except Exception as e:  # a server that went away mid-run, say: one clear line, not a traceback
        log.error("dbinit", f"{type(e).__name__}: {e}", exit_code=1)
        code, error = 1, e
    _write_results(report, code, error)
    telemetry.finish(code, error)
    return code


def _write_results(report: RunReport, code: int, error: BaseException | None) -> None:
    """The run report (DBINIT_REPORT) and, where Kubernetes keeps one, the termination message."""
    try:
        if report.path is not None:
            report.write(report.path, code, error)
        if report.termination_log.exists():
            report.termination_log.write_text(log.redact(report.summary(code, error)), encoding="utf-8")
    except OSError as e:
        log.warn("dbinit", f"could not write the run report or termination message: {e}")


if __name__ == "__main__":
    main()
