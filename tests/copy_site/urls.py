from django.urls import path

from tests.copy_site import views

urlpatterns = [path("whoami/", views.whoami)]
