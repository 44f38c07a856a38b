"""A site with two databases, ``default`` (the source) and ``new`` (the target), for the copy and
verify commands; run in processes of its own (DJANGO_SETTINGS_MODULE=tests.copy_site.settings,
PYTHONPATH at the repository), as tests/test_copy_scaffolding.py shows.

- settings.py: each alias's backend and database from COPY_SOURCE / COPY_SOURCE_NAME and
  COPY_TARGET / COPY_TARGET_NAME, the mode's state file from COPY_STATE_FILE;
- databases.py: create, drop, open and list the real databases through the drivers;
- ``python -m django populate_copy --database ALIAS --rows N`` (tests/copyapp): the data;
- tables.py: which tables a copy covers; compare.py: ``differences()`` between two databases;
- whoami.py: who a session cookie logs in as, on the database ``default`` names.
"""
