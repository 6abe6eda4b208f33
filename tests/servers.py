"""Real PostgreSQL, Redis and Neo4j servers on free loopback ports, owned by the tests.

Each server lives in its own temporary directory and can be started, stopped, killed
(SIGKILL), restarted, and started after a delay, so tests can show waiting and faults.
"""
from __future__ import annotations

import glob
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "tests" / "neo4j-launcher" / "target"
IS_ROOT = os.geteuid() == 0


# Ports below Linux's ephemeral range (32768-60999), where no outgoing connection can take a port
# between the moment it is found free and the moment its server binds it; each pytest-xdist
# worker (up to six) has its own block, so two workers never hand out the same one.
_BLOCK = 2000
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % 6
_turn = itertools.count(random.randrange(_BLOCK))  # where another run's servers are less likely to be


def free_port() -> int:
    while True:
        port = 20000 + _WORKER * _BLOCK + next(_turn) % _BLOCK
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(0.05)


class Server:
    """A process that is started and stopped by the test; subclasses say how."""

    name = "server"

    def __init__(self, password: str):
        self.password = password
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"dbinit-{self.name}-"))
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._removed = threading.Event()  # a delayed start (start_after) never comes after remove()

    def command(self) -> list[str]:
        raise NotImplementedError

    def popen_kwargs(self) -> dict:
        return {}

    def ready(self) -> bool:
        return port_open(self.port)

    def start(self, wait: bool = True) -> "Server":
        self._log = open(self.dir / "server.log", "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, **self.popen_kwargs())
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        wait_for(lambda: self.ready() or self.proc.poll() is not None, timeout, f"{self.name} ready")
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return (self.dir / "server.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def _end(self, sig: int, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._log:
            self._log.close()
        wait_for(lambda: not port_open(self.port), 10, f"{self.name} port closed")

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def start_after(self, delay: float) -> threading.Thread:
        """Start in the background after `delay` seconds (the test joins the thread)."""
        thread = threading.Thread(target=lambda: self._removed.wait(delay) or self.start(wait=False), daemon=True)
        thread.start()
        return thread

    def remove(self) -> None:
        self._removed.set()
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresServer(Server):
    name = "postgres"
    user = "postgres"
    dbname = "postgres"

    def __init__(self, password: str = "pg-test-pw-7Qx", options: dict | None = None,
                 primary: "PostgresServer | None" = None):
        """A new cluster (initdb), or with `primary` a streaming standby of it (pg_basebackup -R)."""
        super().__init__(password)
        self.bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
        self.data = self.dir / "data"
        self.sockets = self.dir / "run"
        self.options = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                        "max_connections": "100", "shared_buffers": "32MB", **(options or {})}
        self.listen = "127.0.0.1"
        self.sockets.mkdir()
        pwfile = self.dir / "pw"
        pwfile.write_text(password + "\n")
        if IS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        if primary is not None:
            subprocess.run([str(self.bindir / "pg_basebackup"), "-h", str(primary.sockets), "-p", str(primary.port),
                            "-U", self.user, "-D", str(self.data), "-R", "-X", "stream", "--no-sync"],
                           check=True, capture_output=True, **self.popen_kwargs())
            return
        subprocess.run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, f"--pwfile={pwfile}",
                        "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"],
                       check=True, capture_output=True, **self.popen_kwargs())

    def promote(self) -> None:
        subprocess.run([str(self.bindir / "pg_ctl"), "promote", "-D", str(self.data), "-w"], check=True,
                       capture_output=True, **self.popen_kwargs())

    def popen_kwargs(self) -> dict:
        return {"user": "postgres", "group": "postgres"} if IS_ROOT else {}

    def command(self) -> list[str]:
        opts = [f"-c{k}={v}" for k, v in self.options.items()]
        return [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                "-k", str(self.sockets), f"-clisten_addresses={self.listen}", *opts]

    def ready(self) -> bool:
        r = subprocess.run([str(self.bindir / "pg_isready"), "-h", str(self.sockets), "-p", str(self.port), "-q"])
        return r.returncode == 0 and (not self.listen or port_open(self.port))

    def _end(self, sig: int, timeout: float = 30) -> None:
        if sig == signal.SIGTERM:
            sig = signal.SIGINT  # "fast" shutdown: active sessions are ended at once
        super()._end(sig, timeout)
        if sig == signal.SIGKILL:  # backends outlive a killed postmaster for a moment
            wait_for(lambda: subprocess.run(["pgrep", "-f", str(self.data)], capture_output=True).returncode != 0,
                     10, "postgres backends gone")

    def url(self, password: str | None = None, dbname: str | None = None) -> str:
        pw = self.password if password is None else password
        return f"postgresql://{self.user}:{pw}@127.0.0.1:{self.port}/{dbname or self.dbname}"

    def psql(self, sql: str, dbname: str | None = None) -> str:
        r = subprocess.run([str(self.bindir / "psql"), "-h", str(self.sockets), "-p", str(self.port), "-U", self.user,
                            "-d", dbname or self.dbname, "-XAtqv", "ON_ERROR_STOP=1", "-c", sql],
                           capture_output=True, text=True, check=True)
        return r.stdout.strip()


