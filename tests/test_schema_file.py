"""The schema file of each database is complete: written from one database, loaded into an empty
one, it gives back the same schema and the same file (PostgreSQL with psql -1 -f; the Neo4j and
Redis files as dbinit migrations), on every migration set the suite has."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, run_dbinit, unique
from test_postgres_inputs import SOURCE_SCHEMA, pg_dump

SETS = Path(__file__).parent / "schemas"


def schema(env: dict, directory: Path, *args: str) -> str:
    """`dbinit schema` into `directory`; the file it wrote."""
    result = run_dbinit("schema", "--dir", str(directory), *args, DBINIT_ALLOW_EMPTY="true", **env)
    assert result.returncode == 0, result.stderr
    written = result.stdout.split()
    assert len(written) == 1, result.stdout
    assert "Traceback" not in result.stderr
    return Path(written[0]).read_text(encoding="utf-8")


def migrate(env: dict, migrations: Path, init: Path | None = None) -> None:
    extra = {"DBINIT_INIT_DIR": str(init), "DBINIT_LINT": "off"} if init else {"DBINIT_LINT": "off"}
    result = run_dbinit("migrate", "--migrations", str(migrations), **env, **extra)
    assert result.returncode == 0, result.stderr


def psql_file(server, dbname: str, path: Path) -> None:
    subprocess.run([str(server.bindir / "psql"), "-h", str(server.sockets), "-p", str(server.port), "-U", "postgres",
                    "-d", dbname, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(path)],
                   check=True, capture_output=True, text=True)


def _set(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    for file, text in files.items():
        (directory / file).write_text(text, encoding="utf-8")
    return directory


def _repository_set(tmp_path: Path) -> tuple[Path, Path | None]:
    """The repository's own examples, the PostgreSQL part, with the baseline script."""
    directory = _set(tmp_path, "repo", {p.name: p.read_text() for p in (ROOT / "migrations").glob("*.sql")})
    return directory, _set(tmp_path, "init", {"postgres-init.sql": (ROOT / "init" / "postgres-init.sql").read_text()})


def _golang_migrate_set(tmp_path: Path, name: str) -> tuple[Path, None]:
    """A real project's set in golang-migrate's names (NNNNN_description.up.sql), named as dbinit's."""
    files = {}
    for path in (ROOT / "tests" / "realsets" / name).glob("*.sql"):
        number, rest = path.name.split("_", 1)
        description, direction, _ = rest.rsplit(".", 2)
        files[f"V{number}-{description.replace('_', '-')}-{direction}.sql"] = path.read_text()
    return _set(tmp_path, name, files), None


# Each set: a migrations directory (and an init/ directory) made in tmp_path.
POSTGRES_SETS = {
    "every-kind": lambda tmp, pg: (_set(tmp, "every", {"V001-every-kind-up.sql": (SETS / "every-kind.sql").read_text()}),
                                   None),
    "pg_dump-baseline-inputs": lambda tmp, pg: (_set(tmp, "inputs", {"V001-source-up.sql": SOURCE_SCHEMA}), None),
    "repository-examples": lambda tmp, pg: _repository_set(tmp),
    "xmtpd (a real project)": lambda tmp, pg: _golang_migrate_set(tmp, "xmtpd"),
}


@pytest.mark.parametrize("name", POSTGRES_SETS)
def test_the_postgres_file_loads_into_an_empty_database_and_gives_back_the_same_file(pg, tmp_path, name):
    migrations, init = POSTGRES_SETS[name](tmp_path, pg)
    migrate({"POSTGRES_URL": pg.url}, migrations, init)
    written = schema({"POSTGRES_URL": pg.url}, tmp_path / "first")
    assert schema({"POSTGRES_URL": pg.url}, tmp_path / "again") == written  # deterministic
    assert "dbinit" not in written.split("\n", 3)[3]  # none of dbinit's own objects, past the heading

    name = unique("loaded")
    pg.server.psql(f"CREATE DATABASE {name}")
    try:
        psql_file(pg.server, name, tmp_path / "first" / "postgres-schema.sql")
        loaded = schema({"POSTGRES_URL": pg.server.url(dbname=name)}, tmp_path / "loaded")
        # pg_dump, which knows every attribute, finds the two schemas the same: nothing the file
        # left out went missing on the way (the file alone could not show that).
        assert dumped(pg.server, name) == dumped(pg.server, pg.dbname)
    finally:
        pg.server.psql(f"DROP DATABASE {name} WITH (FORCE)")
    assert loaded == written


def dumped(server, dbname: str) -> str:
    """pg_dump's schema of a database, without dbinit's own schema and pg_dump's random keys."""
    return "\n".join(line for line in pg_dump(server, dbname, "--schema-only", "--exclude-schema=dbinit").splitlines()
                     if not line.startswith(("\\restrict", "\\unrestrict")))


