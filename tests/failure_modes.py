"""The table of failure modes: one row a mode dbinit handles, one cell a database, each cell the exit
code, when it comes and what the message says, or why the mode cannot happen there. Every cell is
a test against a real server: `here` (tests/test_failure_modes.py runs it from this table) or the
test named. docs/reference/failure-modes.md is this table rendered (`python tests/failure_modes.py`
writes it; a test holds the two equal)."""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = "here"
AT_ONCE, AFTER_ONE_TRY, AT_DEADLINE, WHEN_READY = ("at once", "after one try (≤ 6 s)", "at the deadline",
                                                    "once it is ready")


@dataclass(frozen=True)
class Cell:
    code: int
    when: str  # AT_ONCE, AFTER_ONE_TRY, AT_DEADLINE or WHEN_READY
    says: str  # words the final message holds (a waiting run's last progress line, when it ends 0)
    test: str = HERE  # tests/FILE.py::TEST proves it, or HERE


@dataclass(frozen=True)
class Never:
    why: str


WAIT_TESTS = "tests/test_wait.py::"
ADOPTION = "tests/test_moving_in.py::test_a_database_another_tool_migrated_is_refused_before_anything_runs"
TLS_TESTS = "tests/test_tls.py::"
NO_CLUSTER = "Neo4j Community, the edition dbinit is tested on, has no cluster"
FLEET = "tests/test_fleet.py::"
ARCHIVES = ("tests/test_archives.py::test_every_database_s_files_read_from_an_archive_and_one_reaching_outside_it_"
            "runs_nothing")
PRECONDITIONS = "tests/test_preconditions.py::test_a_precondition_not_met_applies_nothing_of_its_file_or_after_it"
TENANTS_ARE_POSTGRES = ("a fleet's tenants are PostgreSQL schemas or databases (Neo4j Community has one database; "
                        "Redis Cluster has one): its Neo4j and Redis files are the shared part's")

