"""Client metadata of dynamic registration (RFC 7591 section 2, RFC 7592 section 2.2):
what a registration or update request may say, checked against the server's
``RegistrationPolicy``, normalized into ``ClientMetadata``.

Errors are RFC 7591 section 3.2.2's: ``invalid_redirect_uri`` for a bad redirect
URI, ``invalid_client_metadata`` for any other field, ``invalid_software_statement``
for a software statement (this server does not accept them). Fields this server
does not know are ignored (section 2), including the localized ``#lang`` variants.

Token endpoint authentication methods live in one table, ``AUTH_METHODS``; a
method named there but not yet implemented is refused with a sentence saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from oauth_tokens.oauth2 import client_assertion, scopes
from oauth_tokens.oauth2.errors import InvalidScope, OAuth2Error

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"

#: ``token_endpoint_auth_method`` -> is the client confidential (it authenticates).
#: The methods this server implements; the one place to add another.
AUTH_METHODS: dict[str, bool] = {
    "none": False, "client_secret_basic": True, "client_secret_post": True,
    client_assertion.CLIENT_SECRET_JWT: True, client_assertion.PRIVATE_KEY_JWT: True,
}
#: Methods whose client gets a secret (``private_key_jwt`` proves itself with its key).
SECRET_METHODS = ("client_secret_basic", "client_secret_post", client_assertion.CLIENT_SECRET_JWT)
#: Registered methods (RFC 7591 section 2, RFC 8705) not implemented here.
UNSUPPORTED_AUTH_METHODS = ("tls_client_auth", "self_signed_tls_client_auth")
#: The response type each grant needs (RFC 7591 section 2.1); grants without one need none.
RESPONSE_TYPE_OF_GRANT = {AUTHORIZATION_CODE: "code"}
#: Optional free-form metadata kept as given (after its type and size are checked).
URI_FIELDS = ("client_uri", "logo_uri", "tos_uri", "policy_uri")
STRING_FIELDS = ("software_id", "software_version")
MAX_STRING = 2000
MAX_NAME = 200
MAX_REDIRECT_URIS = 20
MAX_CONTACTS = 10
_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class InvalidClientMetadata(OAuth2Error):
    """RFC 7591 section 3.2.2: a metadata field's value is invalid."""

    error = "invalid_client_metadata"
    description = "The value of a client metadata field is invalid"


class InvalidRedirectUri(OAuth2Error):
    error = "invalid_redirect_uri"
    description = "The value of a redirect URI is invalid"


class InvalidSoftwareStatement(OAuth2Error):
    error = "invalid_software_statement"
    description = "Software statements are not accepted by this server"


@dataclass(frozen=True)
class RegistrationPolicy:
    """What this server lets a registering client choose."""

    #: ``token_endpoint_auth_method`` values allowed (a subset of ``AUTH_METHODS``).
    auth_methods: tuple[str, ...] = ("none",)
    #: Grant types allowed (only those the server has enabled).
    grant_types: tuple[str, ...] = (AUTHORIZATION_CODE, REFRESH_TOKEN)
    #: Scopes a registered client may have; also its scopes when it asks for none.
    scopes: tuple[str, ...] = ()
    #: Private-use URI schemes for native apps' redirects (RFC 8252 section 7.1).
    custom_schemes: bool = False


@dataclass(frozen=True)
class ClientMetadata:
    """A registration request, checked and normalized."""

    client_name: str
    token_endpoint_auth_method: str
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    scope: tuple[str, ...]
    #: client_uri, logo_uri, tos_uri, policy_uri, contacts, software_id, software_version (those given).
    extra: dict[str, Any] = field(default_factory=dict)
    #: ``private_key_jwt``: the client's public keys, one of the two (RFC 7591 section 2).
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    #: RFC 9449 section 5.2: the client always uses DPoP (its token requests need a proof).
    dpop_bound_access_tokens: bool = False

    @property
    def is_confidential(self) -> bool:
        return AUTH_METHODS[self.token_endpoint_auth_method]

    @property
    def gets_secret(self) -> bool:
        return self.token_endpoint_auth_method in SECRET_METHODS


