from django.http import HttpRequest, HttpResponse


def whoami(request: HttpRequest) -> HttpResponse:
    """The logged-in user's name, empty for a visitor: whether a session cookie still logs in."""
    return HttpResponse(request.user.get_username(), content_type="text/plain; charset=utf-8")
