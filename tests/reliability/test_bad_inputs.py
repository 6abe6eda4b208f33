"""Every bad input a user can give, across files, environment and command line: the exact exit
code, a message that says what is wrong, and all three databases left as they were (no data, no
history, no lock; dbinit's own uniqueness constraints in Neo4j may exist)."""
from dataclasses import dataclass, field

import pytest

from conftest import run_dbinit

GOOD = {"V001-a-up.sql": "CREATE TABLE marker (id int);\n", "2025-01-01-001-a.cypher": "CREATE (:Marker);\n",
        "V001-a.redis": "SET marker 1\n"}


@dataclass
class Case:
    id: str
    code: int
    message: str
    files: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    args: tuple = ("migrate",)


CASES = [
    # Files: 65, found before anything runs, each naming the file.
    Case("flyway-name", 65, "V002__b.sql: looks like a Flyway name", {"V002__b.sql": "SELECT 1;"}),
    Case("duplicate-version", 65, "duplicate version V1", {"V1-b-up.sql": "SELECT 1;"}),
    Case("down-without-up", 65, "V002-b-down.sql: down file without its up file", {"V002-b-down.sql": "SELECT 1;"}),
    Case("down-other-description", 65, "V001-b-down.sql: down file without its up file: V001 is V001-a-up.sql",
         {"V001-b-down.sql": "DROP TABLE marker;"}),
    Case("not-utf8", 65, "V002-b-up.sql:1: is not UTF-8", {"V002-b-up.sql": b"SELECT '\xff';"}),
    Case("nul-bytes", 65, "V002-b.redis:2: holds binary content (byte 0x00", {"V002-b.redis": b"SET a 1\nSET b \x00\x01\n"}),
    Case("sql-syntax-in-a-later-file", 65, "V003-c-up.sql:2:1: SQL syntax error",
         {"V002-b-up.sql": "CREATE TABLE b (id int);", "V003-c-up.sql": "SELECT 1;\nSELEC 2;"}),
    Case("concurrently-in-a-transaction", 65, "V002-b-up.sql:1: CONCURRENTLY cannot run inside a transaction",
         {"V002-b-up.sql": "CREATE INDEX CONCURRENTLY m ON marker (id);"}),
    Case("commit-inside", 65, "V002-b-up.sql:2: transaction control (COMMIT)",
         {"V002-b-up.sql": "CREATE TABLE b (id int);\nCOMMIT;\nCREATE TABLE c (id int);"}),
    Case("psql-meta-command", 65, "meta-commands", {"V002-b-up.sql": "\\set ON_ERROR_STOP on\nSELECT 1;"}),
    Case("copy-without-end", 65, "V002-b-up.sql:1: COPY … FROM stdin has no \\. line",
         {"V002-b-up.sql": "COPY marker (id) FROM stdin;\n1\n"}),
    Case("neo4j-impossible-date", 65, "2025-02-30 is not a calendar date", {"2025-02-30-001-b.cypher": "RETURN 1;"}),
    Case("neo4j-no-sequence", 65, "has no sequence number NNN", {"2025-01-02-b.cypher": "RETURN 1;"}),
    Case("cypher-unterminated-string", 65, "2025-01-02-001-b.cypher:2: unterminated string",
         {"2025-01-02-001-b.cypher": "RETURN 1;\nCREATE (:N {a: 'open});"}),
    Case("cypher-shell-param", 65, "cypher-shell command :param", {"2025-01-02-001-b.cypher": ":param x => 1\nRETURN $x;"}),
    Case("cypher-syntax-found-by-explain", 65, "2025-01-02-001-b.cypher:2: Neo.ClientError.Statement.SyntaxError",
         {"2025-01-02-001-b.cypher": "MATCH (n)\nSET n.x = ;"}),
    Case("cypher-unknown-procedure", 65, "Neo.ClientError.Procedure.ProcedureNotFound",
         {"2025-01-02-001-b.cypher": "CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DELETE n', {});"}),
    Case("redis-unbalanced-quote", 65, "V002-b.redis:1", {"V002-b.redis": 'SET a "open\n'}),
    Case("redis-refused-command", 65, "V002-b.redis:1: FLUSHALL", {"V002-b.redis": "FLUSHALL\n"}),
    Case("redis-unknown-command", 65, "V002-b.redis:2: NOSUCHCMD", {"V002-b.redis": "SET a 1\nNOSUCHCMD a\n"}),
    Case("redis-wrong-arity", 65, "V002-b.redis:1: SET", {"V002-b.redis": "SET onlykey\n"}),
    Case("file-in-the-wrong-folder", 65, "is a redis file in the postgres/ folder",
         {"postgres/V002-b.redis": "SET a 1\n"}),
    # Environment: 78 at once, naming the variable, never a secret.
    Case("postgres-url-scheme", 78, "POSTGRES_URL must start with postgresql://", env={"POSTGRES_URL": "mysql://h/db"}),
    Case("postgres-url-port", 78, "POSTGRES_URL: the port must be a number from 1 to 65535",
         env={"POSTGRES_URL": "postgresql://h:99999/db"}),
    Case("postgres-url-parameter", 78, 'invalid URI query parameter: "colour"',
         env={"POSTGRES_URL": "postgresql://h/db?colour=blue"}),
    Case("postgres-url-sslmode", 78, "sslmode must be one of", env={"POSTGRES_URL": "postgresql://h/db?sslmode=yes"}),
    Case("postgres-url-no-host", 78, "POSTGRES_URL names no host", env={"POSTGRES_URL": "postgresql:///db"}),
    Case("postgres-port", 78, "POSTGRES_PORT: the port must be a number",
         env={"POSTGRES_URL": "", "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "five"}),
    Case("postgres-password-twice", 78, "both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are set",
         env={"POSTGRES_PASSWORD": "x", "POSTGRES_PASSWORD_FILE": "/etc/hostname"}),
    Case("postgres-schema", 78, "DBINIT_POSTGRES_SCHEMA must be a plain identifier",
         env={"DBINIT_POSTGRES_SCHEMA": "ops; DROP"}),
    Case("neo4j-http", 78, "NEO4J_URI must start with bolt://", env={"NEO4J_URI": "http://localhost:7474"}),
    Case("neo4j-no-host", 78, "NEO4J_URI names no host", env={"NEO4J_URI": "bolt://:7687"}),
    Case("neo4j-database-name", 78, "NEO4J_DATABASE must be a Neo4j database name", env={"NEO4J_DATABASE": "my_db"}),
    Case("neo4j-missing-database", 78, "check NEO4J_DATABASE", env={"NEO4J_DATABASE": "nosuchdb"}),
    Case("neo4j-auth-form", 78, "NEO4J_AUTH must be user/password or none", env={"NEO4J_AUTH": "just-a-word"}),
    Case("redis-scheme", 78, "REDIS_URL must start with redis://", env={"REDIS_URL": "tcp://127.0.0.1:6379"}),
    Case("redis-database-number", 78, "REDIS_URL: the database number must be a whole number",
         env={"REDIS_URL": "redis://127.0.0.1:6379/zero"}),
    Case("redis-port", 78, "REDIS_URL: the port must be a number", env={"REDIS_URL": "redis://127.0.0.1:0/0"}),
    Case("redis-password-file-missing", 78, "REDIS_PASSWORD_FILE names a file that cannot be read",
         env={"REDIS_PASSWORD_FILE": "/nonexistent/secret"}),
    Case("wait-timeout", 78, "DBINIT_WAIT_TIMEOUT must be a number of seconds", env={"DBINIT_WAIT_TIMEOUT": "soon"}),
    Case("lock-timeout-negative", 78, "DBINIT_LOCK_TIMEOUT must be a non-negative number",
         env={"DBINIT_LOCK_TIMEOUT": "-1"}),
    Case("lock-lease-zero", 78, "DBINIT_LOCK_LEASE must be a positive number", env={"DBINIT_LOCK_LEASE": "0"}),
    Case("index-timeout-infinite", 78, "DBINIT_INDEX_TIMEOUT must be a non-negative number",
         env={"DBINIT_INDEX_TIMEOUT": "inf"}),
    Case("pg-lock-timeout-zero", 78, "DBINIT_PG_LOCK_TIMEOUT must be a positive number",
         env={"DBINIT_PG_LOCK_TIMEOUT": "0"}),
    Case("pg-lock-retries", 78, "DBINIT_PG_LOCK_RETRIES must be a whole number", env={"DBINIT_PG_LOCK_RETRIES": "many"}),
    Case("pg-pooler", 78, "DBINIT_PG_POOLER must be none, session or transaction", env={"DBINIT_PG_POOLER": "pgbouncer"}),
    Case("progress-interval", 78, "DBINIT_PROGRESS_INTERVAL must be a positive number",
         env={"DBINIT_PROGRESS_INTERVAL": "0"}),
    Case("lint-mode", 78, "DBINIT_LINT must be off, warn or error", env={"DBINIT_LINT": "strict"}),
    Case("drift-mode", 78, "DBINIT_DRIFT must be off, warn or fail", env={"DBINIT_DRIFT": "strict"}),
    Case("schema-on-migrate-flag", 78, "DBINIT_SCHEMA_ON_MIGRATE must be true or false",
         env={"DBINIT_SCHEMA_ON_MIGRATE": "sometimes"}),
    Case("schema-privileges-flag", 78, "DBINIT_POSTGRES_SCHEMA_PRIVILEGES must be true or false",
         env={"DBINIT_POSTGRES_SCHEMA_PRIVILEGES": "owners"}),
    Case("lint-error", 65, "V002-b-up.sql:1: changing-column-type",
         {"V002-b-up.sql": "ALTER TABLE marker ALTER COLUMN id TYPE bigint;"}, env={"DBINIT_LINT": "error"}),
    Case("log-format", 78, "DBINIT_LOG_FORMAT must be text or json", env={"DBINIT_LOG_FORMAT": "xml"}),
    Case("out-of-order-flag", 78, "DBINIT_OUT_OF_ORDER must be true or false", env={"DBINIT_OUT_OF_ORDER": "maybe"}),
    Case("unconfigured-database", 78, "redis is not configured; set REDIS_URL", env={"REDIS_URL": ""}),
    Case("unconfigured-postgres", 78, "postgres is not configured; set POSTGRES_URL, DATABASE_URL, POSTGRES_HOST, "
         "PGHOST or PGSERVICE", env={"POSTGRES_URL": ""}),
    Case("unconfigured-neo4j", 78, "neo4j is not configured; set NEO4J_URI", env={"NEO4J_URI": ""}),
    Case("wrong-password", 77, "authentication refused", env={"NEO4J_AUTH": "neo4j/not-the-password"}),
    # Command line: 64.
    Case("unknown-command", 64, "unknown command 'migrat'", args=("migrat",)),
    Case("unknown-flag", 64, "unrecognized arguments: --frobnicate", args=("migrate", "--frobnicate")),
    Case("check-unknown-flag", 64, "unrecognized arguments: --dry-run", args=("check", "--dry-run")),
    Case("down-without-to", 64, "the following arguments are required: --to", args=("down",)),
    Case("new-unknown-database", 64, "invalid choice: 'mysql'", args=("new", "mysql", "x")),
    Case("baseline-bad-version", 64, "'latest' is not a version", args=("baseline", "postgres", "--to", "latest")),
    Case("wait-timeout-flag", 64, "--wait-timeout must be a number of seconds", args=("migrate", "--wait-timeout", "x")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_input_gives_its_exit_code_and_message_and_changes_nothing(case, migrations, pg, redis_db, neo4j_db):
    for name, text in {**GOOD, **case.files}.items():
        migrations.write(name, text)
    env = {"POSTGRES_URL": pg.url, "REDIS_URL": redis_db.url(), "NEO4J_URI": neo4j_db.uri(),
           "NEO4J_AUTH": f"neo4j/{neo4j_db.password}", "DBINIT_WAIT_TIMEOUT": "20", **case.env}
    result = run_dbinit(*case.args, "--migrations", str(migrations.path), **{k: v for k, v in env.items() if v})
    assert result.returncode == case.code, result.stderr
    assert case.message in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert pg.sql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'") == "0"
    assert pg.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'dbinit'") == "0"
    assert redis_db.client().dbsize() == 0
    with neo4j_db.driver() as d:
        assert d.execute_query("MATCH (n) RETURN count(n)").records[0][0] == 0


def test_there_are_at_least_forty_bad_inputs():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)
