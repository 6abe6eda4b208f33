"""What redis-py's errors mean: transient, refused credentials or permissions, TLS settings, or a
setting of the server's; each in a sentence that names what to set."""
from __future__ import annotations

import redis

from ...errors import AuthRefused, ConfigError, NotReady, credentials_refused
from ...ports import reason, tls_reason
from .settings import RedisSettings

_TRUST = "give its CA as ssl_ca_certs=/path/ca.pem in REDIS_URL (rediss://host:6379/0?ssl_ca_certs=…)"
# dbinit's own commands, which the ACL of its user must allow beside those of the files.
OWN = "SET GET DEL EVAL HSET HGETALL HDEL MULTI EXEC DUMP RESTORE PING INFO on DBINIT_REDIS_PREFIX*"


def classify_connect_error(e: Exception, settings: RedisSettings) -> Exception:
    where, text = settings.display(), str(e)
    if isinstance(e, redis.exceptions.NoPermissionError) or text.startswith("NOPERM"):
        return AuthRefused(f"redis: the user may not run what dbinit needs at {where}: {text}; its ACL must allow "
                           f"{OWN}, and the commands of the migration files")
    if isinstance(e, (redis.AuthenticationError, redis.exceptions.AuthenticationWrongNumberOfArgsError)) \
            or text.startswith(("NOAUTH", "WRONGPASS")):
        return credentials_refused("redis", where, settings.password is not None or settings.has_url_password, text,
                                   "set REDIS_PASSWORD, or the user and password in REDIS_URL as "
                                   "redis://USER:PASSWORD@host:6379/0 (redis://:PASSWORD@… for the default user)")
    if (tls := tls_reason(e, _TRUST, "a server without TLS is redis://")) is not None:
        return ConfigError(f"redis: TLS settings do not fit the server at {where}: {tls}")
    if isinstance(e, (redis.BusyLoadingError, redis.ConnectionError, redis.TimeoutError, OSError,
                      redis.exceptions.RedisClusterException, redis.exceptions.ClusterDownError)):
        why = reason(e)
        return NotReady(f"redis: {why} at {settings.address()}" if why and settings.topology == "single"
                        else f"redis: {text}")
    if isinstance(e, redis.ResponseError) and text.startswith("LOADING"):
        return NotReady(f"redis: {text}")
    return ConfigError(f"redis: {text} ({where})")
