"""A minimal Wagtail site with dbtools, as the README tells a Wagtail user to set it up.

Kept apart from tests/settings.py: Wagtail's apps would change every other test of the suite.
"""

from __future__ import annotations

import os

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["DBTOOLS_WAGTAIL_DB"],
    }
}
SECRET_KEY = "dbtools-wagtail-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "tests.wagtail_site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_URL = "/static/"
WAGTAIL_SITE_NAME = "dbtools test site"
WAGTAILADMIN_BASE_URL = "http://testserver"
DBTOOLS_MESSAGE = "The Wagtail test site is moving its database."

# The fewest apps the admin renders with: its pages reverse the images' and documents' URLs.
WAGTAIL_APPS = [
    "wagtail.sites",
    "wagtail.users",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
]
# DBTOOLS_WAGTAIL_ORDER=wrong lists the banner's app after wagtail.admin, for dbtools.W003.
BANNER_APP = ["dbtools.contrib.wagtail"]
if os.environ.get("DBTOOLS_WAGTAIL_ORDER") == "wrong":
    WAGTAIL_APPS = WAGTAIL_APPS + BANNER_APP
else:
    WAGTAIL_APPS = BANNER_APP + WAGTAIL_APPS

INSTALLED_APPS = [
    "dbtools",
    *WAGTAIL_APPS,
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "dbtools.middleware.ReadOnlyMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dbtools.context_processors.read_only",
            ]
        },
    }
]