def redirect_uri_problem(uri: str, *, custom_schemes: bool) -> str | None:
    """What is wrong with a redirect URI a client registers itself (RFC 9700 section
    2.1, RFC 8252 sections 7.1 and 7.3), or None: https; http only on a loopback
    host; a private-use scheme (reverse domain name, with a period) only when
    ``custom_schemes``; never a fragment, user information or control characters."""
    if any(ord(c) < 0x21 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in uri):
        return "A redirect URI must not contain spaces, control characters or lone surrogates"
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return "A redirect URI is not a valid URI"
    scheme = parts.scheme.lower()
    if "#" in uri:
        return "A redirect URI must not contain a fragment"
    if "@" in parts.netloc:
        return "A redirect URI must not contain user information"
    if scheme == "https":
        return None if host else "An https redirect URI needs a host"
    if scheme == "http":
        return None if host and _is_loopback(host) else "Plain http redirect URIs are allowed for loopback hosts only"
    if not scheme:
        return "A redirect URI must be an absolute URI"
    if not custom_schemes:
        return "Redirect URIs must use https (or http on a loopback host)"
    if "." not in scheme or scheme in ("javascript", "data", "file", "vbscript"):
        return "A private-use URI scheme must be a reverse domain name, such as com.example.app"
    return None


def _is_loopback(host: str) -> bool:
    """The loopback hosts the admin accepts for http too (``provider.validators``)."""
    return host in _LOOPBACK_HOSTS


def _text(value: Any, limit: int = MAX_STRING) -> bool:
    """A non-empty string of at most ``limit`` characters, without control characters
    or lone surrogates (which no database stores as text)."""
    return isinstance(value, str) and bool(value.strip()) and len(value) <= limit and not any(
        ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in value)


def _string(body: Mapping[str, Any], name: str, limit: int = MAX_STRING) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not _text(value, limit):
        raise InvalidClientMetadata(f"{name} must be a non-empty string of at most {limit} characters")
    return str(value)


def _strings(body: Mapping[str, Any], name: str, limit: int) -> tuple[str, ...] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > limit or not all(_text(v) for v in value):
        raise InvalidClientMetadata(f"{name} must be an array of at most {limit} non-empty strings")
    return tuple(dict.fromkeys(value))


