"""The WSGI application of every process of the cluster demo (the settings module
comes from DJANGO_SETTINGS_MODULE): Django's, with an ``X-Served-By:
<HOST_NAME>/<worker pid>`` header, so that the demo sees which host and which
gunicorn worker answered each request."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

_django = get_wsgi_application()


def application(environ, start_response):
    served_by = f"{settings.HOST_NAME}/{os.getpid()}"

    def start(status, headers, exc_info=None):
        return start_response(status, [*headers, ("X-Served-By", served_by)], exc_info)

    return _django(environ, start)
