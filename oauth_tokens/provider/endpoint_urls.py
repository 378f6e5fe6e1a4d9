"""The provider's endpoints as absolute URLs on the issuer's origin: for the
metadata documents, and for what requests must name (client assertions' ``aud``,
DPoP proofs' ``htu``, assertion grants' audience).

It needs only Django's ``reverse`` and the settings, so that the modules the
views use can import it at the top without importing the views back.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.urls import NoReverseMatch, reverse

from oauth_tokens.settings import token_settings

#: (URL name, path when the name is not in the project's URLconf)
TOKEN_ENDPOINT = ("oauth_tokens:token", "/oauth/token")
REVOCATION_ENDPOINT = ("oauth_tokens:revoke", "/oauth/revoke")
INTROSPECTION_ENDPOINT = ("oauth_tokens:introspect", "/oauth/introspect")
DEVICE_AUTHORIZATION_ENDPOINT = ("oauth_tokens:device-authorization", "/oauth/device_authorization")
PAR_ENDPOINT = ("oauth_tokens:par", "/oauth/par")


def url_of(name: str, fallback: str) -> str:
    """Absolute URL of a named route, built on the issuer's origin."""
    parts = urlsplit(token_settings.issuer)
    try:
        path = reverse(name)
    except NoReverseMatch:
        path = fallback
    return f"{parts.scheme}://{parts.netloc}{path}"
