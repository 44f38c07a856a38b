"""Optional integrations with other packages, each an app a site lists in INSTALLED_APPS itself."""
