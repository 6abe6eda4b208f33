"""The precheck's local recogniser of index and constraint commands never accepts what the server
refuses: every command of a broad table is given to both."""
import pytest
from neo4j.exceptions import ClientError

from dbinit.databases.neo4j.cypher import split
from dbinit.databases.neo4j.schema_commands import certainly_valid

# Recognised: the server must plan and run each (in this order: the drops need the creates).
RECOGNISED = [
    "CREATE INDEX FOR (n:Plain) ON (n.p)",
    "CREATE INDEX named IF NOT EXISTS FOR (n:Person) ON (n.name)",
    "create index lower_case if not exists for (n:Person) on (n.email)",
    "CREATE RANGE INDEX ranged FOR (n:Person) ON (n.age, n.city)",
    "CREATE TEXT INDEX texty IF NOT EXISTS FOR (n:Person) ON (n.bio)",
    "CREATE POINT INDEX pointy FOR (n:Place) ON (n.location)",
    "CREATE INDEX rel_since IF NOT EXISTS FOR ()-[r:KNOWS]-() ON (r.since)",
    "CREATE INDEX rel_right FOR ()-[r:LIKES]->() ON (r.weight, r.at)",
    "CREATE TEXT INDEX rel_left FOR ()<-[r:WROTE]-() ON (r.title)",
    "CREATE INDEX `odd name, with ``ticks``` FOR (`a var`:`Odd Label`) ON (`a var`.`odd prop`)",
    "CREATE INDEX\n  spread_out\n  IF NOT EXISTS\n  FOR (n:Spread)\n  ON (n.p)",
    "CREATE INDEX `for` FOR (n:`Match`) ON (n.`where`)",
    "CREATE CONSTRAINT FOR (n:Account) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT account_email IF NOT EXISTS FOR (a:Account) REQUIRE a.email IS UNIQUE",
    "CREATE CONSTRAINT pair IF NOT EXISTS FOR (a:Account) REQUIRE (a.tenant, a.login) IS UNIQUE",
    "CREATE CONSTRAINT rel_unique IF NOT EXISTS FOR ()-[r:OWNS]-() REQUIRE r.ref IS UNIQUE",
    "DROP INDEX named",
    "DROP INDEX never_made IF EXISTS",
    "drop constraint account_email if exists",
    "DROP CONSTRAINT `pair`",
]
# Valid, but outside the small grammar: left to EXPLAIN.
LEFT_TO_THE_SERVER = [
    "CREATE INDEX opts IF NOT EXISTS FOR (n:Person) ON (n.x) OPTIONS {indexProvider: 'range-1.0'}",
    "CREATE FULLTEXT INDEX full FOR (n:Person) ON EACH [n.bio]",
    "CREATE LOOKUP INDEX look IF NOT EXISTS FOR (n) ON EACH labels(n)",
    "CREATE CONSTRAINT nodeunique FOR (n:Account) REQUIRE n.code IS NODE UNIQUE",
    "CREATE INDEX Match FOR (n:Person) ON (n.z)",
    "CREATE INDEX odd1 FOR (n:Person) ON (n.a, n.a)",
    "CREATE INDEX odd2 FOR ()<-[r:T]->() ON (r.a)",
    "CREATE INDEX odd3 FOR (n:Person) ON n.name",
    "CREATE INDEX café FOR (n:Person) ON (n.v)",
    "MERGE (n:Person {id: 1})",
]
# Named by a parameter: planned when the parameter is given.
LEFT_TO_THE_SERVER.append("CREATE INDEX $name FOR (n:Person) ON (n.w)")
# The server refuses each when planning it.
REFUSED = [
    "CREATE INDEX FOR (n:Person) ON (m.name)",
    "CREATE INDEX wrong FOR (n:Person) ON (n.name",
    "CREATE INDEX wrong FOR (n:Person) ON ()",
    "CREATE INDEX wrong FOR (n:Person)",
    "CREATE INDEX wrong FOR (n:Person) ON (n.a) extra",
    "CREATE TEXT INDEX wrong FOR (n:Person) ON (n.a, n.b)",
    "CREATE POINT INDEX wrong FOR (n:Place) ON (n.a, n.b)",
    "CREATE BTREE INDEX wrong FOR (n:Person) ON (n.name)",
    "CREATE INDEX wrong ON :Person(name)",
    "CREATE INDEX wrong IF EXISTS FOR (n:Person) ON (n.name)",
    "CREATE INDEX wrong IF NOT FOR (n:Person) ON (n.name)",
    "CREATE INDEX wrong FOR (n) ON (n.name)",
    "CREATE INDEX wrong FOR ()-[r:T]-(x) ON (r.a)",
    "CREATE OR REPLACE INDEX wrong FOR (n:Person) ON (n.y)",
    "CREATE INDX wrong FOR (n:Person) ON (n.name)",
    "CREATE CONSTRAINT wrong ON (n:Person) ASSERT n.id IS UNIQUE",
    "CREATE CONSTRAINT wrong FOR (n:Person) REQUIRE m.id IS UNIQUE",
    "CREATE CONSTRAINT wrong FOR (n:Person) REQUIRE n.id UNIQUE",
    "CREATE CONSTRAINT wrong FOR (n:Person) REQUIRE n.id IS UNIQE",
    "CREATE RANGE CONSTRAINT wrong FOR (n:Person) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT wrong FOR (n:Person) REQUIRE n.id IS UNIQUE ON (n.x)",
    "DROP INDEX",
    "DROP INDEX a b",
    "DROP INDEX a IF NOT EXISTS",
    "DROP INDEX ON :Person(name)",
]