class PgBouncerServer(Server):
    """PgBouncer in front of a PostgresServer, SCRAM auth, in the given pooling mode."""

    name = "pgbouncer"

    def __init__(self, postgres: PostgresServer, pool_mode: str = "transaction", pool_size: int = 5):
        super().__init__(postgres.password)
        self.postgres = postgres
        self.config = self.dir / "pgbouncer.ini"
        users = self.dir / "userlist.txt"
        users.write_text(f'"{postgres.user}" "{postgres.password}"\n')
        self.config.write_text(f"""[databases]
* = host=127.0.0.1 port={postgres.port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {users}
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 500
""")
        if IS_ROOT:  # pgbouncer refuses to run as root
            for path in (self.dir, users, self.config):
                shutil.chown(path, "postgres", "postgres")

    def popen_kwargs(self) -> dict:
        return {"user": "postgres", "group": "postgres"} if IS_ROOT else {}

    def command(self) -> list[str]:
        return ["pgbouncer", str(self.config)]

    def url(self, dbname: str | None = None) -> str:
        return (f"postgresql://{self.postgres.user}:{self.postgres.password}@127.0.0.1:{self.port}/"
                f"{dbname or self.postgres.dbname}")


class RedisServer(Server):
    name = "redis"

    def __init__(self, password: str = "redis-test-pw-3Kd", extra: list[str] | None = None,
                 tls: dict[str, str] | None = None):
        """`tls`: cert, key and ca files; then the port speaks only TLS and wants client certificates."""
        super().__init__(password)
        self.extra = extra or []
        self.tls = tls

    def command(self) -> list[str]:
        ports = ["--port", str(self.port)]
        if self.tls:
            ports = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", self.tls["cert"],
                     "--tls-key-file", self.tls["key"], "--tls-ca-cert-file", self.tls["ca"], "--tls-auth-clients", "yes"]
        return ["redis-server", *ports, "--bind", "127.0.0.1", "--requirepass", self.password,
                "--dir", str(self.dir), "--save", "", "--appendonly", "no", "--daemonize", "no", *self.extra]

    def url(self, password: str | None = None, db: int = 0) -> str:
        return f"redis://:{self.password if password is None else password}@127.0.0.1:{self.port}/{db}"

    def restart_loading(self, keys: int = 100000) -> None:
        """Saved with `keys` keys, then started again with a load slowed down so that it answers
        LOADING for a few seconds (needs --enable-debug-command local)."""
        self.client().execute_command("DEBUG", "POPULATE", str(keys))
        self.client().save()
        self.stop()
        self.extra += ["--key-load-delay", "40", "--loading-process-events-interval-bytes", "1024"]
        self.start(wait=False)
        time.sleep(0.3)

    def client(self, db: int = 0):
        import redis

        tls = {"ssl": True, "ssl_ca_certs": self.tls["ca"], "ssl_certfile": self.tls["client_cert"],
               "ssl_keyfile": self.tls["client_key"], "ssl_check_hostname": False} if self.tls else {}
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, db=db, decode_responses=True, **tls)

    def ready(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            return self.client().ping()
        except Exception:
            return False


class RedisClusterSet:
    """Three Redis masters in cluster mode on loopback, joined by `redis-cli --cluster create`."""

    def __init__(self, masters: int = 3, password: str = "redis-test-pw-3Kd"):
        self.password = password
        # cluster-port: the bus port would otherwise be the port + 10000, too high for a free port.
        self.nodes = [RedisServer(password, extra=["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                                   "--cluster-node-timeout", "1000", "--masterauth", password,
                                                   "--cluster-port", str(free_port())])
                      for _ in range(masters)]

    def start(self, create: bool = True) -> "RedisClusterSet":
        """The nodes; joined into a cluster unless `create` is False (then `create()` joins them)."""
        for node in self.nodes:
            node.start()
        return self.create() if create else self

    def create(self) -> "RedisClusterSet":
        subprocess.run(["redis-cli", "-a", self.password, "--no-auth-warning", "--cluster", "create",
                        *(f"127.0.0.1:{n.port}" for n in self.nodes), "--cluster-yes"], check=True, capture_output=True)
        wait_for(lambda: all(n.client().cluster("info")["cluster_state"] == "ok" for n in self.nodes), 30,
                 "cluster_state:ok")
        return self

    def url(self) -> str:
        return f"redis+cluster://:{self.password}@" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:2])

    def client(self):
        from redis.cluster import RedisCluster

        return RedisCluster(host="127.0.0.1", port=self.nodes[0].port, password=self.password, decode_responses=True)

    def remove(self) -> None:
        for node in self.nodes:
            node.remove()


