"""Verified TLS on all three databases, with test certificates made here (trustme): the right
settings connect; an unknown CA, a certificate for another host, a missing client certificate and
a server without TLS are each exit 78 at once, with a sentence naming the cause."""
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import run_dbinit
from failure_modes import check
from servers import IS_ROOT


@pytest.fixture(scope="session")
def certs():
    """A CA, a server certificate for localhost/127.0.0.1 and one for another host, a client
    certificate for the user postgres, and a second CA nobody trusts; files readable by the servers
    (outside pytest's own temporary folders, which only root may enter)."""
    import tempfile

    import trustme
    from cryptography.hazmat.primitives import serialization

    directory = Path(tempfile.mkdtemp(prefix="dbinit-certs-"))
    os.chmod(directory, 0o755)
    ca, stranger = trustme.CA(), trustme.CA()
    files = {}

    def write(name: str, cert, owner_only: bool = True) -> None:
        cert.cert_chain_pems[0].write_to_path(str(directory / f"{name}.crt"))
        key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), None)
        (directory / f"{name}.key").write_bytes(key.private_bytes(  # PKCS#8: what Neo4j reads
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        os.chmod(directory / f"{name}.key", 0o600)
        if IS_ROOT and owner_only:
            shutil.chown(directory / f"{name}.key", "postgres", "postgres")
        files[name] = (str(directory / f"{name}.crt"), str(directory / f"{name}.key"))

    write("server", ca.issue_cert("localhost", "127.0.0.1"))
    write("wrong-host", ca.issue_cert("wrong.example"))
    write("unknown-ca", stranger.issue_cert("localhost", "127.0.0.1"))
    write("client", ca.issue_cert("postgres"), owner_only=False)
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    stranger.cert_pem.write_to_path(str(directory / "stranger.pem"))
    if IS_ROOT:
        shutil.chown(directory, "postgres", "postgres")
    files["ca"], files["stranger"], files["dir"] = str(directory / "ca.pem"), str(directory / "stranger.pem"), directory
    yield files
    shutil.rmtree(directory, ignore_errors=True)


# PostgreSQL: TLS on, client certificates required on TCP, nothing without TLS.
@pytest.fixture(scope="module")
def tls_postgres(certs):
    from servers import PostgresServer

    cert, key = certs["server"]
    server = PostgresServer(options={"ssl": "on", "ssl_cert_file": cert, "ssl_key_file": key, "ssl_ca_file": certs["ca"]})
    (server.data / "pg_hba.conf").write_text("local all all trust\nlocal replication all trust\n"
                                             "hostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca\n"
                                             "hostnossl all all 0.0.0.0/0 reject\n")
    server.start()
    yield server
    server.remove()


def pg_url(server, host: str = "127.0.0.1", **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"postgresql://postgres:{server.password}@{host}:{server.port}/postgres?{query}"


def wait(**env):
    """A wait against a 60 s deadline, and how long it took: a mistake said "at once" takes a
    second or two even on a loaded machine, one that was retried would take the whole minute."""
    started = time.monotonic()
    result = run_dbinit("wait", DBINIT_WAIT_TIMEOUT="60", **env)
    return result, time.monotonic() - started


def test_postgres_verify_full_with_a_client_certificate_connects(tls_postgres, certs):
    cert, key = certs["client"]
    result, _ = wait(POSTGRES_URL=pg_url(tls_postgres, sslmode="verify-full", sslrootcert=certs["ca"],
                                         sslcert=cert, sslkey=key))
    assert result.returncode == 0, result.stderr


def test_postgres_tls_settings_from_libpqs_variables_connect(tls_postgres, certs):
    cert, key = certs["client"]
    result, _ = wait(POSTGRES_URL=pg_url(tls_postgres), PGSSLMODE="verify-full", PGSSLROOTCERT=certs["ca"],
                     PGSSLCERT=cert, PGSSLKEY=key)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case, settings, cause", [
    ("a certificate from an unknown CA", {"sslrootcert": "stranger"}, "certificate verify failed"),
    ("a certificate for another host name", {"host": "wrong.example", "hostaddr": "127.0.0.1"},
     'does not match host name "wrong.example"'),
    ("no client certificate", {"no_client_cert": True}, "certificate"),
])
def test_postgres_tls_mistakes_fail_at_once_with_78_naming_the_cause(tls_postgres, certs, case, settings, cause):
    params = {"sslmode": "verify-full", "sslrootcert": certs[settings.get("sslrootcert", "ca")]}
    if not settings.get("no_client_cert"):
        params["sslcert"], params["sslkey"] = certs["client"]
    if "hostaddr" in settings:
        params["hostaddr"] = settings["hostaddr"]
    result, took = wait(POSTGRES_URL=pg_url(tls_postgres, settings.get("host", "127.0.0.1"), **params))
    assert result.returncode == 78, result.stderr
    assert cause in result.stderr and took < 20
    if case.startswith("a certificate"):
        check(result, case, "postgres")
    assert tls_postgres.password not in result.output


def test_a_plain_connection_to_a_server_that_wants_tls_is_78_at_once(tls_postgres, tls_neo4j, certs):
    mode = "plain at a port that wants TLS"
    cert, key = certs["client"]
    result, took = wait(POSTGRES_URL=pg_url(tls_postgres, sslmode="disable", sslcert=cert, sslkey=key))
    check(result, mode, "postgres")
    assert took < 20
    result, took = wait(NEO4J_URI=f"bolt://localhost:{tls_neo4j.port}", NEO4J_AUTH=f"neo4j/{tls_neo4j.password}")
    check(result, mode, "neo4j")
    assert took < 20


# Redis: a TLS-only port that wants client certificates.
def redis_tls(make_server, certs, name: str = "server"):
    cert, key = certs[name]
    client_cert, client_key = certs["client"]
    return make_server("redis", tls={"cert": cert, "key": key, "ca": certs["ca"], "client_cert": client_cert,
                                     "client_key": client_key}).start()


def rediss_url(server, ca: str, client: tuple[str, str] | None, host: str = "localhost") -> str:
    url = f"rediss://:{server.password}@{host}:{server.port}/0?ssl_ca_certs={ca}"
    if client:
        url += f"&ssl_certfile={client[0]}&ssl_keyfile={client[1]}"
    return url


def test_redis_over_tls_with_a_ca_file_and_a_client_certificate_migrates(make_server, certs, migrations):
    server = redis_tls(make_server, certs)
    migrations.write("V1-a.redis", "SET a 1\n")
    result = run_dbinit("migrate", "--migrations", str(migrations.path),
                        REDIS_URL=rediss_url(server, certs["ca"], certs["client"]))
    assert result.returncode == 0, result.stderr
    assert server.client().get("a") == "1"


@pytest.mark.parametrize("case", ["a certificate from an unknown CA", "a certificate for another host name",
                                  "no client certificate", "TLS at a port without it"])
def test_redis_tls_mistakes_fail_at_once_with_78(make_server, certs, case):
    if case == "TLS at a port without it":
        server = make_server("redis").start()
        url = rediss_url(server, certs["ca"], certs["client"], "127.0.0.1")
    else:
        server = redis_tls(make_server, certs, "wrong-host" if "another host" in case else "server")
        url = rediss_url(server, certs["stranger" if "unknown CA" in case else "ca"],
                         None if case == "no client certificate" else certs["client"])
    result, took = wait(REDIS_URL=url)
    assert result.returncode == 78, result.stderr
    assert "TLS" in result.stderr and took < 20
    if case != "no client certificate":
        check(result, case, "redis")
    assert server.password not in result.output


# Neo4j: Bolt requires TLS.
def neo4j_with(certs, name: str):
    from servers import Neo4jServer

    tls_dir = Path(certs["dir"]) / f"neo4j-{name}"
    tls_dir.mkdir(exist_ok=True)
    cert, key = certs[name]
    shutil.copy(cert, tls_dir / "public.crt")
    shutil.copy(key, tls_dir / "private.key")
    return Neo4jServer(tls_dir=tls_dir).start()


@pytest.fixture(scope="module")
def tls_neo4j(certs):
    server = neo4j_with(certs, "server")
    yield server
    server.remove()


@pytest.fixture(scope="module")
def wrong_host_neo4j(certs):
    """Bolt over TLS with a certificate for wrong.example."""
    server = neo4j_with(certs, "wrong-host")
    yield server
    server.remove()


@pytest.mark.parametrize("scheme, trust", [("bolt+s", True), ("neo4j+s", True), ("bolt+ssc", False)])
def test_neo4j_over_tls_migrates(tls_neo4j, certs, migrations, scheme, trust):
    migrations.write("2025-01-01-001-a.cypher", "MERGE (:Tls {scheme: 'x'});\n")
    env = {"NEO4J_URI": f"{scheme}://localhost:{tls_neo4j.port}", "NEO4J_AUTH": f"neo4j/{tls_neo4j.password}"}
    if trust:
        env["SSL_CERT_FILE"] = certs["ca"]  # a private CA, as OpenSSL takes it
    result = run_dbinit("migrate", "--migrations", str(migrations.path), **env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", ["a certificate from an unknown CA", "a certificate for another host name",
                                  "TLS at a port without it"])
def test_neo4j_tls_mistakes_fail_at_once_with_78(request, neo4j_server, certs, case):
    server = {"a certificate from an unknown CA": "tls_neo4j", "a certificate for another host name": "wrong_host_neo4j",
              "TLS at a port without it": "neo4j_server"}[case]
    port = request.getfixturevalue(server).port
    result, took = wait(NEO4J_URI=f"bolt+s://localhost:{port}", NEO4J_AUTH=f"neo4j/{neo4j_server.password}",
                        SSL_CERT_FILE=certs["stranger" if "unknown CA" in case else "ca"])
    check(result, case, "neo4j")
    assert took < 20


def test_a_plain_redis_url_at_a_port_that_speaks_only_tls_is_78_at_once(make_server, certs):
    server = redis_tls(make_server, certs)
    result, took = wait(REDIS_URL=f"redis://:{server.password}@127.0.0.1:{server.port}/0")
    check(result, "plain at a port that wants TLS", "redis")
    assert took < 20