def code(text: str) -> str:
    return split(text)[0].code


def refusals(neo4j, statements: list[str]) -> dict[str, str | None]:
    """Each statement's error code when the server plans it (EXPLAIN), None when it plans it."""
    found = {}
    with neo4j.driver() as d, d.session() as s:
        for statement in statements:
            try:
                s.run("EXPLAIN " + statement).consume()
                found[statement] = None
            except ClientError as e:
                found[statement] = e.code
    return found


def refusal(neo4j, statement: str) -> str | None:
    return refusals(neo4j, [statement])[statement]


@pytest.mark.parametrize("statement", RECOGNISED)
def test_a_recognised_command_is_one_the_server_plans(statement):
    assert certainly_valid(code(statement))


@pytest.mark.parametrize("statement", LEFT_TO_THE_SERVER + REFUSED)
def test_anything_else_is_left_to_the_server(statement):
    assert not certainly_valid(code(statement))


def test_the_server_accepts_and_runs_every_recognised_command_and_refuses_every_wrong_one(neo4j_db):
    """The proof on the real server: what the recogniser accepts, Neo4j plans and runs; every wrong
    command is refused by the server's EXPLAIN (so the table's wrong commands really are wrong, and the
    recogniser's refusal of them costs nothing)."""
    for statement in RECOGNISED:
        assert refusal(neo4j_db, statement) is None, statement
        with neo4j_db.driver() as d:
            d.execute_query(statement)
    for statement in LEFT_TO_THE_SERVER[:-1]:
        assert refusal(neo4j_db, statement) is None, statement
    assert refusals(neo4j_db, REFUSED) == {s: "Neo.ClientError.Statement.SyntaxError" for s in REFUSED}


