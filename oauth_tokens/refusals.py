"""Requests Django refuses to read, as OAuth errors: one mapping for the provider's
endpoints, the resource side's authentication and its DRF exception handler.

Django raises these when a view (or an authentication class) first reads the
body or the parameters: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, more fields
than ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` / ``DATA_UPLOAD_MAX_NUMBER_FILES``, a body
the server could not read. Left alone they are Django's HTML 400 (or a 500).
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import UnreadablePostError

from oauth_tokens.oauth2.errors import InvalidRequest

#: What ``as_oauth_error`` turns into an ``invalid_request``.
REFUSED = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent, UnreadablePostError)


def as_oauth_error(exc: Exception) -> InvalidRequest:
    """The ``invalid_request`` for one of ``REFUSED``: 413 for a body too large, else 400."""
    if isinstance(exc, RequestDataTooBig):
        return InvalidRequest("The request body is too large", status_code=413)
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return InvalidRequest("The request has too many parameters")
    return InvalidRequest("The request body could not be read")
