"""Registration rules of a client: redirect URIs (RFC 9700 section 2.1 / 2.6, RFC 8252
section 7), scopes, and resources (RFC 8707)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

LOOPBACK = ("127.0.0.1", "[::1]", "localhost")


def validate_redirect_uri(uri: str) -> None:
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in uri):
        raise ValidationError("A redirect URI must not contain spaces or control characters")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ValidationError(f"{uri} is not a valid URI") from None
    if not parts.scheme:
        raise ValidationError(f"{uri} must be an absolute URI")
    if parts.fragment or "#" in uri:
        raise ValidationError(f"{uri} must not contain a fragment")
    if "@" in parts.netloc:
        raise ValidationError(f"{uri} must not contain user information (user@host)")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        raise ValidationError(f"{uri}: plain http is allowed only for loopback addresses")
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise ValidationError(f"{uri} has no host")
    if parts.scheme in ("javascript", "data", "file", "vbscript"):
        raise ValidationError(f"{uri}: scheme {parts.scheme} is not allowed")


def validate_redirect_uris(value: str) -> str:
    uris = value.split()
    for uri in uris:
        validate_redirect_uri(uri)
    return "\n".join(uris)


def validate_client_scope(value: str) -> str:
    """A client's allowed scopes: known words (``SCOPES`` or the introspection scope),
    normalised to one space between them."""
    from oauth_tokens.oauth2 import scopes
    from oauth_tokens.oauth2.errors import InvalidScope
    from oauth_tokens.settings import token_settings

    try:
        parsed = scopes.parse(" ".join(value.split()))
    except InvalidScope:
        raise ValidationError("Scopes are words of printable ASCII without quotes or backslashes.") from None
    if not parsed:
        raise ValidationError("Give the client at least one scope.")
    known = {*token_settings.SCOPES, token_settings.INTROSPECTION_SCOPE}
    unknown = [s for s in parsed if s not in known]
    if unknown:
        raise ValidationError(
            f"Unknown scope(s): {' '.join(unknown)}. Known: {' '.join(sorted(known))} "
            '(add new ones to OAUTH_TOKENS["SCOPES"]).'
        )
    return scopes.join(parsed)


def validate_client_resources(value: str) -> str:
    """A client's resources: absolute URIs without a fragment (RFC 8707 section 2), each
    one this server issues for (``RESOURCES``), normalised to one per line."""
    from oauth_tokens.oauth2 import resources
    from oauth_tokens.settings import token_settings

    uris = list(dict.fromkeys(value.split()))
    for uri in uris:
        wrong = resources.problem(uri)
        if wrong is not None:
            raise ValidationError(f"{uri}: a resource {wrong}.")
        if not resources.allowed(uri, server=token_settings.RESOURCES, client=(), default=token_settings.audience):
            raise ValidationError(
                f"{uri} is not a resource this server issues tokens for "
                '(OAUTH_TOKENS["RESOURCES"]; without it, https URIs, http only for loopback hosts).'
            )
    return resources.join(uris)
