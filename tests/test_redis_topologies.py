"""Redis where one server is not enough: a master, a replica and a Sentinel; a 3-master Cluster."""
import time

import pytest

from conftest import Result, run_dbinit, start_dbinit
from failure_modes import check
from fleet import wait_for_line
from servers import wait_for


@pytest.fixture
def sentinel_setup(make_server):
    master = make_server("redis").start()
    replica = make_server("redis", extra=["--replicaof", "127.0.0.1", str(master.port),
                                          "--masterauth", master.password]).start()
    sentinel = make_server("sentinel", master=master).start()
    return master, replica, sentinel


def test_through_sentinel_dbinit_migrates_the_master_and_after_a_failover_the_new_one(sentinel_setup, migrations):
    master, replica, sentinel = sentinel_setup
    migrations.write("V1-a.redis", "SET a 1\n")
    first = run_dbinit("migrate", "--migrations", str(migrations.path), REDIS_URL=sentinel.url())
    assert first.returncode == 0, first.stderr
    assert master.client().get("a") == "1"
    wait_for(lambda: replica.client().get("a") == "1", 10, "the replica caught up")

    sentinel.client().execute_command("SENTINEL", "FAILOVER", sentinel.master_name)
    wait_for(lambda: sentinel.master_port() == replica.port and replica.client().info("replication")["role"] == "master",
             30, "the replica promoted")
    migrations.write("V2-b.redis", "SET b 2\n")
    second = run_dbinit("migrate", "--migrations", str(migrations.path), REDIS_URL=sentinel.url())
    check(second, "a primary promoted or a failover during the wait", "redis")
    assert "1 applied, 1 already applied" in second.stderr
    assert replica.client().get("b") == "2"


def test_a_sentinel_that_knows_no_such_master_is_waited_for_until_the_deadline(sentinel_setup):
    _, _, sentinel = sentinel_setup
    started = time.monotonic()
    result = run_dbinit("wait", REDIS_URL=sentinel.url().replace("/mymaster/", "/othermaster/"),
                        DBINIT_WAIT_TIMEOUT="3")
    assert result.returncode == 69 and "othermaster" in result.stderr
    assert 3 <= time.monotonic() - started < 15  # the whole deadline, and not a second one after it


def test_a_plain_url_pointed_at_a_sentinel_says_what_to_set(sentinel_setup):
    _, _, sentinel = sentinel_setup
    result = run_dbinit("wait", REDIS_URL=f"redis://127.0.0.1:{sentinel.port}/0")
    assert result.returncode == 78 and "redis+sentinel://" in result.stderr


@pytest.fixture
def cluster():
    from servers import RedisClusterSet

    made = RedisClusterSet().start()
    yield made
    made.remove()


def test_ten_runners_on_a_three_master_cluster_apply_hash_tagged_files_exactly_once(cluster, migrations):
    for n in range(1, 31):  # files spread over several slots, and so over the three masters
        migrations.write(f"V{n:03d}-mark.redis", f"RPUSH {{tag{n % 5}}}:marks {n}\nSET {{tag{n % 5}}}:last {n}\n")
    env = {"REDIS_URL": cluster.url(), "DBINIT_LOCK_TIMEOUT": "120"}
    from fleet import finish

    results = [finish(p) for p in [start_dbinit("migrate", "--migrations", str(migrations.path), **env)
                                   for _ in range(10)]]
    assert [code for code, _ in results] == [0] * 10, [err[-1500:] for code, err in results if code]
    c = cluster.client()
    marks = sorted(int(x) for t in range(5) for x in c.lrange(f"{{tag{t}}}:marks", 0, -1))
    assert marks == list(range(1, 31))  # each file once
    assert len(c.hkeys("{dbinit}:migrations")) == 30
    assert len({c.keyslot(f"{{tag{t}}}:marks") for t in range(5)}) == 5
    again = run_dbinit("migrate", "--migrations", str(migrations.path), **env)
    assert again.returncode == 0 and "0 applied, 30 already applied" in again.stderr


