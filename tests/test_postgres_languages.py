"""PostgreSQL servers that do not speak English (lc_messages in the team's language): a refused
connection is judged by the SQLSTATE the server sends with it, never by its words. Each language
is a real server; setup.sh makes the locales."""
import time

import pytest

from conftest import run_dbinit
from failure_modes import check
from servers import PostgresServer

# Latin, Cyrillic and CJK scripts, each with PostgreSQL's own translation on the machine.
LANGUAGES = ["de_DE", "fr_FR", "ja_JP", "ru_RU", "zh_CN"]


@pytest.fixture(scope="module", params=LANGUAGES)
def speaking(request):
    server = PostgresServer(options={"lc_messages": f"{request.param}.UTF-8"}).start()
    yield server
    server.remove()


def wait(url: str):
    started = time.monotonic()
    result = run_dbinit("wait", POSTGRES_URL=url, DBINIT_WAIT_TIMEOUT="60")  # "at once" is far below it
    return result, time.monotonic() - started


def test_a_wrong_password_is_77_at_once_whatever_the_language(speaking):
    result, took = wait(speaking.url(password="not-the-password"))
    check(result, "a server that speaks another language", "postgres")
    assert "SQLSTATE 28P01" in result.stderr and took < 20
    assert "password authentication failed" not in result.stderr  # the server did speak its own language


def test_a_database_that_does_not_exist_is_78_at_once_whatever_the_language(speaking):
    result, took = wait(speaking.url(dbname="no_such_database"))
    assert result.returncode == 78, result.stderr
    assert "SQLSTATE 3D000" in result.stderr and "no_such_database" in result.stderr and took < 20
    assert "does not exist" not in result.stderr


def test_a_user_that_does_not_exist_is_77_at_once_whatever_the_language(speaking):
    url = speaking.url().replace("postgres:", "nobody_here:", 1)
    result, took = wait(url)
    assert result.returncode == 77, result.stderr
    assert "SQLSTATE 28P01" in result.stderr and took < 20


def test_the_right_settings_connect_whatever_the_language(speaking):
    result, _ = wait(speaking.url())
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("method", ["md5", "password"])
def test_older_password_methods_are_answered_too(method):
    """The probe answers MD5 and cleartext password requests as libpq does (a wrong answer would
    turn a missing database into a refused password)."""
    server = PostgresServer(options={"lc_messages": "de_DE.UTF-8", "password_encryption": "md5"}).start()
    try:
        server.psql(f"ALTER USER postgres PASSWORD '{server.password}'")
        (server.data / "pg_hba.conf").write_text(f"local all all trust\nhost all all 127.0.0.1/32 {method}\n")
        server.psql("SELECT pg_reload_conf()")
        missing, _ = wait(server.url(dbname="no_such_database"))
        assert missing.returncode == 78 and "SQLSTATE 3D000" in missing.stderr, missing.stderr
        refused, _ = wait(server.url(password="not-the-password"))
        assert refused.returncode == 77 and "SQLSTATE 28P01" in refused.stderr, refused.stderr
    finally:
        server.remove()
