"""One adapter per database for the shared conformance suite: how to write a migration whose
effect can be counted, one that fails partway, and how to read back effects and history."""
from __future__ import annotations

import json


class PostgresTarget:
    db = "postgres"
    unparsable = "CREATE TABLE broken (;\n"  # found offline, at line 1

    def __init__(self, pg):
        self.pg = pg
        self.env = {"POSTGRES_URL": pg.url}
        self.wrong_password_env = {"POSTGRES_URL": pg.server.url(password="not-the-password", dbname=pg.dbname)}

    def name(self, n: int, desc: str = "step") -> str:
        return f"V{n:03d}-{desc}-up.sql"

    def counting(self, n: int) -> str:
        return f"CREATE TABLE IF NOT EXISTS runs (n int);\nINSERT INTO runs VALUES ({n});\n"

    def failing_third_statement(self, n: int) -> tuple[str, int]:
        """(text, line of the failing statement): two statements that would leave traces, then an error."""
        return (f"CREATE TABLE partial{n} (id int);\nINSERT INTO partial{n} VALUES (1);\n\n"
                f"INSERT INTO no_such_table VALUES (1);\n"), 4

    def count(self, n: int) -> int:
        if self.pg.sql("SELECT to_regclass('runs') IS NULL") == "t":
            return 0
        return int(self.pg.sql(f"SELECT count(*) FROM runs WHERE n = {n}"))

    def traces_of_failure(self, n: int) -> bool:
        return self.pg.sql(f"SELECT to_regclass('partial{n}') IS NOT NULL") == "t"

    repeatable_name = "R-current.sql"

    def repeatable(self, n: int) -> str:
        """A view and a function kept current by a repeatable file, which also counts its runs."""
        return (self.counting(n) + f"CREATE OR REPLACE VIEW current_version AS SELECT {n} AS n;\n"
                f"CREATE OR REPLACE FUNCTION current_n() RETURNS int LANGUAGE sql AS $$ SELECT {n} $$;\n")

    def failing_repeatable(self) -> str:
        return "CREATE OR REPLACE FUNCTION current_n() RETURNS int LANGUAGE sql AS $$ SELECT 99 $$;\nSELECT 1 / 0;\n"

    def current(self) -> int:
        view, function = self.pg.sql("SELECT n, current_n() FROM current_version").split("|")
        assert view == function
        return int(view)

    def by_hand(self, statement: str) -> None:
        """What a person does with the database's own client, outside dbinit."""
        self.pg.sql(statement)

    def history(self) -> list[str]:
        if self.pg.sql("SELECT to_regclass('dbinit.dbinit_schema_history') IS NULL") == "t":
            return []
        return self.pg.sql("SELECT version FROM dbinit.dbinit_schema_history ORDER BY version").split()


class Neo4jTarget:
    db = "neo4j"
    unparsable = "CREATE (:Broken {name: 'unterminated});\n"

    def __init__(self, server):
        self.server = server
        self.env = {"NEO4J_URI": server.uri(), "NEO4J_AUTH": f"neo4j/{server.password}"}
        self.wrong_password_env = {"NEO4J_URI": server.uri(), "NEO4J_AUTH": "neo4j/not-the-password"}

    def name(self, n: int, desc: str = "step") -> str:
        return f"2025-01-01-{n:03d}-{desc}.cypher"

    def counting(self, n: int) -> str:
        return f"CREATE (:Run {{n: {n}}});\n"

    def failing_third_statement(self, n: int) -> tuple[str, int]:
        return (f"CREATE (:Partial {{n: {n}}});\nMERGE (:Partial {{n: {n}, second: true}});\n\n"
                f"MATCH (p:Partial) RETURN p.n / 0;\n"), 4

    def _scalar(self, query: str, **params):
        with self.server.driver() as d:
            return d.execute_query(query, params).records[0][0]

    def count(self, n: int) -> int:
        return self._scalar("MATCH (r:Run {n: $n}) RETURN count(r)", n=n)

    def traces_of_failure(self, n: int) -> bool:
        return self._scalar("MATCH (p:Partial {n: $n}) RETURN count(p)", n=n) > 0

    repeatable_name = "R-current.cypher"

    def repeatable(self, n: int) -> str:
        """Reference data kept with MERGE by a repeatable file, which also counts its runs."""
        return self.counting(n) + f"MERGE (c:Config {{key: 'layout'}}) SET c.n = {n};\n"

    def failing_repeatable(self) -> str:
        return "MERGE (c:Config {key: 'layout'}) SET c.n = 99;\nUNWIND [0] AS z RETURN 1 / z;\n"

    def current(self) -> int:
        return self._scalar("MATCH (c:Config {key: 'layout'}) RETURN c.n")

    def by_hand(self, statement: str) -> None:
        with self.server.driver() as d:
            d.execute_query(statement)

    def history(self) -> list[str]:
        with self.server.driver() as d:
            return sorted(r[0] for r in d.execute_query("MATCH (m:__DbinitMigration) RETURN m.version").records)


class RedisTarget:
    db = "redis"
    unparsable = 'SET broken "unterminated\n'

    def __init__(self, server):
        self.server = server
        self.env = {"REDIS_URL": server.url()}
        self.wrong_password_env = {"REDIS_URL": server.url(password="not-the-password")}

    def name(self, n: int, desc: str = "step") -> str:
        return f"V{n:03d}-{desc}.redis"

    def counting(self, n: int) -> str:
        return f"INCR runs:{n}\n"

    def failing_third_statement(self, n: int) -> tuple[str, int]:
        return (f"SET partial:{n} 1\nSADD partial-set:{n} a\n# a string cannot take a hash field\n"
                f"HSET partial:{n} f v\n"), 4

    def count(self, n: int) -> int:
        return int(self.server.client().get(f"runs:{n}") or 0)

    def traces_of_failure(self, n: int) -> bool:
        c = self.server.client()
        return bool(c.exists(f"partial:{n}") or c.exists(f"partial-set:{n}"))

    repeatable_name = "R-current.redis"

    def repeatable(self, n: int) -> str:
        """A Redis Functions library kept current by a repeatable file, which also counts its runs."""
        return self.counting(n) + (f'FUNCTION LOAD REPLACE "#!lua name=dbinit_test\\n'
                                   f'redis.register_function(\'current_n\', function() return {n} end)"\n')

    def failing_repeatable(self) -> str:
        return ('FUNCTION LOAD REPLACE "#!lua name=dbinit_test\\nredis.register_function(\'current_n\', '
                'function() return 99 end)"\nSET repeatable:s 1\nHSET repeatable:s f v\n')

    def current(self) -> int:
        return int(self.server.client().fcall("current_n", 0))

    def by_hand(self, statement: str) -> None:
        from dbinit.databases.redis.commands import split_args

        self.server.client().execute_command(*split_args(statement))

    def history(self) -> list[str]:
        return sorted(self.server.client().hkeys("dbinit:migrations"))

    def entry(self, version: str) -> dict:
        return json.loads(self.server.client().hget("dbinit:migrations", version))
