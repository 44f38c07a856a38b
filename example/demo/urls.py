from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from notes import views

urlpatterns = [
    path("", views.home, name="home"),
    path("notes/new/", views.new_note, name="new_note"),
    path("notes/<int:pk>/", views.note_detail, name="note_detail"),
    path("api/notes/", views.api_notes, name="api_notes"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("dbtools/", include("dbtools.urls")),
]
