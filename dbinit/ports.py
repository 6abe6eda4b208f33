"""What listens at a database's address, asked when a connection was made but the database's own
handshake failed: the database itself (not ready yet), the database with or without TLS where the
settings say the other, or another protocol altogether (a URL with another server's port). Told
by each protocol's own first exchange, never by a server's words. Each database registers the
greeting of its protocol (registry.Database.protocol)."""
from __future__ import annotations

import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from .errors import ConfigError

TIMEOUT = 2.0  # per exchange, on a port that accepted the connection (a loaded machine answers late)


@dataclass(frozen=True)
class Protocol:
    name: str  # as messages say it: "PostgreSQL", "Redis", "Bolt (Neo4j)"
    hello: bytes  # what its client sends first
    answers: Callable[[bytes], bool]  # the first bytes back are this protocol's


HTTP = Protocol("HTTP", b"GET / HTTP/1.0\r\n\r\n", lambda reply: reply.startswith(b"HTTP/"))


@dataclass(frozen=True)
class Endpoint:
    """Where one attempt connects, and what the settings ask of it."""

    host: str
    port: int
    setting: str  # the variable that names it, for messages
    tls: bool | None  # TLS asked for (True), plain (False), or negotiated inside the protocol (None)
    use_tls: str = ""  # what to write in the setting for TLS
    use_plain: str = ""  # … and for plain
    http: str = ""  # what to say when the port speaks HTTP (a database's web port)


def reason(e: BaseException | None) -> str | None:
    """Why a connection failed, from the operating system's error under a driver's exception."""
    while e is not None:
        if isinstance(e, socket.gaierror):
            return "the host name does not resolve (yet)"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, (TimeoutError, socket.timeout)):
            return "no answer in time"
        if isinstance(e, ConnectionResetError):
            return "the connection was reset"
        if isinstance(e, OSError) and e.strerror:
            return e.strerror[0].lower() + e.strerror[1:]
        e = e.__cause__ or e.__context__
    return None


# OpenSSL's verification codes (X509_V_ERR_*): a certificate for another name, and the rest.
_HOSTNAME_MISMATCH = 62


def tls_reason(e: BaseException | None, trust: str, plain: str) -> str | None:
    """Why a TLS handshake failed, from the ssl error under a driver's exception, in a sentence;
    `trust`: how to make the database's client trust a certificate, `plain`: how to connect
    without TLS, for a handshake that failed otherwise."""
    while e is not None:
        if isinstance(e, ssl.SSLCertVerificationError):
            said = e.verify_message or e.reason or "not verified"
            if e.verify_code == _HOSTNAME_MISMATCH:
                return f"the server's certificate is for another host name ({said}); connect by a name it was issued for"
            return f"the server's certificate is not trusted ({said}); {trust}"
        if isinstance(e, ssl.SSLError):
            return f"the TLS handshake failed ({e.reason or e}); {plain}"
        e = e.__cause__ or e.__context__
    return None


class Silent(Exception):
    """The port accepts connections but answers nothing this module asks."""


def _exchange(endpoint: Endpoint, hello: bytes) -> bytes:
    with socket.create_connection((endpoint.host, endpoint.port), timeout=TIMEOUT) as s:
        s.sendall(hello)
        try:
            return s.recv(16)
        except (TimeoutError, socket.timeout, ConnectionResetError):
            return b""


def _tls(endpoint: Endpoint) -> bool:
    """The port completes a TLS handshake, or refuses one with a TLS alert (it wants a client
    certificate)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # only asking which protocol it speaks
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=TIMEOUT) as raw, \
                context.wrap_socket(raw) as tls:
            return tls.version() is not None
    except ssl.SSLError as e:
        return "ALERT" in (e.reason or "")
    except OSError:
        return False


def listening(endpoint: Endpoint, mine: Protocol, others: list[Protocol]) -> str | None:
    """Which protocol answers at the endpoint: "mine", "mine over TLS", another's name, or None
    when nothing listens (refused, no such host: not ready yet); Silent when it answers nothing.
    Every question is asked at once: a server waits out the timeout on another protocol's hello."""
    try:
        socket.create_connection((endpoint.host, endpoint.port), timeout=TIMEOUT).close()
    except OSError:
        return None
    candidates = [mine, *others, HTTP]

    def answers(protocol: Protocol) -> bool:
        try:
            return protocol.answers(_exchange(endpoint, protocol.hello))
        except OSError:
            return False

    with ThreadPoolExecutor(len(candidates) + 1) as pool:
        tls = pool.submit(_tls, endpoint)
        heard = [p.name for p, yes in zip(candidates, pool.map(answers, candidates)) if yes]
        if mine.name in heard:
            return "mine"
        if tls.result():
            return "mine over TLS" if endpoint.tls is not None else "TLS"
    if heard:
        return heard[0]
    raise Silent()


def misdirected(db: str, endpoint: Endpoint, mine: Protocol, others: list[Protocol]) -> ConfigError | None | bool:
    """A ConfigError when what listens cannot be the database as set (another protocol, TLS where
    plain is set, or the reverse); True when it is the database as set (only not ready: no need to
    ask again); None when nothing listens yet; False when something listens but answered nothing
    in time (ask again after the next failure, both)."""
    where = f"{endpoint.host}:{endpoint.port}"
    try:
        heard = listening(endpoint, mine, others)
    except Silent:
        return False
    if heard is None:
        return None
    if heard == "mine":
        if endpoint.tls:
            return ConfigError(f"{db}: TLS settings do not fit the server at {where}: {endpoint.setting} asks for TLS "
                               f"but the server answers without it; {endpoint.use_plain}")
        return True
    if heard == "mine over TLS":
        if endpoint.tls is False:
            return ConfigError(f"{db}: {where} speaks only TLS; {endpoint.use_tls}")
        return True
    hint = endpoint.http if heard == HTTP.name and endpoint.http else f"check the port in {endpoint.setting}"
    return ConfigError(f"{db}: {where} speaks {heard}, not {mine.name}: {hint}")
