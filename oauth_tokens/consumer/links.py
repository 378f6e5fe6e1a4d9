"""Where the consumer sends a user: the page that (re)connects them to a provider
(``views.connect``, routed in ``urls.py``), for the errors and signals that say
the user must authorize again.

Kept apart from ``views`` and ``urls`` so the refresh code can name the page
without importing the views (which import the service that runs the refresh).
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse


def connect_url(provider: str) -> str:
    """The connect page for ``provider``, or "" when the project has not mounted
    ``oauth_tokens.consumer.urls``."""
    try:
        return reverse("oauth_tokens_consumer:connect", kwargs={"provider": provider})
    except NoReverseMatch:
        return ""
