"""Views that read the login session must not fail on what a client put in its
session cookie.

A NUL byte in the cookie is a session key no database can look up (PostgreSQL
refuses it in a text value: Django's session lookup raises ``DataError``, a 500
before our view runs a line of its own). Such a cookie is treated as absent:
the request gets a fresh, empty session (so the user is anonymous and is sent
to log in) and Django's session middleware deletes the cookie in the response.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from importlib import import_module
from typing import Any

from django.conf import settings
from django.http import HttpRequest


def ignore_unusable_session_cookie(request: HttpRequest) -> None:
    """Give ``request`` a fresh session when its session cookie cannot be looked up.
    Call it before anything reads ``request.user`` or ``request.session``."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if key is not None and "\x00" in key and hasattr(request, "session"):
        request.session = import_module(settings.SESSION_ENGINE).SessionStore()


def session_cookie_guard(view: Callable[..., Any]) -> Callable[..., Any]:
    """View decorator running ``ignore_unusable_session_cookie`` first; put it
    outside ``login_required`` and ``csrf_protect``."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        ignore_unusable_session_cookie(request)
        return view(request, *args, **kwargs)

    return guarded
