"""The databases are registered once, and everything that lists them reads the registry: the run
report's schema, the command line's flags and choices, the API's keywords. No servers."""
import json
import re
from pathlib import Path

import pytest

from dbinit import api, cli, registry
from dbinit.naming import Numbered

ROOT = Path(__file__).resolve().parent.parent


def test_the_registry_lists_the_databases_in_the_order_of_applying():
    assert registry.names() == ["postgres", "neo4j", "redis"]


def test_the_report_schema_lists_exactly_the_registered_databases():
    schema = json.loads((ROOT / "dbinit" / "report.schema.json").read_text())
    assert schema["properties"]["databases"]["propertyNames"]["enum"] == registry.names()


def test_a_second_database_of_a_name_or_an_extension_is_refused():
    postgres = registry.get("postgres")
    twin = registry.Database(**{**postgres.__dict__, "name": "other"})
    with pytest.raises(ValueError, match="registered already"):
        registry.register(postgres)
    with pytest.raises(ValueError, match="'postgres' .*registered already"):
        registry.register(twin)
    assert registry.names() == ["postgres", "neo4j", "redis"]


def test_every_database_has_its_flag_its_choice_and_its_api_keywords():
    """What the reference promises users, written out: the command line and the API are made from
    the registry, so comparing them with the registry could not fail."""
    parser = cli._parser()
    usage = parser._subparsers._group_actions[0].choices["migrate"].format_help()
    for flag in ("--postgres-url", "--neo4j-uri", "--redis-url"):
        assert flag in usage
    assert {"postgres_url", "neo4j_uri", "neo4j_auth", "redis_url"} <= set(api._keywords())
    new = parser._subparsers._group_actions[0].choices["new"]
    assert [a.choices for a in new._actions if a.dest == "database"] == [["postgres", "neo4j", "redis"]]


def test_an_unknown_keyword_is_refused_as_python_refuses_one():
    with pytest.raises(TypeError, match="unexpected keyword argument 'mysql_url'"):
        api.status("migrations", mysql_url="mysql://x")


def test_each_database_names_its_files_by_its_own_scheme():
    by_extension = {d.extension: d.name for d in registry.databases()}
    assert by_extension == {".sql": "postgres", ".cypher": "neo4j", ".redis": "redis"}
    assert [d.name for d in registry.databases() if d.naming.down_suffix] == ["postgres", "neo4j"]  # Redis: forward
    assert isinstance(registry.get("redis").naming, Numbered)
    assert re.fullmatch(registry.get("neo4j").naming.pattern, "2025-01-15-001-x.cypher")
