"""``private_key_jwt`` and ``client_secret_jwt`` at the provider's endpoints (RFC
7523, OpenID Connect Core section 9): the keys, audiences and replay record
against which ``oauth2.client_assertion`` checks a client's assertion.

- Audiences: the issuer identifier (draft-ietf-oauth-rfc7523bis). With
  ``CLIENT_ASSERTION_ENDPOINT_AUDIENCE`` (the default) also the token endpoint's
  URL and the URL of the endpoint called, which RFC 7523 and OpenID Connect
  clients send (Authlib, for one). Those URLs are built on the issuer's origin,
  never on the request's ``Host``. Accepting the token endpoint URL keeps the
  weakness rfc7523bis closes (a client fooled by a malicious server's metadata
  into signing for our token endpoint URL); projects whose clients all send the
  issuer turn the setting off.
- Keys: ``private_key_jwt`` verifies with the client's registered ``jwks``, or
  with the JWK Set at its ``jwks_uri``, fetched by ``safe_fetch`` (SSRF rules,
  HTTP caching). A ``kid`` the cached set lacks refetches it once, at most once
  per ``JWKS_MIN_REFETCH_INTERVAL`` per URL in each process, so a client's key
  rotation is picked up at once and a stream of made-up kids cannot make us
  fetch in a loop. ``client_secret_jwt`` verifies with the client secret, kept
  encrypted for such clients only (``Client.hmac_secret``).
- Replay: each accepted ``jti`` is recorded in the database
  (``ClientAssertionUse``) until the assertion expires. Not in the cache: a
  per-process cache would let another process accept the same assertion, and a
  shared one that is down would have to either refuse every JWT client or
  accept replays; the unique row does neither.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from oauth_tokens import process_caches
from oauth_tokens.oauth2 import client_assertion
from oauth_tokens.oauth2.client_assertion import Policy
from oauth_tokens.oauth2.errors import InvalidClient
from oauth_tokens.provider import models, safe_fetch
from oauth_tokens.provider.endpoint_urls import (  # noqa: F401 (the endpoints' names, for callers)
    DEVICE_AUTHORIZATION_ENDPOINT,
    INTROSPECTION_ENDPOINT,
    REVOCATION_ENDPOINT,
    TOKEN_ENDPOINT,
    url_of,
)
from oauth_tokens.provider.models import Client, ClientAssertionUse
from oauth_tokens.settings import token_settings

#: The endpoints that authenticate clients: (URL name, path when it is not mounted).

_refetched: dict[str, float] = {}  # jwks_uri -> time.monotonic() of its last forced refetch
_lock = threading.Lock()


def audiences(endpoint: tuple[str, str]) -> list[str]:
    """The ``aud`` values accepted in assertions sent to ``endpoint``."""
    accepted = [token_settings.issuer]
    if token_settings.CLIENT_ASSERTION_ENDPOINT_AUDIENCE:
        accepted += [url_of(*TOKEN_ENDPOINT), url_of(*endpoint)]
    return accepted


class _Replay:
    def first_use(self, client_id: str, jti: str, expires_at: float) -> bool:
        return ClientAssertionUse.first_use(client_id, jti, datetime.fromtimestamp(expires_at, tz=UTC))


class AssertionVerifier:
    """Checks client assertions sent to one endpoint (``oauth2.client_assertion.AssertionVerifier``)."""

    def __init__(self, endpoint: tuple[str, str] = TOKEN_ENDPOINT) -> None:
        self.endpoint = endpoint

    def verify(self, client: Client, assertion: str) -> None:
        policy = Policy(
            audiences=audiences(self.endpoint),
            now=models.now().timestamp(),
            leeway=float(token_settings.JWT_LEEWAY),
            max_lifetime=float(token_settings.CLIENT_ASSERTION_MAX_LIFETIME),
        )
        client_assertion.verify(
            assertion, client_id=client.client_id, method=client.token_endpoint_auth_method,
            keys=lambda kid, alg: keys_of(client, kid, alg), policy=policy, replay=_Replay(),
        )


def keys_of(client: Client, kid: str | None, alg: str) -> list[Any]:
    """The keys that may verify an assertion of ``client`` with this ``kid`` and ``alg``."""
    if client.token_endpoint_auth_method == client_assertion.CLIENT_SECRET_JWT:
        secret = client.hmac_secret()
        if secret is None:
            raise InvalidClient("Invalid client assertion: this client has no secret for client_secret_jwt; "
                                "regenerate its secret")
        return [secret.encode("utf-8")]
    if client.jwks:
        return client_assertion.jwks_keys(client.jwks, kid, alg)[0]
    if not client.jwks_uri:
        return []
    try:
        return keys_at(client.jwks_uri, kid, alg)
    except safe_fetch.FetchError as exc:
        raise InvalidClient(f"Invalid client assertion: the client's jwks_uri could not be used: {exc}") from None


def keys_at(jwks_uri: str, kid: str | None, alg: str) -> list[Any]:
    """The keys of the JWK Set at ``jwks_uri`` (fetched by ``safe_fetch``, cached) that
    may verify a ``kid`` / ``alg`` header; a ``kid`` the cached set lacks refetches it
    (``_may_refetch``). ``safe_fetch.FetchError`` when it cannot be fetched. Also the
    keys of the JWT bearer grant's issuers (``provider.jwt_bearer``) and of token
    exchange's trusted issuers (``provider.exchange_issuers``)."""
    keys, found = client_assertion.jwks_keys(safe_fetch.fetch_json(jwks_uri), kid, alg)
    if not found and _may_refetch(jwks_uri):
        keys, _found = client_assertion.jwks_keys(safe_fetch.fetch_json(jwks_uri, refresh=True), kid, alg)
    return keys


def _may_refetch(url: str) -> bool:
    """True (and counted) when ``url`` was not refetched for an unknown kid within
    ``JWKS_MIN_REFETCH_INTERVAL`` seconds by this process."""
    interval = float(token_settings.JWKS_MIN_REFETCH_INTERVAL)
    moment = time.monotonic()
    with _lock:
        last = _refetched.get(url)
        if last is not None and moment - last < interval:
            return False
        _refetched[url] = moment
        return True


@process_caches.resets_on("OAUTH_TOKENS", "CACHES")
def reset() -> None:
    """Forget the refetch times (tests, settings changed)."""
    with _lock:
        _refetched.clear()
