from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.urls import path


def page(request: HttpRequest) -> HttpResponse:
    """A typical read: one small query, a small page."""
    return HttpResponse(f"hello {User.objects.filter(pk=1).values_list('username', flat=True)[0]}")


urlpatterns = [path("", page)]