def test_a_pg_dump_baseline_of_a_schema_gives_the_file_the_schema_itself_gives(pg, tmp_path):
    """pg_dump's own output applied as a baseline script (the way users adopt a database) describes
    as the schema it was dumped from: the description agrees with pg_dump on every kind."""
    name = unique("dumped")
    pg.server.psql(f"CREATE DATABASE {name}")
    try:
        pg.server.psql((SETS / "every-kind.sql").read_text(), dbname=name)
        dump = pg_dump(pg.server, name, "--schema-only")
        source = schema({"POSTGRES_URL": pg.server.url(dbname=name)}, tmp_path / "source")
    finally:
        pg.server.psql(f"DROP DATABASE {name} WITH (FORCE)")
    init = _set(tmp_path, "init", {"postgres-init.sql": "\n".join(line for line in dump.splitlines()
                                                                   if not line.startswith(("\\restrict", "\\unrestrict")))})
    migrations = _set(tmp_path, "migrations", {"V001-later-up.sql": "-- nothing yet\n"})
    migrate({"POSTGRES_URL": pg.url}, migrations, init)
    assert schema({"POSTGRES_URL": pg.url}, tmp_path / "restored") == source


def test_the_file_is_sorted_by_kind_and_name_and_has_no_time_host_or_version(pg, tmp_path):
    migrations = _set(tmp_path, "m", {"V001-every-kind-up.sql": (SETS / "every-kind.sql").read_text()})
    migrate({"POSTGRES_URL": pg.url}, migrations)
    text = schema({"POSTGRES_URL": pg.url}, tmp_path / "s")
    assert text.index("CREATE SCHEMA IF NOT EXISTS billing") < text.index("CREATE TYPE public.mood") \
        < text.index("CREATE TABLE public.customers") < text.index("ALTER TABLE public.customers ADD CONSTRAINT") \
        < text.index("CREATE INDEX customers_name_trgm") < text.index("COMMENT ON TABLE public.customers")
    # A view after the view it reads, whatever their names say.
    assert text.index("CREATE VIEW public.customer_totals") < text.index("CREATE VIEW public.big_spenders")
    for leak in ("2026", "127.0.0.1", pg.dbname, "PostgreSQL 1", "\\restrict"):
        assert leak not in text


