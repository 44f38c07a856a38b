"""No pages: the copy benchmark runs management commands only."""

urlpatterns: list[object] = []
