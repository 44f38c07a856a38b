"""The read-only banner in the Wagtail admin: list ``dbtools.contrib.wagtail`` before
``wagtail.admin`` in INSTALLED_APPS. Nothing changes on a Wagtail site that does not list it."""
