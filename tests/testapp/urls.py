from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from tests.testapp import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("whoami/", views.whoami),
    path("awhoami/", views.awhoami),
    path("notes/", views.notes),
    path("anotes/", views.anotes),
    path("api/notes/", views.api_notes),
    path("session/", views.session_writer),
    path("history/", views.page_history),
    path("message/", views.message_adder),
    path("counter/", views.counter),
    path("page/", views.page),
    path("health/", views.health),
    path("header-auth/", views.header_auth),
    path("signal/", views.signalled),
    path("magic-login/", views.magic_login),
    path("lose-connection/", views.lose_connection),
    path("logout/", auth_views.LogoutView.as_view(next_page="/whoami/")),
    path("login/", auth_views.LoginView.as_view(template_name="testapp/login.html")),
    path("ops/status/", include("dbtools.urls")),
]