class RedisSentinel(Server):
    """A Redis Sentinel watching `master` under the name `name`, quick to declare it down."""

    name = "sentinel"

    def __init__(self, master: RedisServer, name: str = "mymaster"):
        super().__init__(master.password)
        self.master_name = name
        self.config = self.dir / "sentinel.conf"  # Sentinel rewrites it as it learns
        self.config.write_text(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                               f"sentinel monitor {name} 127.0.0.1 {master.port} 1\n"
                               f"sentinel auth-pass {name} {master.password}\n"
                               f"sentinel down-after-milliseconds {name} 1000\n"
                               f"sentinel failover-timeout {name} 5000\n")

    def command(self) -> list[str]:
        return ["redis-server", str(self.config), "--sentinel"]

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)

    def master_port(self) -> int:
        return int(self.client().sentinel_get_master_addr_by_name(self.master_name)[1])

    def url(self) -> str:
        return f"redis+sentinel://:{self.password}@127.0.0.1:{self.port}/{self.master_name}/0"


def _backticked(name: str) -> str:
    """A Neo4j name as Cypher quotes it (a backtick in it doubled)."""
    return "`" + name.replace("`", "``") + "`"


class Neo4jServer(Server):
    """Neo4j Community, embedded by a small Java launcher, Bolt on loopback, auth on."""

    name = "neo4j"

    # C1 only: a faster start for the tests; benchmarks pass quick_jit=False to plan queries as a
    # production server does.
    def __init__(self, password: str = "neo4j-test-pw-9Lm", quick_jit: bool = True, tls_dir: Path | None = None,
                 read_only: bool = False):
        """`tls_dir`: private.key and public.crt; then Bolt requires TLS. `read_only`: every database."""
        super().__init__(password)
        self.jvm = ["-Xmx256m", "-Xms64m", "-XX:+UseSerialGC"] + (["-XX:TieredStopAtLevel=1"] if quick_jit else [])
        self.tls_dir = tls_dir
        self.read_only = read_only

    def popen_kwargs(self) -> dict:
        env = {**({"NEO4J_TLS_DIR": str(self.tls_dir)} if self.tls_dir else {}),
               **({"NEO4J_READ_ONLY": "true"} if self.read_only else {})}
        return {"env": {**os.environ, **env}} if env else {}

    def command(self) -> list[str]:
        classpath = f"{LAUNCHER / 'neo4j-launcher-1.jar'}:{LAUNCHER / 'lib'}/*"
        return ["java", *self.jvm, "-cp", classpath,
                "dbinit.testing.Neo4jLauncher", str(self.dir / "home"), str(self.port), self.password]

    def ready(self) -> bool:
        return "READY" in self.log_tail() and port_open(self.port)

    def start(self, wait: bool = True) -> "Server":
        (self.dir / "server.log").write_text("")  # READY is read from this run's log only
        return super().start(wait)

    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    def driver(self):
        import neo4j

        if self.tls_dir:
            return neo4j.GraphDatabase.driver(f"bolt+ssc://127.0.0.1:{self.port}", auth=("neo4j", self.password))
        return neo4j.GraphDatabase.driver(self.uri(), auth=("neo4j", self.password))

    def reset(self) -> None:
        """Empty the database between tests: data, constraints, indexes."""
        with self.driver() as d:
            with d.session() as s:  # in batches: a test may leave more nodes than one transaction's memory holds
                s.run("MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()
            for r in d.execute_query("SHOW CONSTRAINTS YIELD name").records:
                d.execute_query(f"DROP CONSTRAINT {_backticked(r['name'])}")
            for r in d.execute_query("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP'").records:
                d.execute_query(f"DROP INDEX {_backticked(r['name'])}")