# mode → database → cell, in the order of the documentation.
MODES: dict[str, dict[str, Cell | Never]] = {
    "wrong password": {
        "postgres": Cell(77, AT_ONCE, "authentication refused at"),
        "neo4j": Cell(77, AT_ONCE, "authentication refused at"),
        "redis": Cell(77, AT_ONCE, "authentication refused at"),
    },
    "a user that does not exist": {
        "postgres": Cell(77, AT_ONCE, "authentication refused at"),
        "neo4j": Cell(77, AT_ONCE, "authentication refused at"),
        "redis": Cell(77, AT_ONCE, "authentication refused at"),
    },
    "no password given, the server wants one": {
        "postgres": Cell(77, AT_ONCE, "asks for a password and none was given: set the user and password in "
                                      "POSTGRES_URL, or the password in POSTGRES_PASSWORD"),
        "neo4j": Cell(77, AT_ONCE, "asks for credentials and none was given: set NEO4J_AUTH"),
        "redis": Cell(77, AT_ONCE, "asks for a password and none was given: set REDIS_PASSWORD"),
    },
    "the database is missing": {
        "postgres": Cell(78, AT_ONCE, "does not exist"),
        "neo4j": Cell(78, AT_ONCE, "check NEO4J_DATABASE"),
        "redis": Cell(78, AT_ONCE, "DB index is out of range"),
    },
    "the user may not write dbinit's history": {
        "postgres": Cell(77, AT_ONCE, "may not do what dbinit needs"),
        "neo4j": Never("Neo4j Community has no roles: every user may write; Enterprise's refusal "
                       "(Neo.ClientError.Security.Forbidden) is 77 by its code"),
        "redis": Cell(77, AT_ONCE, "may not run dbinit's own command"),
    },
    "a certificate from an unknown CA": {
        "postgres": Cell(78, AT_ONCE, "certificate verify failed",
                         TLS_TESTS + "test_postgres_tls_mistakes_fail_at_once_with_78_naming_the_cause"),
        "neo4j": Cell(78, AT_ONCE, "the server's certificate is not trusted",
                      TLS_TESTS + "test_neo4j_tls_mistakes_fail_at_once_with_78"),
        "redis": Cell(78, AT_ONCE, "the server's certificate is not trusted",
                      TLS_TESTS + "test_redis_tls_mistakes_fail_at_once_with_78"),
    },
    "a certificate for another host name": {
        "postgres": Cell(78, AT_ONCE, "does not match host name",
                         TLS_TESTS + "test_postgres_tls_mistakes_fail_at_once_with_78_naming_the_cause"),
        "neo4j": Cell(78, AT_ONCE, "the server's certificate is for another host name",
                      TLS_TESTS + "test_neo4j_tls_mistakes_fail_at_once_with_78"),
        "redis": Cell(78, AT_ONCE, "the server's certificate is for another host name",
                      TLS_TESTS + "test_redis_tls_mistakes_fail_at_once_with_78"),
    },
    "plain at a port that wants TLS": {
        "postgres": Cell(78, AT_ONCE, "accepts this connection only over TLS",
                         TLS_TESTS + "test_a_plain_connection_to_a_server_that_wants_tls_is_78_at_once"),
        "neo4j": Cell(78, AFTER_ONE_TRY, "speaks only TLS; use bolt+s://",
                      TLS_TESTS + "test_a_plain_connection_to_a_server_that_wants_tls_is_78_at_once"),
        "redis": Cell(78, AFTER_ONE_TRY, "speaks only TLS; use rediss://",
                      TLS_TESTS + "test_a_plain_redis_url_at_a_port_that_speaks_only_tls_is_78_at_once"),
    },
    "TLS at a port without it": {
        "postgres": Cell(78, AT_ONCE, "server does not support SSL",
                         WAIT_TESTS + "test_tls_required_against_a_server_without_tls_fails_at_once"),
        "neo4j": Cell(78, AT_ONCE, "the TLS handshake failed", TLS_TESTS + "test_neo4j_tls_mistakes_fail_at_once_with_78"),
        "redis": Cell(78, AFTER_ONE_TRY, "asks for TLS but the server answers without it",
                      TLS_TESTS + "test_redis_tls_mistakes_fail_at_once_with_78"),
    },
    "another database's port": {
        "postgres": Cell(78, AFTER_ONE_TRY, "speaks Redis, not PostgreSQL: check the port in POSTGRES_URL"),
        "neo4j": Cell(78, AT_ONCE, "speaks PostgreSQL, not Bolt (Neo4j): check the port in NEO4J_URI"),
        "redis": Cell(78, AT_ONCE, "speaks PostgreSQL, not Redis: check the port in REDIS_URL"),
    },
    "a web (HTTP) port": {
        "postgres": Cell(78, AFTER_ONE_TRY, "speaks HTTP, not PostgreSQL"),
        "neo4j": Cell(78, AFTER_ONE_TRY, "speaks HTTP, not Bolt (Neo4j): that is Neo4j's HTTP port"),
        "redis": Cell(78, AFTER_ONE_TRY, "speaks HTTP, not Redis"),
    },
    "nothing listens at the port (yet)": {
        "postgres": Cell(69, AT_DEADLINE, "postgres: connection refused at 127.0.0.1:"),
        "neo4j": Cell(69, AT_DEADLINE, "neo4j: connection refused at 127.0.0.1:"),
        "redis": Cell(69, AT_DEADLINE, "redis: connection refused at 127.0.0.1:"),
    },
    "a host name that does not resolve (yet)": {
        "postgres": Cell(69, AT_DEADLINE, "postgres: the host name does not resolve (yet) at nonexistent.invalid"),
        "neo4j": Cell(69, AT_DEADLINE, "neo4j: the host name does not resolve (yet) at nonexistent.invalid"),
        "redis": Cell(69, AT_DEADLINE, "redis: the host name does not resolve (yet) at nonexistent.invalid"),
    },
    "the server is still starting": {
        "postgres": Cell(0, WHEN_READY, "ready after",
                         WAIT_TESTS + "test_postgres_refusing_connections_while_starting_is_waited_out"),
        "neo4j": Cell(0, WHEN_READY, "ready after", WAIT_TESTS + "test_waits_for_all_three_servers_started_late"),
        "redis": Cell(0, WHEN_READY, "ready after", WAIT_TESTS + "test_redis_answering_loading_is_waited_out"),
    },
    "only a standby or replica answers": {
        "postgres": Cell(69, AT_DEADLINE, "only a standby answered",
                         "tests/test_postgres_topologies.py::test_only_a_standby_until_the_deadline_is_69_saying_so"),
        "neo4j": Never(f"{NO_CLUSTER}: no secondaries"),
        "redis": Cell(69, AT_DEADLINE, "only a replica answered (read-only)"),
    },
    "a primary promoted or a failover during the wait": {
        "postgres": Cell(0, WHEN_READY, "ready after", "tests/test_postgres_topologies.py::"
                         "test_pointed_at_a_standby_alone_dbinit_waits_and_migrates_right_after_promotion"),
        "neo4j": Never(NO_CLUSTER),
        "redis": Cell(0, WHEN_READY, "ready after", "tests/test_redis_topologies.py::"
                      "test_through_sentinel_dbinit_migrates_the_master_and_after_a_failover_the_new_one"),
    },
    "a cluster still forming": {
        "postgres": Never("PostgreSQL has no cluster of its own: a primary with standbys is the rows above"),
        "neo4j": Never(NO_CLUSTER),
        "redis": Cell(0, WHEN_READY, "ready after", "tests/test_redis_topologies.py::"
                      "test_a_cluster_still_forming_is_waited_for_saying_how_many_slots_it_serves"),
    },
    "a read-only database": {
        "postgres": Cell(78, AT_ONCE, "is read-only"),
        "neo4j": Cell(78, AT_ONCE, "is read-only"),
        "redis": Never("a Redis master has no read-only switch: a read-only Redis is a replica (the row above)"),
    },
    "the connection dropped in the middle of a file": {
        db: Cell(69, AT_ONCE, "the connection was lost", "tests/reliability/test_faults.py::"
                 "test_a_database_restarted_mid_run_is_named_with_the_file_and_reason_and_a_later_run_converges")
        for db in ("postgres", "neo4j", "redis")
    },
    "a runner paused past its lock's lease (PostgreSQL's lock has one behind a pooler)": {
        "postgres": Cell(75, AT_ONCE, "the migration lock was lost", "tests/reliability/test_faults.py::"
                         "test_a_runner_behind_a_pooler_paused_past_its_postgres_lease_writes_nothing_and_exits_75"),
        **{db: Cell(75, AT_ONCE, "the migration lock was lost", "tests/reliability/test_faults.py::"
                    "test_a_runner_paused_past_its_lease_writes_nothing_more_and_exits_75")
           for db in ("neo4j", "redis")},
    },
    "a server that speaks another language": {
        "postgres": Cell(77, AT_ONCE, "authentication refused at", "tests/test_postgres_languages.py::"
                         "test_a_wrong_password_is_77_at_once_whatever_the_language"),
        "neo4j": Never("Neo4j's messages are English only, and dbinit reads its status codes, not its words"),
        "redis": Never("Redis's errors are English only, each beginning with its code word (NOAUTH, WRONGPASS, …)"),
    },
    "credentials in the wrong place": {
        "postgres": Cell(78, AT_ONCE, "POSTGRES_URL has a user name that looks like a password, and no password"),
        "neo4j": Cell(78, AT_ONCE, "NEO4J_URI holds a user name or password; the Neo4j driver takes none from the URI"),
        "redis": Cell(78, AT_ONCE, "REDIS_URL has a user name that looks like a password, and no password"),
    },
    "a password with characters a URL must encode": {
        "postgres": Cell(78, AT_ONCE, "POSTGRES_URL: the user name or password holds characters a URL must "
                                      "percent-encode ('@' as %40, '#' as %23)"),
        "neo4j": Cell(78, AT_ONCE, "NEO4J_URI: the user name or password holds characters a URL must percent-encode"),
        "redis": Cell(78, AT_ONCE, "REDIS_URL: the user name or password holds characters a URL must "
                                   "percent-encode ('@' as %40, '#' as %23)"),
    },
    "a URL ending in a line break": {
        "postgres": Cell(78, AT_ONCE, "POSTGRES_URL ends with a line break"),
        "neo4j": Cell(78, AT_ONCE, "NEO4J_URI ends with a line break"),
        "redis": Cell(78, AT_ONCE, "REDIS_URL ends with a line break"),
    },
    "a port given twice": {
        "postgres": Cell(78, AT_ONCE, "POSTGRES_HOST holds a port (127.0.0.1:5432); give the host alone and the port "
                                      "in POSTGRES_PORT"),
        "neo4j": Cell(78, AT_ONCE, "NEO4J_URI holds more than one port"),
        "redis": Cell(78, AT_ONCE, "REDIS_URL holds more than one port"),
    },
    "one thing set two ways": {
        "postgres": Cell(78, AT_ONCE, "both POSTGRES_URL and POSTGRES_HOST are set"),
        "neo4j": Cell(78, AT_ONCE, "NEO4J_AUTH and NEO4J_USERNAME or NEO4J_PASSWORD are both set"),
        "redis": Cell(78, AT_ONCE, "REDIS_URL has a password and REDIS_PASSWORD another"),
    },
    "a misspelt variable": {
        "postgres": Cell(78, AT_ONCE, "POSTGRESS_URL is set, but dbinit reads no such variable: did you mean "
                                      "POSTGRES_URL?"),
        "neo4j": Cell(78, AT_ONCE, "NEO4J_URL is set, but dbinit reads no such variable: did you mean NEO4J_URI?"),
        "redis": Cell(78, AT_ONCE, "REDIS_ULR is set, but dbinit reads no such variable: did you mean REDIS_URL?"),
    },
    "a database another tool migrated, not yet adopted": {
        "postgres": Cell(78, AT_ONCE, "dbinit baseline --from golang-migrate", ADOPTION),
        "neo4j": Cell(78, AT_ONCE, "dbinit baseline --from neo4j-migrations", ADOPTION),
        "redis": Never("no Redis migration tool keeps a history in the server that dbinit could take over: a set of "
                       "redis-cli scripts had none, so dbinit baseline --to redis=VERSION adopts it"),
    },
    "a fleet's tenants' query that names no tenant": {
        "postgres": Cell(78, AT_ONCE, "DBINIT_TENANTS_QUERY names no tenant", FLEET + "test_a_fleet_names_at_least_one_tenant"),
        "neo4j": Never(TENANTS_ARE_POSTGRES),
        "redis": Never(TENANTS_ARE_POSTGRES),
    },
    "a fleet's tenants' files in another database's language": {
        "postgres": Never("its schemas and databases are the tenants: its files are theirs"),
        "neo4j": Cell(78, AT_ONCE, "a fleet's tenants are PostgreSQL schemas, so their files are PostgreSQL's alone",
                      FLEET + "test_files_of_another_database_among_the_tenants_files_are_refused"),
        "redis": Cell(78, AT_ONCE, "a fleet's tenants are PostgreSQL schemas, so their files are PostgreSQL's alone",
                      FLEET + "test_files_of_another_database_among_the_tenants_files_are_refused"),
    },
    "a migrations archive holding a path outside itself": {
        db: Cell(65, AT_ONCE, "a path outside the archive", ARCHIVES) for db in ("postgres", "neo4j", "redis")},
    "a file's precondition is not met": {
        db: Cell(6, WHEN_READY, "precondition not met", PRECONDITIONS) for db in ("postgres", "neo4j", "redis")},
    "a file's precondition would write": {
        "postgres": Cell(6, WHEN_READY, "SQLSTATE 25006", PRECONDITIONS),
        "neo4j": Cell(6, WHEN_READY, "Neo.ClientError.Statement.AccessMode", PRECONDITIONS),
        "redis": Cell(6, WHEN_READY, "not a read-only command", PRECONDITIONS),
    },
    "a checkpoint of a database whose only database is not empty": {
        "postgres": Never("dbinit checkpoint makes a scratch database of its own on the server, and drops it"),
        "neo4j": Cell(78, AT_ONCE, "whose database has no history and no schema",
                      "tests/test_checkpoints.py::test_neo4j_from_the_checkpoint_and_later_files_is_the_graph_schema_"
                      "every_file_makes"),
        "redis": Never("Redis has no checkpoints: its files write keys, which are data"),
    },
    "a no-transaction file pending with every file in one transaction": {
        "postgres": Cell(65, AT_ONCE, "is a no-transaction file", "tests/test_one_transaction.py::test_a_pending_no_"
                         "transaction_file_is_refused_before_anything_runs"),
        "neo4j": Never("DBINIT_PG_TRANSACTION is PostgreSQL's: Neo4j cannot change schema and data in one transaction, "
                       "so its files commit one by one"),
        "redis": Never("DBINIT_PG_TRANSACTION is PostgreSQL's: a Redis MULTI is one file's"),
    },
    "another database's URL scheme": {
        "postgres": Cell(78, AT_ONCE, "POSTGRES_URL must start with postgresql://"),
        "neo4j": Cell(78, AT_ONCE, "NEO4J_URI must start with bolt://"),
        "redis": Cell(78, AT_ONCE, "REDIS_URL must start with redis://"),
    },
}

