"""Storage: engines, the transaction scope, shared column types and migrations."""

from krsn.db.base import Base
from krsn.db.database import Database, get_database, set_database

__all__ = ["Base", "Database", "get_database", "set_database"]
