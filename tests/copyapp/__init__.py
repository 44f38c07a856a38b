"""Models covering every Django field type and relation shape, for the copy and verify commands.

Installed by the two-database site in tests/copy_site/, never by tests/settings.py: the rest of the
suite has no use for its tables.
"""