def test_owners_and_grants_only_when_asked_for(pg, tmp_path):
    migrations = _set(tmp_path, "m", {"V001-grants-up.sql": (
        "CREATE TABLE t (id int);\nDO $$ BEGIN CREATE ROLE schema_file_reader; EXCEPTION WHEN duplicate_object THEN "
        "NULL; END $$;\nGRANT SELECT ON t TO schema_file_reader;\n"
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO schema_file_reader;\n")})
    migrate({"POSTGRES_URL": pg.url}, migrations)
    plain = schema({"POSTGRES_URL": pg.url}, tmp_path / "plain")
    assert "GRANT" not in plain and "OWNER" not in plain
    full = schema({"POSTGRES_URL": pg.url, "DBINIT_POSTGRES_SCHEMA_PRIVILEGES": "true"}, tmp_path / "full")
    assert "ALTER TABLE public.t OWNER TO postgres;" in full
    assert "GRANT SELECT ON TABLE public.t TO schema_file_reader;" in full
    assert ("ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO "
            "schema_file_reader;") in full


def test_what_the_catalog_cannot_say_enough_about_is_named(pg, tmp_path):
    migrations = _set(tmp_path, "m", {"V001-rule-up.sql": (
        "CREATE TABLE t (id int);\nCREATE RULE no_delete AS ON DELETE TO t DO INSTEAD NOTHING;\n"
        "CREATE COLLATION german (provider = icu, locale = 'de');\n")})
    migrate({"POSTGRES_URL": pg.url}, migrations)
    text = schema({"POSTGRES_URL": pg.url}, tmp_path / "s")
    assert "-- not described by dbinit: rule no_delete on public.t" in text
    assert "-- not described by dbinit: collation public.german" in text


def test_an_invalid_index_is_named(pg, tmp_path):
    migrations = _set(tmp_path, "m", {"V001-t-up.sql": "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1), (1);\n"})
    migrate({"POSTGRES_URL": pg.url}, migrations)
    with pytest.raises(subprocess.CalledProcessError):  # a duplicate: the concurrent build fails, the index stays
        pg.sql("CREATE UNIQUE INDEX CONCURRENTLY t_id ON t (id)")
    text = schema({"POSTGRES_URL": pg.url}, tmp_path / "s")
    assert "-- INVALID: a CREATE INDEX CONCURRENTLY failed here" in text
    assert "CREATE UNIQUE INDEX t_id ON public.t USING btree (id);" in text


def test_the_neo4j_file_recreates_the_constraints_and_indexes_as_a_dbinit_migration(neo4j_db, tmp_path):
    env = {"NEO4J_URI": neo4j_db.uri(), "NEO4J_AUTH": f"neo4j/{neo4j_db.password}"}
    migrate(env, _set(tmp_path, "m", {"2025-01-01-001-every-kind.cypher": (SETS / "every-kind.cypher").read_text()}))
    written = schema(env, tmp_path / "first")
    body = written.split("\n\n", 1)[1]  # past the heading
    assert "dbinit_migration_version" not in body and "LOOKUP" not in body and "data is not schema" not in body
    assert written.index("CONSTRAINT `person_id`") < written.index("INDEX `movie_embedding`")  # constraints first
    neo4j_db.reset()
    loaded_set = _set(tmp_path, "loaded", {})
    shutil.copy(tmp_path / "first" / "neo4j-schema.cypher", loaded_set / "2025-01-01-001-schema.cypher")
    migrate(env, loaded_set)
    assert schema(env, tmp_path / "again") == written


def test_the_redis_file_is_a_dbinit_migration_that_loads_the_same_libraries(redis_db, tmp_path):
    env = {"REDIS_URL": redis_db.url()}
    migrate(env, _set(tmp_path, "m", {"V001-every-kind.redis": (SETS / "every-kind.redis").read_text()}))
    written = schema(env, tmp_path / "first")
    assert written.index("name=counters") < written.index("name=greetings") and "not-schema" not in written
    redis_db.client().flushall()
    loaded_set = _set(tmp_path, "loaded", {})
    shutil.copy(tmp_path / "first" / "redis-schema.redis", loaded_set / "V001-schema.redis")
    migrate(env, loaded_set)
    assert schema(env, tmp_path / "again") == written
    assert redis_db.client().fcall("hi", 0, "x") == 'hi "x"\t!'


# ---------------------------------------------------------------- in CI: is the committed file current?

def test_schema_check_fails_a_committed_file_the_migrations_no_longer_produce(pg, tmp_path):
    migrations = _set(tmp_path, "migrations", {"V001-t-up.sql": "CREATE TABLE t (id int);\n"})
    env = {"POSTGRES_URL": pg.url}
    migrate(env, migrations)
    assert run_dbinit("schema", "--migrations", str(migrations), **env).returncode == 0
    committed = tmp_path / "schema" / "postgres-schema.sql"  # beside the migrations, by default
    before = committed.read_text()
    assert run_dbinit("schema", "--check", "--migrations", str(migrations), **env).returncode == 0

    (migrations / "V002-u-up.sql").write_text("CREATE TABLE u (id int);\n")  # a pull request forgot the file
    migrate(env, migrations)
    result = run_dbinit("schema", "--check", "--migrations", str(migrations), **env)
    assert result.returncode == 65, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"{committed}:" in last and "is not what the migrations produce" in last
    assert "+CREATE TABLE public.u (" in last
    assert committed.read_text() == before  # --check writes nothing


def test_schema_check_names_a_missing_file(pg, tmp_path):
    migrations = _set(tmp_path, "migrations", {"V001-t-up.sql": "CREATE TABLE t (id int);\n"})
    result = run_dbinit("schema", "--check", "--dir", str(tmp_path / "nowhere"), "--migrations", str(migrations),
                        POSTGRES_URL=pg.url)
    assert result.returncode == 65 and "postgres-schema.sql: is missing; write it with dbinit schema" in result.stderr


def test_migrate_writes_the_schema_files_only_when_asked(pg, tmp_path):
    migrations = _set(tmp_path, "migrations", {"V001-t-up.sql": "CREATE TABLE t (id int);\n"})
    migrate({"POSTGRES_URL": pg.url}, migrations)
    assert not (tmp_path / "schema").exists()  # never by default: read-only root filesystems
    (migrations / "V002-u-up.sql").write_text("CREATE TABLE u (id int);\n")
    migrate({"POSTGRES_URL": pg.url, "DBINIT_SCHEMA_ON_MIGRATE": "true"}, migrations)
    assert "CREATE TABLE public.u (" in (tmp_path / "schema" / "postgres-schema.sql").read_text()


def test_the_api_checks_the_committed_files_as_a_test_would(pg, tmp_path):
    import dbinit

    migrations = _set(tmp_path, "migrations", {"V001-t-up.sql": "CREATE TABLE t (id int);\n"})
    dbinit.migrate(migrations, postgres_url=pg.url)
    written = dbinit.schema(migrations, postgres_url=pg.url)
    assert written == [tmp_path / "schema" / "postgres-schema.sql"]
    assert dbinit.schema(migrations, check=True, postgres_url=pg.url) == written
    pg.sql("CREATE TABLE by_hand (id int)")
    with pytest.raises(dbinit.InvalidMigrations, match="is not what the migrations produce"):
        dbinit.schema(migrations, check=True, postgres_url=pg.url)
