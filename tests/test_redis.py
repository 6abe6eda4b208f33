"""Redis specifics: all-or-nothing files (keys restored with their TTLs), ACL users, the database
number from the URL, the key prefix, and the leased lock."""
import signal
import time

from conftest import run_dbinit, start_dbinit


def migrate(server, migrations, *args, **env):
    return run_dbinit(*args, "--migrations", str(migrations.path), **{"REDIS_URL": server.url(), **env})


def test_a_file_failing_at_run_time_leaves_nothing_behind_and_keys_keep_their_values_and_ttls(redis_db, migrations):
    c = redis_db.client()
    c.set("config:mode", "old", px=600000)
    c.rpush("queue", "a", "b")
    migrations.write("V1-change.redis", 'SET config:mode new\nDEL queue\nSET fresh 1\nLPUSH config:mode "not a list"\n')
    result = migrate(redis_db, migrations, "migrate")
    assert result.returncode == 1
    assert "V1-change.redis:4: LPUSH failed: WRONGTYPE" in result.stderr
    assert c.get("config:mode") == "old" and 0 < c.pttl("config:mode") <= 600000
    assert c.lrange("queue", 0, -1) == ["a", "b"]
    assert not c.exists("fresh")
    assert c.hlen("dbinit:migrations") == 0


def test_an_unknown_command_fails_before_anything_runs(redis_db, migrations):
    migrations.write("V1-typo.redis", "SET a 1\nSETT b 2\n")
    result = migrate(redis_db, migrations, "migrate")
    assert result.returncode == 65 and "V1-typo.redis:2: SETT" in result.stderr
    assert not redis_db.client().exists("a")


def test_quoted_values_arrive_as_redis_cli_would_send_them(redis_db, migrations):
    migrations.write("V1-quotes.redis", 'SET greeting "hello world\\n"\nSET single \'it\\\'s\'\nHSET h "a b" "\\x41"\n')
    assert migrate(redis_db, migrations, "migrate").returncode == 0
    c = redis_db.client()
    assert c.get("greeting") == "hello world\n" and c.get("single") == "it's" and c.hget("h", "a b") == "A"


def test_the_database_number_in_the_url_is_honoured(redis_db, migrations):
    migrations.write("V1-a.redis", "SET in-db-3 yes\n")
    assert migrate(redis_db, migrations, "migrate", REDIS_URL=redis_db.url(db=3)).returncode == 0
    assert redis_db.client(db=3).get("in-db-3") == "yes"
    assert redis_db.client(db=3).hlen("dbinit:migrations") == 1
    assert not redis_db.client(db=0).exists("in-db-3", "dbinit:migrations")


def test_the_key_prefix_is_configurable_for_a_shared_redis(redis_db, migrations):
    migrations.write("V1-a.redis", "SET x 1\n")
    assert migrate(redis_db, migrations, "migrate", DBINIT_REDIS_PREFIX="app1:dbinit:").returncode == 0
    assert redis_db.client().hlen("app1:dbinit:migrations") == 1
    assert not redis_db.client().exists("dbinit:migrations")


def test_an_acl_user_authenticates_and_a_wrong_password_fails_at_once(redis_db, migrations):
    redis_db.client().execute_command("ACL", "SETUSER", "migrator", "on", ">migrator-pw-5Tz", "~*", "&*", "+@all")
    try:
        migrations.write("V1-a.redis", "SET acl-was-here 1\n")
        url = f"redis://migrator:migrator-pw-5Tz@127.0.0.1:{redis_db.port}/0"
        assert migrate(redis_db, migrations, "migrate", REDIS_URL=url).returncode == 0
        assert redis_db.client().get("acl-was-here") == "1"
        started = time.monotonic()
        wrong = migrate(redis_db, migrations, "migrate", REDIS_URL=url.replace("migrator-pw-5Tz", "wrong-pw"),
                        DBINIT_WAIT_TIMEOUT="60")
        assert wrong.returncode == 77 and time.monotonic() - started < 20  # at once, not at the deadline
        assert "wrong-pw" not in wrong.output
    finally:
        redis_db.client().execute_command("ACL", "DELUSER", "migrator")


def test_a_password_from_redis_password_fills_in_a_url_without_one(redis_db, migrations):
    migrations.write("V1-a.redis", "SET x 1\n")
    url = f"redis://127.0.0.1:{redis_db.port}/0"
    result = migrate(redis_db, migrations, "migrate", REDIS_URL=url, REDIS_PASSWORD=redis_db.password)
    assert result.returncode == 0, result.stderr


def test_a_lock_left_by_a_dead_runner_expires_with_its_lease(redis_db, migrations):
    c = redis_db.client()
    migrations.write("V1-a.redis", "SET x 1\n")
    # A lease that nobody renews, long enough that the wait outlasts the first progress line (5 s)
    # even when dbinit starts slowly on a busy machine.
    c.set("dbinit:lock", "dead-host/abc", px=8000)
    result = migrate(redis_db, migrations, "migrate", DBINIT_LOCK_TIMEOUT="30")
    assert result.returncode == 0, result.stderr
    assert "waiting for the migration lock held by dead-host/abc" in result.stderr
    assert c.get("x") == "1" and not c.exists("dbinit:lock")


def test_sigkill_while_holding_the_redis_lock(redis_db, migrations, make_server):
    """A holder blocked inside its run (here: waiting for the lock of a second database it also
    migrates) renews its Redis lease; killed, its lease runs out and the next run completes."""
    migrations.write("V1-a.redis", "SET x 1\n")
    c = redis_db.client()
    pg = make_server("postgres").start()
    migrations.write("V1-slow-up.sql", "SELECT pg_sleep(60);")
    env = {"REDIS_URL": redis_db.url(), "POSTGRES_URL": pg.url()}
    holder = start_dbinit("migrate", "--migrations", str(migrations.path), **env)
    deadline = time.monotonic() + 20
    while not c.exists("dbinit:lock"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(12)  # longer than the 10 s lease: a live holder renews it
    assert c.exists("dbinit:lock")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    pg.kill()  # ends the sleeping migration with its holder
    (migrations.path / "V1-slow-up.sql").unlink()
    result = migrate(redis_db, migrations, "migrate", DBINIT_LOCK_TIMEOUT="30")
    assert result.returncode == 0, result.stderr
    assert c.get("x") == "1"


def test_validate_with_servers_has_redis_check_every_command_and_changes_nothing(redis_db, migrations):
    migrations.write("V1-a.redis", "SET a 1\n")
    bad = migrations.write("V2-b.redis", "SET b 1\nNOSUCHCMD b\n")
    offline = migrate(redis_db, migrations, "validate")
    assert offline.returncode == 0, offline.stderr
    assert "was skipped; it runs with --servers and REDIS_URL set" in offline.stderr
    online = migrate(redis_db, migrations, "validate", "--servers")
    assert online.returncode == 65, online.stderr
    assert f"{bad.name}:2: NOSUCHCMD" in online.stderr
    assert redis_db.client().keys("*") == []