_EVENT = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [A-Z]+ |\{"time": ')


def check(result, mode: str, db: str) -> None:
    """A run of dbinit is the table's cell: its exit code, and the cell's words in its last error
    line (anywhere in its log for a run that ends 0). Tests that prove a cell call this."""
    cell = MODES[mode][db]
    assert isinstance(cell, Cell), f"{mode!r} cannot happen on {db}"
    assert result.returncode == cell.code, result.stderr
    lines = result.stderr.splitlines()
    assert all(_EVENT.match(line) for line in lines), result.stderr  # one line per event, whatever a library said
    errors = [line for line in lines if " ERROR " in line or '"level": "ERROR"' in line]
    assert cell.says in (errors[-1] if cell.code else result.stderr), result.stderr
    assert "Traceback" not in result.stdout + result.stderr


PAGE = Path(__file__).resolve().parent.parent / "docs" / "reference" / "failure-modes.md"


def render() -> str:
    from dbinit import registry

    titles = [d.title for d in registry.databases()]
    lines = [
        "# Failure modes",
        "",
        "What dbinit answers to each way a database, its settings or its network can be wrong: the exit code, when",
        "it comes, and words of the message (after the database's name), or why the mode cannot happen there.",
        "\"At once\" is before any wait; \"after one try\" is after the first connection attempt's timeout (at most",
        "5 s) and a look at what answers at the port; \"at the deadline\" is `DBINIT_WAIT_TIMEOUT`, because the",
        "cause may yet go away (a server starting, a DNS record on its way). Every cell is a test against a real",
        "server (`tests/failure_modes.py` holds this table; this page is made from it).",
        "",
        "| mode | " + " | ".join(titles) + " |",
        "|---|" + "---|" * len(titles),
    ]
    for mode, cells in MODES.items():
        row = []
        for database in registry.databases():
            cell = cells[database.name]
            row.append(f"cannot happen: {cell.why}" if isinstance(cell, Never) else
                       f"**{cell.code}** {cell.when}: “{cell.says}”")
        lines.append(f"| {mode} | " + " | ".join(row) + " |")
    lines += ["", "The exit codes' meanings are on [the exit codes page](exit-codes.md).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(PAGE.parent.parent.parent))
    PAGE.write_text(render(), encoding="utf-8")
    print(f"wrote {PAGE}")
