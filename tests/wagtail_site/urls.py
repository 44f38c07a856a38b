"""The URL order the README gives: dbtools' status before Wagtail's catch-all page serving."""

from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("ops/status/", include("dbtools.urls")),
    path("", include(wagtail_urls)),
]