def _web_uri(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or any(ord(c) < 0x21 for c in value):
        raise InvalidClientMetadata(f"{name} must be an http(s) URL")
    return value


def parse_metadata(body: Mapping[str, Any], policy: RegistrationPolicy) -> ClientMetadata:
    """``body`` (the JSON object of a registration or update request) as ``ClientMetadata``,
    or the RFC 7591 error naming the first field that is wrong."""
    if body.get("software_statement") is not None:
        raise InvalidSoftwareStatement()

    # Omitted: RFC 7591's default (client_secret_basic) where allowed, else the policy's first method.
    method = _string(body, "token_endpoint_auth_method", 100) or (
        "client_secret_basic" if "client_secret_basic" in policy.auth_methods else policy.auth_methods[0])
    if method in UNSUPPORTED_AUTH_METHODS or (method not in AUTH_METHODS):
        raise InvalidClientMetadata(f"token_endpoint_auth_method {method} is not supported by this server")
    if method not in policy.auth_methods:
        raise InvalidClientMetadata(
            f"token_endpoint_auth_method {method} is not allowed here; allowed: {' '.join(policy.auth_methods)}")
    confidential = AUTH_METHODS[method]

    grants = _strings(body, "grant_types", 10) or (AUTHORIZATION_CODE,)
    response_types = _strings(body, "response_types", 10)
    if response_types is None:
        response_types = tuple(RESPONSE_TYPE_OF_GRANT[g] for g in grants if g in RESPONSE_TYPE_OF_GRANT)
    refused = [g for g in grants if g not in policy.grant_types]
    if refused:
        raise InvalidClientMetadata(f"grant_types not allowed here: {' '.join(refused)}")
    if CLIENT_CREDENTIALS in grants and not confidential:
        raise InvalidClientMetadata("client_credentials needs a confidential client (a secret)")
    unknown_types = [t for t in response_types if t not in RESPONSE_TYPE_OF_GRANT.values()]
    if unknown_types:
        raise InvalidClientMetadata(f"response_types not supported: {' '.join(unknown_types)}")
    needed = {RESPONSE_TYPE_OF_GRANT[g] for g in grants if g in RESPONSE_TYPE_OF_GRANT}
    if needed != set(response_types):
        raise InvalidClientMetadata("grant_types and response_types disagree: authorization_code goes with code")

    redirect_uris = _redirect_uris(body, policy)
    if AUTHORIZATION_CODE in grants and not redirect_uris:
        raise InvalidRedirectUri("The authorization_code grant needs at least one redirect URI")

    jwks, jwks_uri = _keys(body, method)
    dpop_bound = body.get("dpop_bound_access_tokens", False)
    if not isinstance(dpop_bound, bool):
        raise InvalidClientMetadata("dpop_bound_access_tokens must be true or false")
    return ClientMetadata(
        client_name=(_string(body, "client_name", MAX_NAME) or "").strip(),
        token_endpoint_auth_method=method,
        grant_types=grants,
        response_types=response_types,
        redirect_uris=redirect_uris,
        scope=_scope(body, policy),
        extra=_extra(body),
        jwks=jwks,
        jwks_uri=jwks_uri,
        dpop_bound_access_tokens=dpop_bound,
    )


def _keys(body: Mapping[str, Any], method: str) -> tuple[dict[str, Any] | None, str | None]:
    """``jwks`` or ``jwks_uri`` (never both, RFC 7591 section 2): required for
    ``private_key_jwt``, refused for any other method (nothing would use them)."""
    jwks, jwks_uri = body.get("jwks"), _string(body, "jwks_uri")
    if method != client_assertion.PRIVATE_KEY_JWT:
        if jwks is not None or jwks_uri is not None:
            raise InvalidClientMetadata("jwks and jwks_uri are for token_endpoint_auth_method private_key_jwt")
        return None, None
    if (jwks is None) == (jwks_uri is None):
        raise InvalidClientMetadata("private_key_jwt needs the client's public keys: jwks or jwks_uri, not both")
    if jwks is not None:
        problem = client_assertion.public_jwks_problem(jwks)
        if problem:
            raise InvalidClientMetadata(f"jwks {problem}")
        return dict(jwks), None
    assert jwks_uri is not None
    parts = urlsplit(jwks_uri)
    if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc or "#" in jwks_uri:
        raise InvalidClientMetadata("jwks_uri must be an https URL")
    return None, jwks_uri


def _redirect_uris(body: Mapping[str, Any], policy: RegistrationPolicy) -> tuple[str, ...]:
    value = body.get("redirect_uris")
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_REDIRECT_URIS or not all(isinstance(v, str) for v in value):
        raise InvalidRedirectUri(f"redirect_uris must be an array of at most {MAX_REDIRECT_URIS} strings")
    for uri in value:
        problem = "A redirect URI is too long" if len(uri) > MAX_STRING else \
            redirect_uri_problem(uri, custom_schemes=policy.custom_schemes)
        if problem:
            raise InvalidRedirectUri(problem)
    return tuple(dict.fromkeys(value))


def _scope(body: Mapping[str, Any], policy: RegistrationPolicy) -> tuple[str, ...]:
    value = _string(body, "scope")
    try:
        wanted = scopes.parse(value)
    except InvalidScope:
        raise InvalidClientMetadata("scope contains invalid characters") from None
    if not wanted:
        return policy.scopes
    refused = [s for s in wanted if s not in policy.scopes]
    if refused:
        raise InvalidClientMetadata(f"scope not allowed here: {' '.join(refused)}")
    return wanted


def _extra(body: Mapping[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for name in URI_FIELDS:
        value = _string(body, name)
        if value is not None:
            extra[name] = _web_uri(name, value)
    contacts = _strings(body, "contacts", MAX_CONTACTS)
    if contacts is not None:
        if any(len(c) > 320 for c in contacts):
            raise InvalidClientMetadata("contacts must be short strings (e-mail addresses)")
        extra["contacts"] = list(contacts)
    for name in STRING_FIELDS:
        value = _string(body, name, MAX_NAME)
        if value is not None:
            extra[name] = value
    return extra
