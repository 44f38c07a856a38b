"""django-db-tools: keep a Django site up, read-only, while its database is migrated."""

from dbtools.errors import ReadOnlyError
from dbtools.permission import writes_allowed

__all__ = ["ReadOnlyError", "writes_allowed"]
