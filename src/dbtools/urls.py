"""Include with ``path("<anything>/", include("dbtools.urls"))``; the status is at its root."""

from django.urls import path

from dbtools import views

app_name = "dbtools"
urlpatterns = [path("", views.status, name="status")]
