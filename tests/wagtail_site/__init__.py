"""A minimal Wagtail site, run in a process of its own by tests/test_wagtail_admin.py."""
