"""Every database's package, imported in the order of applying: each registers itself."""
from . import postgres, neo4j, redis  # noqa: F401
