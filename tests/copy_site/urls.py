from django.urls import path

from tests.copy_site import views

urlpatterns = [
    path("whoami/", views.whoami),
    path("where/", views.where),
    path("tags/", views.tags),
    path("healthz", views.healthz),
]
