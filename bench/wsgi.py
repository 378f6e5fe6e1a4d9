"""WSGI entry point of the benchmark site (``gunicorn bench.wsgi``: ``python -m bench.http``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
application = get_wsgi_application()
