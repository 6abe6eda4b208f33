"""PostgreSQL, one concern a module: the backend, its lock, bounded lock waits, activity, errors."""
from .backend import PostgresBackend

__all__ = ["PostgresBackend"]
