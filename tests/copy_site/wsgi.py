"""The two-database site under gunicorn, for the cut-over tests."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
