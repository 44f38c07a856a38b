"""django-db-tools: keep a Django site up, read-only, while its database is migrated."""

from dbtools.errors import ReadOnlyError

__all__ = ["ReadOnlyError"]
