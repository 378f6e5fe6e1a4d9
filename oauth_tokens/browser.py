"""The browser-facing views (the authorization endpoint, the consumer's connect,
callback and disconnect views) must not fail on what a browser, or someone
posing as one, sends around their parameters.

``browser_view(render_error)`` wraps such a view:

- A session cookie with a NUL byte is a key no database can look up
  (PostgreSQL refuses it in a text value: Django's session lookup raises
  ``DataError``, a 500 before the view runs a line of its own). It is treated as
  absent: the request gets a fresh, empty session (the user is anonymous and is
  sent to log in) and Django's session middleware deletes the cookie.
- A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, more fields than
  ``DATA_UPLOAD_MAX_NUMBER_FIELDS``, an unreadable or malformed body (a
  multipart body without its boundary), or a URL too long to
  be the login page's ``next`` (Django refuses redirects over 16 KB) get
  ``render_error(request, message, *args, **kwargs)``: the view's own error page,
  instead of Django's bare 400.
- CSRF is checked here (``csrf_protect``), not by the project's middleware,
  which would read the body before the view and answer those cases with the
  bare 400 itself; so the view is protected with or without the middleware.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    DisallowedRedirect,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt, csrf_protect

TOO_LARGE = "The request is too large."
UNREADABLE = "The request body could not be read."


def ignore_unusable_session_cookie(request: HttpRequest) -> None:
    """Give ``request`` a fresh session when its session cookie cannot be looked up.
    Call it before anything reads ``request.user`` or ``request.session``."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if key is not None and "\x00" in key and hasattr(request, "session"):
        request.session = import_module(settings.SESSION_ENGINE).SessionStore()


def browser_view(
    render_error: Callable[..., HttpResponse], *, csrf: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for a browser-facing view function (or ``dispatch``); outermost.
    ``csrf=False``: the view checks CSRF itself where it must (the end-session
    endpoint takes cross-site POSTs from relying parties, and only its
    confirmation form needs the check)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        protected = csrf_protect(view) if csrf else view

        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            ignore_unusable_session_cookie(request)
            try:
                return protected(request, *args, **kwargs)
            except (DisallowedRedirect, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
                return render_error(request, TOO_LARGE, *args, **kwargs)
            except (UnreadablePostError, MultiPartParserError, BadRequest):
                return render_error(request, UNREADABLE, *args, **kwargs)

        return csrf_exempt(guarded)  # for the middleware: checked above

    return decorator
