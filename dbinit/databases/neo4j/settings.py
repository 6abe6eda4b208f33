"""Neo4j's settings: NEO4J_URI, NEO4J_USERNAME + NEO4J_PASSWORD or NEO4J_AUTH (as the neo4j image
takes it), NEO4J_DATABASE."""
from __future__ import annotations

import re
from urllib.parse import urlsplit
from dataclasses import dataclass
from typing import Any, Mapping

from ... import log
from ...environment import Env, Variable, split_url, url_password, without_credentials
from ...errors import ConfigError

ENVIRONMENT = (
    Variable("NEO4J_URI", "", "`bolt://host:7687`, `neo4j://` for routing, `+s` for TLS, `+ssc` for a self-signed "
             "certificate"),
    Variable("NEO4J_USERNAME", "neo4j", "with NEO4J_PASSWORD"),
    Variable("NEO4J_PASSWORD", "", "the password", secret=True),
    Variable("NEO4J_AUTH", "", "`user/password` as the neo4j image takes it, or `none`", secret=True),
    Variable("NEO4J_DATABASE", "", "the database; unset: the server's default (`neo4j`)"),
)

_DATABASE = re.compile(r"[A-Za-z][A-Za-z0-9.\-]{2,62}")
_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


@dataclass(frozen=True)
class Neo4jSettings:
    uri: str
    auth: tuple[str, str] | None
    database: str | None

    def display(self) -> str:
        return without_credentials(self.uri) + (f" database {self.database}" if self.database else "")

    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.uri)
        return parts.hostname or "localhost", parts.port or 7687

    @property
    def tls(self) -> bool:
        return "+" in self.uri.split("://", 1)[0]


def load(env: Env, flags: Mapping[str, Any]) -> Neo4jSettings | None:
    uri_flag = flags.get("neo4j_uri")
    uri = uri_flag or env.get("NEO4J_URI")
    if not uri:
        return None
    log.add_secret(url_password(uri))
    variable = "--neo4j-uri" if uri_flag else "NEO4J_URI"
    parts = split_url(variable, uri, _SCHEMES, "bolt://neo4j:7687",
                      {s: " (dbinit speaks Bolt, not HTTP)" for s in ("http", "https")})
    if parts.username is not None or parts.password is not None:  # the driver would not read them
        raise ConfigError(f"{variable} holds a user name or password; the Neo4j driver takes none from the URI: "
                          "give them as NEO4J_AUTH=user/password (or NEO4J_USERNAME and NEO4J_PASSWORD)")
    password = env.secret("NEO4J_PASSWORD")
    auth_text = env.secret("NEO4J_AUTH")
    if auth_text is not None and (password is not None or env.get("NEO4J_USERNAME")):
        raise ConfigError("NEO4J_AUTH and NEO4J_USERNAME or NEO4J_PASSWORD are both set; set NEO4J_AUTH=user/password "
                          "alone, or the two others")
    auth: tuple[str, str] | None
    if password is not None:
        auth = (env.get("NEO4J_USERNAME") or "neo4j", password)
    elif auth_text is None or auth_text.lower() == "none":
        auth = None
    else:
        user, sep, pw = auth_text.partition("/")
        if not sep or not user:
            raise ConfigError("NEO4J_AUTH must be user/password or none")
        log.add_secret(pw)
        auth = (user, pw)
    database = env.get("NEO4J_DATABASE")
    if database is not None and not _DATABASE.fullmatch(database):
        raise ConfigError("NEO4J_DATABASE must be a Neo4j database name: 3 to 63 characters, a letter first, "
                          f"then letters, digits, dots or dashes; not {database!r}")
    return Neo4jSettings(uri, auth, database)