# Cypher 5's keywords (the Neo4j Cypher manual's list): as a name, label, type, property or
# variable in every recognised form, none may pass the recogniser and be refused by the server.
KEYWORDS = """ACCESS ACTIVE ADMIN ADMINISTRATOR ALIAS ALIASES ALL ALL_SHORTEST_PATHS ALTER AND ANY ARRAY AS ASC
ASCENDING ASSERT ASSIGN AT AUTH BINDINGS BOOL BOOLEAN BOOSTED BOTH BREAK BRIEF BTREE BUILT BY CALL CASCADE CASE CHANGE
CIDR COLLECT COMMAND COMMANDS COMMIT COMPOSITE CONCURRENT CONSTRAINT CONSTRAINTS CONTAINS CONTINUE COPY COUNT CREATE CSV
CURRENT DATA DATABASE DATABASES DATE DATETIME DBMS DEALLOCATE DEFAULT DEFINED DELETE DENY DESC DESCENDING DESTROY DETACH
DIFFERENT DISTINCT DRIVER DROP DRYRUN DUMP DURATION EACH EDGE ELEMENT ELEMENTS ELSE ENABLE ENCRYPTED END ENDS ERROR
EXECUTABLE EXECUTE EXIST EXISTENCE EXISTS FAIL FALSE FIELDTERMINATOR FILTER FINISH FLOAT FOR FOREACH FROM FULLTEXT
FUNCTION FUNCTIONS GRANT GRAPH GRAPHS GROUP GROUPS HEADERS HOME ID IF IMMUTABLE IMPERSONATE IN INDEX INDEXES INF
INFINITY INSERT INT INTEGER IS JOIN KEY LABEL LABELS LEADING LIMIT LIST LOAD LOCAL LOOKUP MANAGEMENT MAP MATCH MERGE
NAME NAMES NAN NEW NFC NFD NFKC NFKD NO NODE NODETACH NODES NONE NORMALIZE NORMALIZED NOT NOTHING NOWAIT NULL OF OFFSET
ON ONLY OPTION OPTIONAL OPTIONS OR ORDER OUTPUT PASSWORD PASSWORDS PATH PATHS PLAINTEXT POINT POPULATED PRIMARIES
PRIMARY PRIVILEGE PRIVILEGES PROCEDURE PROCEDURES PROPERTIES PROPERTY PROVIDER PROVIDERS RANGE READ REALLOCATE REDUCE
REL RELATIONSHIP RELATIONSHIPS REMOVE RENAME REPEATABLE REPLACE REPORT REQUIRE REQUIRED RESTRICT RETURN REVOKE ROLE
ROLES ROW ROWS SCAN SEC SECOND SECONDARIES SECONDARY SECONDS SEEK SERVER SERVERS SET SETTING SETTINGS SHARD SHARDS
SHORTEST SHORTEST_PATH SHOW SIGNED SINGLE SKIP START STARTS STATUS STOP STRING SUPPORTED SUSPENDED TARGET TERMINATE TEXT
THEN TIME TIMESTAMP TIMEZONE TO TOPOLOGY TRAILING TRANSACTION TRANSACTIONS TRAVERSE TRIM TRUE TYPE TYPED TYPES UNION
UNIQUE UNIQUENESS UNWIND URL USE USER USERS USING VALUE VARCHAR VECTOR VERTEX WAIT WHEN WHERE WITH WITHOUT WRITE XOR
YIELD ZONE ZONED""".split()
FORMS = ["CREATE INDEX {w} FOR (n:L) ON (n.p)", "CREATE INDEX {w} IF NOT EXISTS FOR (n:L) ON (n.p)",
         "CREATE INDEX x FOR ({w}:L) ON ({w}.p)", "CREATE INDEX x FOR (n:{w}) ON (n.p)", "CREATE INDEX x FOR (n:L) ON (n.{w})",
         "CREATE INDEX x FOR ()-[{w}:T]-() ON ({w}.p)", "CREATE INDEX x FOR ()-[r:{w}]-() ON (r.p)",
         "CREATE CONSTRAINT {w} FOR (n:L) REQUIRE n.p IS UNIQUE", "CREATE CONSTRAINT x FOR ({w}:L) REQUIRE {w}.p IS UNIQUE",
         "DROP INDEX {w}", "DROP CONSTRAINT {w} IF EXISTS"]


def test_no_keyword_in_any_place_of_a_recognised_command_is_one_the_server_refuses(neo4j_db):
    accepted = [form.format(w=w) for w in KEYWORDS + [w.lower() for w in KEYWORDS] for form in FORMS
                if certainly_valid(code(form.format(w=w)))]
    assert len(accepted) > 1000  # most keywords are names to Cypher 5, and the recogniser takes them
    assert {s: code for s, code in refusals(neo4j_db, accepted).items() if code is not None} == {}
