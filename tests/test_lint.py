"""The lint of blocking and breaking DDL (squawk, the `lint` extra): each chosen rule's positive and
negative, the opt-out comment, warn versus error, and what happens without squawk."""
from pathlib import Path

import pytest

from conftest import run_dbinit
from dbinit import files
from dbinit.databases.postgres import lint

TX = "-- dbinit: no-transaction\n"
CASES = [  # rule, a statement that trips it, the safe way that does not
    ("require-concurrent-index-creation", "CREATE INDEX users_email ON users (email);",
     TX + "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);"),
    ("require-concurrent-index-deletion", "DROP INDEX users_email;", TX + "DROP INDEX CONCURRENTLY IF EXISTS users_email;"),
    ("constraint-missing-not-valid", "ALTER TABLE users ADD CONSTRAINT positive CHECK (n > 0);",
     "ALTER TABLE users ADD CONSTRAINT positive CHECK (n > 0) NOT VALID;"),
    ("adding-foreign-key-constraint", "ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (org) REFERENCES orgs (id);",
     "ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (org) REFERENCES orgs (id) NOT VALID;"),
    ("disallowed-unique-constraint", "ALTER TABLE users ADD CONSTRAINT one_email UNIQUE (email);",
     "ALTER TABLE users ADD CONSTRAINT one_email UNIQUE USING INDEX users_email;"),
    ("adding-serial-primary-key-field", "ALTER TABLE users ADD PRIMARY KEY (id);",
     "ALTER TABLE users ADD CONSTRAINT users_pk PRIMARY KEY USING INDEX users_id;"),
    ("adding-not-nullable-field", "ALTER TABLE users ALTER COLUMN name SET NOT NULL;",
     "ALTER TABLE users ADD CONSTRAINT name_present CHECK (name IS NOT NULL) NOT VALID;"),
    ("adding-required-field", "ALTER TABLE users ADD COLUMN score bigint NOT NULL;",
     "ALTER TABLE users ADD COLUMN score bigint NOT NULL DEFAULT 0;"),
    ("adding-field-with-default", "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
     "ALTER TABLE users ADD COLUMN token uuid;"),
    ("changing-column-type", "ALTER TABLE users ALTER COLUMN email TYPE varchar(300);",
     "ALTER TABLE users ADD COLUMN email_long text;"),
    ("renaming-column", "ALTER TABLE users RENAME COLUMN name TO full_name;", "ALTER TABLE users ADD COLUMN full_name text;"),
    ("renaming-table", "ALTER TABLE users RENAME TO people;", "CREATE VIEW people AS SELECT * FROM users;"),
    ("ban-drop-column", "ALTER TABLE users DROP COLUMN legacy;", "COMMENT ON COLUMN users.legacy IS 'unused';"),
    ("ban-drop-table", "DROP TABLE legacy;", "COMMENT ON TABLE legacy IS 'unused';"),
]


def found(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "V001-change-up.sql"
    path.write_text(text)
    migration = files.discover(tmp_path).migrations["postgres"][0]
    return [p.message.split(":")[0] for p in lint.lint([migration])]


@pytest.mark.parametrize("rule, unsafe, safe", CASES, ids=[c[0] for c in CASES])
def test_each_chosen_rule_flags_the_unsafe_statement_and_not_the_safe_one(tmp_path, rule, unsafe, safe):
    assert rule in found(tmp_path, unsafe)
    assert rule not in found(tmp_path, safe)


def test_an_index_on_a_table_created_in_the_same_file_is_not_a_finding(tmp_path):
    assert found(tmp_path, "CREATE TABLE events (id bigint);\nCREATE INDEX events_id ON events (id);") == []


def test_style_and_timeout_rules_are_not_dbinits_business(tmp_path):
    assert found(tmp_path, "CREATE TABLE t (id int, name varchar(10), at timestamp);") == []


def test_an_allow_comment_with_a_reason_silences_one_statement_or_the_whole_file(tmp_path):
    per_statement = ("-- dbinit: allow changing-column-type: the table has 12 rows\n"
                     "ALTER TABLE users ALTER COLUMN email TYPE varchar(300);\n"
                     "ALTER TABLE users ALTER COLUMN name TYPE varchar(300);\n")
    assert found(tmp_path, per_statement) == ["changing-column-type"]  # the second statement still counts
    whole_file = "-- dbinit: allow changing-column-type, ban-drop-column: empty tables at this point\n\n" \
                 "ALTER TABLE users ALTER COLUMN email TYPE text;\nALTER TABLE users DROP COLUMN legacy;\n"
    assert found(tmp_path, whole_file) == []
    assert "an allow comment needs a reason" in found(tmp_path, "-- dbinit: allow ban-drop-table\nDROP TABLE t;")


def test_validate_warns_by_default_refuses_with_lint_error_and_says_when_squawk_is_missing(migrations):
    bad = migrations.write("V001-retype-up.sql", "ALTER TABLE users ALTER COLUMN email TYPE varchar(300);\n")
    warned = run_dbinit("validate", "--migrations", str(migrations.path))
    assert warned.returncode == 0 and f"WARN validate: {bad}:1: changing-column-type" in warned.stderr
    refused = run_dbinit("validate", "--migrations", str(migrations.path), DBINIT_LINT="error")
    assert refused.returncode == 65 and f"{bad}:1: changing-column-type" in refused.stderr
    assert "Safer: add a new column, backfill" in refused.stderr


def test_without_squawk_the_lint_is_skipped_and_validate_says_so(migrations, monkeypatch, caplog):
    from dbinit.runner import Runner
    from dbinit.settings import load

    migrations.write("V001-retype-up.sql", "ALTER TABLE users ALTER COLUMN email TYPE varchar(300);\n")
    monkeypatch.setattr(lint, "squawk", lambda: None)
    with caplog.at_level("INFO", logger="dbinit"):
        report = Runner(load({"DBINIT_LINT": "error"}, migrations=str(migrations.path))).validate()
    assert report.lint_skipped and report.warnings == []
    assert "lint of blocking DDL was skipped: squawk is not installed" in caplog.text


BREAKING = [("ban-drop-column", "ALTER TABLE users DROP COLUMN legacy;"),
            ("renaming-column", "ALTER TABLE users RENAME COLUMN legacy TO current;"),
            ("renaming-table", "ALTER TABLE users RENAME TO people;"),
            ("ban-drop-table", "DROP TABLE users;"),
            ("ban-drop-not-null", "ALTER TABLE users ALTER COLUMN legacy DROP NOT NULL;")]


@pytest.mark.parametrize("rule, statement", BREAKING, ids=[c[0] for c in BREAKING])
def test_what_breaks_the_running_version_belongs_in_a_post_deploy_file_and_is_allowed_there(tmp_path, rule, statement):
    path = tmp_path / "V001-change-up.sql"
    path.write_text(statement + "\n")
    pre = [p.message for p in lint.lint(files.discover(tmp_path).migrations["postgres"])]
    assert any(m.startswith(rule) and "move this to a post-deploy migration ('-- dbinit: post-deploy'" in m
               for m in pre), pre
    path.write_text("-- dbinit: post-deploy\n" + statement + "\n")
    assert lint.lint(files.discover(tmp_path).migrations["postgres"]) == []