def test_a_precondition_on_a_cluster_asks_the_master_of_its_keys_slot(cluster, migrations):
    c = cluster.client()
    keys = [f"{{tag{n}}}:defaults" for n in range(12)]  # over the three masters
    assert len({c.keyslot(k) for k in keys}) == 12
    for k in keys:
        c.set(k, "1")
    for n, k in enumerate(keys, start=1):
        migrations.write(f"V{n:03d}-guarded.redis", f"# dbinit: precondition EXISTS {k}\nSET {{tag{n}}}:ran 1\n")
    migrations.write("V013-missing.redis", "# dbinit: precondition EXISTS {tag0}:absent\nSET {tag0}:ran 13\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), REDIS_URL=cluster.url())
    assert result.returncode == 6, result.stderr
    assert "V013-missing.redis:1: precondition not met: EXISTS {tag0}:absent returned 0" in result.stderr
    assert len(c.hkeys("{dbinit}:migrations")) == 12 and c.get("{tag0}:ran") is None


def test_a_file_whose_keys_span_slots_is_refused_before_anything_runs(cluster, migrations):
    migrations.write("V1-fine.redis", "SET {app}:a 1\n")
    bad = migrations.write("V2-spread.redis", "SET user:1 x\nSET user:2 y\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), REDIS_URL=cluster.url())
    assert result.returncode == 65, result.stderr
    assert f"{bad}: its keys live in different hash slots (user:1 in slot" in result.stderr
    assert "hash tag" in result.stderr
    assert cluster.client().get("{app}:a") is None


def test_a_plain_url_pointed_at_a_cluster_node_says_what_to_set(cluster):
    node = cluster.nodes[0]
    result = run_dbinit("wait", REDIS_URL=node.url())
    assert result.returncode == 78 and "redis+cluster://" in result.stderr


def test_a_master_killed_before_the_run_is_reported_clearly(cluster, migrations):
    migrations.write("V1-a.redis", "SET {app}:a 1\n")
    cluster.nodes[2].kill()
    wait_for(lambda: cluster.nodes[0].client().cluster("info")["cluster_state"] == "fail", 15, "cluster_state:fail")
    result = run_dbinit("migrate", "--migrations", str(migrations.path), REDIS_URL=cluster.url(),
                        DBINIT_WAIT_TIMEOUT="3")
    assert result.returncode == 69, result.stderr
    assert "not serving every hash slot (cluster_state:fail); a master may be down" in result.stderr


def move_slot(cluster, key: str) -> None:
    """Move `key`'s slot to another master as redis-cli --cluster reshard does, keys included."""
    c = cluster.nodes[0].client()
    slot = c.cluster("keyslot", key)
    ids = {int(line.split()[1].split(":")[1].split("@")[0]): line.split()[0]
           for line in c.execute_command("CLUSTER", "NODES").splitlines()}
    owner = next(n for n in cluster.nodes if n.client().cluster("countkeysinslot", slot) or
                 any(r[0] <= slot <= r[1] and r[2][1] == n.port for r in c.execute_command("CLUSTER", "SLOTS")))
    target = next(n for n in cluster.nodes if n is not owner)
    target.client().execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[owner.port])
    owner.client().execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target.port])
    while keys := owner.client().execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
        owner.client().execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "AUTH", cluster.password,
                                       "KEYS", *keys)
    for node in cluster.nodes:
        node.client().execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target.port])


def test_a_slot_moved_to_another_master_during_the_run_is_followed(cluster, migrations):
    from conftest import start_dbinit
    from fleet import finish, wait_for_line

    for n in range(1, 401):
        migrations.write(f"V{n:03d}-mark.redis", f"RPUSH {{moving}}:marks {n}\n")
    runner = start_dbinit("migrate", "--migrations", str(migrations.path), REDIS_URL=cluster.url())
    wait_for_line(runner, "applied V010")
    move_slot(cluster, "{moving}:marks")
    code, err = finish(runner)
    assert code == 0, err[-3000:]
    assert "its hash slot is moving" in err and "following it" in err
    assert [int(x) for x in cluster.client().lrange("{moving}:marks", 0, -1)] == list(range(1, 401))


def test_a_cluster_still_forming_is_waited_for_saying_how_many_slots_it_serves(migrations):
    """Between the nodes starting and `redis-cli --cluster create` they answer but serve no slot."""
    from servers import RedisClusterSet

    forming = RedisClusterSet().start(create=False)
    try:
        migrations.write("V1-a.redis", "SET {app}:a 1\n")
        runner = start_dbinit("migrate", "--migrations", str(migrations.path), REDIS_URL=forming.url(),
                              DBINIT_WAIT_TIMEOUT="60")
        seen = wait_for_line(runner, "is forming: 0 of 16384 hash slots served")  # its progress line
        forming.create()
        out, err = runner.communicate(timeout=60)
        check(Result(runner.returncode, out, "".join(seen) + err), "a cluster still forming", "redis")
        assert forming.client().get("{app}:a") == "1"
    finally:
        forming.remove()


def test_a_cluster_that_does_not_form_before_the_deadline_is_69_saying_so():
    from servers import RedisClusterSet

    forming = RedisClusterSet().start(create=False)
    try:
        result = run_dbinit("wait", REDIS_URL=forming.url(), DBINIT_WAIT_TIMEOUT="3")
        assert result.returncode == 69, result.stderr
        assert "not ready within 3 s" in result.stderr and "0 of 16384 hash slots served" in result.stderr
    finally:
        forming.remove()


def test_on_a_cluster_the_functions_a_migration_loaded_are_the_schema_and_a_hand_change_is_drift(cluster, migrations,
                                                                                                  tmp_path):
    migrations.write("V001-lib.redis", 'FUNCTION LOAD "#!lua name=app\\nredis.register_function(\'one\', '
                                       'function() return 1 end)"\n')
    env = {"REDIS_URL": cluster.url()}
    assert run_dbinit("migrate", "--migrations", str(migrations.path), **env).returncode == 0
    written = run_dbinit("schema", "--dir", str(tmp_path), "--migrations", str(migrations.path), **env)
    assert written.returncode == 0, written.stderr
    assert "name=app" in (tmp_path / "redis-schema.redis").read_text()
    assert run_dbinit("check", "--drift", "--migrations", str(migrations.path), **env).returncode == 0
    node = cluster.client().get_node_from_key("{dbinit}:lock")
    cluster.client().get_redis_connection(node).execute_command("FUNCTION", "DELETE", "app")
    drifted = run_dbinit("check", "--drift", "--migrations", str(migrations.path), **env)
    assert drifted.returncode == 4 and "function library app removed" in drifted.stderr


def test_through_sentinel_the_schema_is_the_masters(sentinel_setup, migrations, tmp_path):
    _, _, sentinel = sentinel_setup
    migrations.write("V001-lib.redis", 'FUNCTION LOAD "#!lua name=app\\nredis.register_function(\'one\', '
                                       'function() return 1 end)"\n')
    env = {"REDIS_URL": sentinel.url()}
    assert run_dbinit("migrate", "--migrations", str(migrations.path), **env).returncode == 0
    result = run_dbinit("check", "--drift", "--migrations", str(migrations.path), **env)
    assert result.returncode == 0 and "redis: the schema is as recorded" in result.stderr
