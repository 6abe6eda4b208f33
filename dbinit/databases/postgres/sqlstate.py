"""The SQLSTATE of a refused connection, whatever the language the server speaks.

PostgreSQL sends every error with its SQLSTATE, but libpq keeps only the message of an error that
ends a connection attempt, in the server's language (lc_messages): 'Passwort-Authentifizierung …
fehlgeschlagen' is a wrong password too. So after such a failure dbinit asks once more, speaking
the protocol itself, as libpq just did (the same host, user, database and password, the same TLS),
and reads the code from the server's ErrorResponse. Nothing is run: the probe ends at the error or
at the first ReadyForQuery.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import socket
import ssl
import struct
from typing import NamedTuple

_PROTOCOL_3 = 196608
_SSL_REQUEST = 80877103
_TLS_MODES = ("allow", "prefer", "require", "verify-ca", "verify-full")


class Refusal(NamedTuple):
    code: str  # the SQLSTATE
    without_client_certificate: bool  # over TLS, offering none: what a server wanting one refuses
    tls: bool = False  # the refused connection was over TLS


# What the probe says when the server accepts the connection now (SQLSTATE 00000, success): what
# refused it a moment ago is gone (another runner has just made the database, say).
ACCEPTED = Refusal("00000", False)


def probe(options: dict[str, str], timeout: float) -> Refusal | None:
    """Why the server refuses this connection (ACCEPTED when it accepts it now); None when the probe
    cannot ask as libpq would (several hosts, GSSAPI, a certificate it cannot check)."""
    host, port = options.get("host") or "", options.get("port") or "5432"
    if "," in host or "," in port or not port.isdigit() or options.get("gssencmode") == "require" \
            or options.get("sslnegotiation") == "direct":
        return None
    try:
        with _connect(options.get("hostaddr") or host or "/var/run/postgresql", int(port), timeout) as raw:
            conn = _tls(raw, options)
            if conn is None:
                return None
            code = _startup(conn, options)
            offered = bool(options.get("sslcert") and options.get("sslkey"))
            if code is None:
                return None
            over_tls = isinstance(conn, ssl.SSLSocket)
            return ACCEPTED if code == ACCEPTED.code else Refusal(code, over_tls and not offered, over_tls)
    except (OSError, ValueError, struct.error):
        return None


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    if host.startswith("/"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(f"{host}/.s.PGSQL.{port}")
        return sock
    return socket.create_connection((host, port), timeout=timeout)


def _tls(raw: socket.socket, options: dict[str, str]) -> socket.socket | None:
    """The connection after libpq's SSLRequest, verified as sslmode asks; None when TLS is required
    and the server has none (libpq's own message said so already)."""
    mode = options.get("sslmode") or "prefer"
    if mode not in _TLS_MODES or raw.family == socket.AF_UNIX:
        return raw
    raw.sendall(struct.pack("!ii", 8, _SSL_REQUEST))
    if raw.recv(1) != b"S":
        return None if mode in ("require", "verify-ca", "verify-full") else raw
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = mode == "verify-full"
    if mode.startswith("verify"):
        root = options.get("sslrootcert")
        if root and root != "system":
            context.load_verify_locations(root)
        else:
            context.load_default_certs()
    else:
        context.verify_mode = ssl.CERT_NONE
    if options.get("sslcert") and options.get("sslkey"):
        context.load_cert_chain(options["sslcert"], options["sslkey"])
    return context.wrap_socket(raw, server_hostname=options.get("host") or None)


def _startup(conn: socket.socket, options: dict[str, str]) -> str | None:
    """The SQLSTATE of the refusal, 00000 when accepted, None when it cannot ask (the method)."""
    user = options.get("user") or ""
    params = {"user": user, "database": options.get("dbname") or user, "application_name": "dbinit probe"}
    body = struct.pack("!i", _PROTOCOL_3) + b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                                                      for k, v in params.items()) + b"\0"
    conn.sendall(struct.pack("!i", len(body) + 4) + body)
    password = options.get("password") or ""
    scram: _Scram | None = None
    while True:
        kind, data = _message(conn)
        if kind == b"E":
            return _fields(data).get("C")
        if kind == b"Z":  # accepted: whatever failed before has passed
            conn.sendall(b"X" + struct.pack("!i", 4))
            return ACCEPTED.code
        if kind != b"R":
            continue  # ParameterStatus, BackendKeyData, notices
        code = struct.unpack("!i", data[:4])[0]
        if code == 3:  # cleartext
            _send(conn, b"p", password.encode() + b"\0")
        elif code == 5:  # MD5
            inner = hashlib.md5((password + user).encode()).hexdigest()
            _send(conn, b"p", b"md5" + hashlib.md5(inner.encode() + data[4:8]).hexdigest().encode() + b"\0")
        elif code == 10:  # SASL
            if b"SCRAM-SHA-256\0" not in data[4:]:
                return None
            scram = _Scram(password)
            first = scram.client_first()
            _send(conn, b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
        elif code == 11 and scram is not None:
            _send(conn, b"p", scram.client_final(data[4:]))
        elif code not in (0, 12):  # OK, SASL final: go on; Kerberos, GSSAPI, SSPI: not asked here
            return None


class _Scram:
    """SCRAM-SHA-256 without channel binding (RFC 5802, 7677), as PostgreSQL's SASL exchange has it."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.nonce = base64.b64encode(secrets.token_bytes(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"

    def client_first(self) -> bytes:
        return f"n,,{self.first_bare}".encode()

    def client_final(self, server_first: bytes) -> bytes:
        said = dict(part.split("=", 1) for part in server_first.decode().split(","))
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(said["s"]), int(said["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = f"c=biws,r={said['r']}"
        message = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()


def _send(conn: socket.socket, kind: bytes, body: bytes) -> None:
    conn.sendall(kind + struct.pack("!i", len(body) + 4) + body)


def _message(conn: socket.socket) -> tuple[bytes, bytes]:
    head = _exactly(conn, 5)
    return head[:1], _exactly(conn, struct.unpack("!i", head[1:])[0] - 4)


def _exactly(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def _fields(data: bytes) -> dict[str, str]:
    """An ErrorResponse's fields by their one-letter codes (C: the SQLSTATE)."""
    return {part[:1].decode(): part[1:].decode(errors="replace") for part in data.split(b"\0") if part}
