"""OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document):
a ``client_id`` that is an https URL names a JSON document, served there by the
client, holding its metadata (RFC 7591 names). The authorization server fetches
it instead of holding a registration.

Pure rules, no I/O: which ``client_id`` values are document URLs (section 3),
and what a fetched document must hold (section 4): its ``client_id`` equal to
the URL it was fetched from, no shared secret (the client is public, or
authenticates with ``private_key_jwt``), redirect URIs that are absolute and
fragment-free, only the code and refresh grants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from oauth_tokens.oauth2 import registration
from oauth_tokens.oauth2.errors import OAuth2Error

#: Section 6.1 suggests a limit of 5 kilobytes.
MAX_DOCUMENT_BYTES = 5 * 1024
MAX_CLIENT_ID_LENGTH = 255
#: Grants a document client may use: it is redirected to, so it has a user.
GRANT_TYPES = ("authorization_code", "refresh_token")
SHARED_SECRET_METHODS = ("client_secret_basic", "client_secret_post", "client_secret_jwt")
AUTH_METHODS = ("none", "private_key_jwt")
MAX_NAME = 200
MAX_REDIRECT_URIS = 20


class InvalidDocument(OAuth2Error):
    """The document cannot describe this client; shown to the user, never redirected."""

    error = "invalid_client"
    status_code = 400
    description = "The client's metadata document is not valid"


def is_document_url(client_id: str) -> bool:
    """Whether ``client_id`` names a metadata document (section 3): an https URL with
    a path other than ``/``, no fragment, no user or password, no ``.`` or ``..``
    segment; at most ``MAX_CLIENT_ID_LENGTH`` characters."""
    if not client_id.startswith("https://") or len(client_id) > MAX_CLIENT_ID_LENGTH:
        return False
    if any(c in client_id for c in "#\\ \t\r\n\x00") or not client_id.isprintable():
        return False
    try:
        parts = urlsplit(client_id)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    if not parts.hostname or "@" in parts.netloc or parts.path in ("", "/"):
        return False
    segments = parts.path.split("/")[1:]
    return not any(s in (".", "..") or s.lower() in ("%2e", "%2e%2e", ".%2e", "%2e.") for s in segments)


@dataclass(frozen=True)
class DocumentClient:
    """What a valid document says about its client."""

    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    scope: str | None
    auth_method: str
    jwks_uri: str | None
    jwks: Mapping[str, Any] | None
    client_uri: str | None
    logo_uri: str | None


def _string(document: Mapping[str, Any], name: str, *, limit: int = 2000) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise InvalidDocument(f"'{name}' in the client's metadata document must be a string")
    return value


def _https_uri(document: Mapping[str, Any], name: str) -> str | None:
    value = _string(document, name)
    if value is not None and not value.startswith("https://"):
        raise InvalidDocument(f"'{name}' in the client's metadata document must be an https URL")
    return value


def _redirect_uri(uri: Any) -> str:
    """The rule of self-registered clients (``registration.redirect_uri_problem``):
    https, or http on a loopback host; no private-use schemes from a document."""
    if not isinstance(uri, str) or len(uri) > 2000:
        raise InvalidDocument("Every redirect URI in the client's metadata document must be a string")
    problem = registration.redirect_uri_problem(uri, custom_schemes=False)
    if problem is not None:
        raise InvalidDocument(f"{problem} (the client's metadata document lists {uri!r})")
    return uri


def parse_document(url: str, document: Any) -> DocumentClient:
    """The client ``document`` (fetched from ``url``) describes, or ``InvalidDocument``."""
    if not isinstance(document, Mapping):
        raise InvalidDocument("The client's metadata document is not a JSON object")
    if document.get("client_id") != url:
        raise InvalidDocument("The client's metadata document names another client_id than its URL")
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise InvalidDocument("A client metadata document must not hold a client secret")
    auth_method = document.get("token_endpoint_auth_method", "none")
    if auth_method not in AUTH_METHODS:
        raise InvalidDocument(f"token_endpoint_auth_method {auth_method!r} is not allowed in a client metadata "
                              f"document (allowed: {', '.join(AUTH_METHODS)})")
    jwks_uri, jwks = _https_uri(document, "jwks_uri"), document.get("jwks")
    if jwks is not None and not (isinstance(jwks, Mapping) and isinstance(jwks.get("keys"), list)):
        raise InvalidDocument("'jwks' in the client's metadata document must be a JWK set")
    if auth_method == "private_key_jwt" and jwks_uri is None and jwks is None:
        raise InvalidDocument("private_key_jwt needs 'jwks' or 'jwks_uri' in the client's metadata document")
    redirect_uris = document.get("redirect_uris")
    if not isinstance(redirect_uris, list) or not redirect_uris or len(redirect_uris) > MAX_REDIRECT_URIS:
        raise InvalidDocument("The client's metadata document must list its redirect_uris")
    grant_types = document.get("grant_types", ["authorization_code"])
    if not isinstance(grant_types, list) or not grant_types or any(g not in GRANT_TYPES for g in grant_types):
        raise InvalidDocument(f"grant_types in a client metadata document may only be {', '.join(GRANT_TYPES)}")
    if "authorization_code" not in grant_types:
        raise InvalidDocument("A client metadata document's client must use the authorization_code grant")
    response_types = document.get("response_types", ["code"])
    if response_types != ["code"]:
        raise InvalidDocument("response_types in a client metadata document may only be ['code']")
    host = urlsplit(url).hostname or url
    name = (_string(document, "client_name", limit=MAX_NAME) or "").strip() or host
    return DocumentClient(
        client_id=url,
        name=name,
        redirect_uris=tuple(dict.fromkeys(_redirect_uri(u) for u in redirect_uris)),
        grant_types=tuple(dict.fromkeys(grant_types)),
        scope=_string(document, "scope"),
        auth_method=auth_method,
        jwks_uri=jwks_uri,
        jwks=jwks,
        client_uri=_https_uri(document, "client_uri"),
        logo_uri=_https_uri(document, "logo_uri"),
    )

