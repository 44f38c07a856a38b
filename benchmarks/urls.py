from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.urls import path


def page(request: HttpRequest) -> HttpResponse:
    """A typical read for a logged-in visitor: the user, one small query, a small page."""
    first = User.objects.filter(pk=1).values_list("username", flat=True)[0]
    return HttpResponse(f"hello {request.user.get_username()}, first {first}")


urlpatterns = [path("", page)]
