"""The example project's WSGI application, with the answering worker's process id
in an ``X-Worker-Pid`` header: the load part uses it to ask every gunicorn worker
about each revoked token. Only the reliability suite serves this module; the
example project itself never sends the header.
"""

import os

from example_project.wsgi import application as _django


def application(environ, start_response):
    def start(status, headers, exc_info=None):
        return start_response(status, [*headers, ("X-Worker-Pid", str(os.getpid()))], exc_info)

    return _django(environ, start)
