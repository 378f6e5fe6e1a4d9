"""DPoP (RFC 9449) on a Django request, for both roles: the ``DPoP`` header, the
URI a proof must name, the server nonces, and the replay record of the resource
side. The provider and the resource server both use it (neither imports the other).

The request's URI (``htu``, section 4.3) is what Django sees:
``request.build_absolute_uri(request.path)``. Behind a reverse proxy that
terminates TLS or rewrites the host, configure Django as for any absolute URL
(``SECURE_PROXY_SSL_HEADER``, ``USE_X_FORWARDED_HOST`` / ``ALLOWED_HOSTS``);
otherwise proofs naming the public URL are refused as "for another URL".

Nonces (section 8) are stateless (``oauth2.dpop.Nonces``): an HMAC of a time
window under a key derived from the digest key, so every process of the
project issues and accepts the same ones without storing anything.

Replay on the resource side (section 11.1): each proof's ``jti`` is added to
Django's default cache (``cache.add``, atomic on Redis and Memcached) for as
long as the proof could be accepted, keyed by the key's thumbprint: no database
query per API request. The call is bounded like every shared-cache call
(``sharedcache``: ``CACHE_TIMEOUT``, then the circuit stays open for
``CACHE_RETRY_AFTER``), so a cache that is down or hangs costs at most one short
wait, never a 500. The failure mode, documented in docs/operations.md: with the cache
unavailable, the proof is accepted and a warning logged (a replay within the
proof's short window, of a proof made for that very method and URL and token,
is then possible); with the per-process local-memory cache a replay to another
process is not seen. The provider's token endpoint records proofs in the
database instead (``provider.dpop``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS

from oauth_tokens import crypto, sharedcache
from oauth_tokens.oauth2 import dpop
from oauth_tokens.oauth2.errors import InvalidToken
from oauth_tokens.oauth2.jwt import MAX_TOKEN_LENGTH
from oauth_tokens.settings import token_settings

logger = logging.getLogger(__name__)

HEADER = "HTTP_DPOP"


def proof_header(request: Any) -> str | None:
    """The ``DPoP`` header of a Django (or DRF) request; None when absent. Several
    headers reach Django joined by commas, which ``verify_proof`` refuses."""
    value = request.META.get(HEADER)
    return None if value is None else str(value)


def request_uri(request: Any) -> str:
    """The request's URI as a proof must name it: scheme, host and path (no query)."""
    return str(request.build_absolute_uri(request.path))


def nonces() -> dpop.Nonces:
    return dpop.Nonces(crypto.purpose_key("dpop-nonce"), float(token_settings.DPOP_NONCE_LIFETIME))


def policy(request: Any, *, uris: list[str], now: float, nonce_required: bool,
           access_token: str | None = None) -> dpop.ProofPolicy:
    """The rules a proof sent with ``request`` is checked against."""
    return dpop.ProofPolicy(
        method=str(request.method), uris=uris, now=now,
        max_age=float(token_settings.DPOP_PROOF_MAX_AGE), leeway=float(token_settings.JWT_LEEWAY),
        nonces=nonces() if nonce_required else None, access_token=access_token,
    )


class CacheReplay:
    """The replay record of the resource side: Django's default cache."""

    def first_use(self, jkt: str, jti: str, expires_at: float) -> bool:
        key = "oauth_tokens:dpop:" + hashlib.sha256(f"{jkt}\x00{jti}".encode("utf-8", "surrogatepass")).hexdigest()
        timeout = max(1, int(expires_at - time.time()))
        added = sharedcache.call(DEFAULT_CACHE_ALIAS, lambda cache: cache.add(key, 1, timeout), "DPoP replay check")
        if added is sharedcache.FAILED:  # accepted, see the module docstring (sharedcache logged why)
            logger.warning("DPoP replay check skipped: the cache is unavailable")
            return True
        return bool(added)



def token_of(request: Any) -> str | None:
    """The access token of ``Authorization: DPoP <token>`` (section 7.1); None for
    another scheme or none. A malformed one is ``invalid_token`` with the DPoP challenge."""
    scheme, _, rest = str(request.META.get("HTTP_AUTHORIZATION", "")).strip().partition(" ")
    if scheme.lower() != "dpop":
        return None
    token = rest.strip()
    if not token or " " in token or len(token) > MAX_TOKEN_LENGTH:
        raise dpop.DPoPInvalidToken("The Authorization header carries no well-formed DPoP access token")
    return token


def check_binding(request: Any, token: str, claims: Mapping[str, Any], *, nonce_required: bool) -> str:
    """For a request that presents ``token`` (whose verified claims are ``claims``)
    with the DPoP scheme: its proof for this request, checked (``ath`` included) and
    recorded in the cache, made with the key the token is bound to. Returns that
    key's thumbprint; raises the 401 error to answer with (DPoP challenge)."""
    bound = dpop.confirmed_jkt(claims)
    if bound is None:
        raise dpop.DPoPInvalidToken("This access token is not DPoP-bound: send it as a Bearer token")
    header = proof_header(request)
    if header is None:
        raise dpop.InvalidDPoPProof("A DPoP proof (the DPoP header) is required with a DPoP access token").at_resource()
    try:
        proof = dpop.verify_proof(
            header,
            policy(request, uris=[request_uri(request)], now=time.time(), nonce_required=nonce_required,
                   access_token=token),
            CacheReplay(),
        )
    except dpop.DPoPError as error:
        raise error.at_resource() from None
    if proof.jkt != bound:
        raise dpop.InvalidDPoPProof("The DPoP proof is not made with the key the access token is bound to"
                                    ).at_resource()
    return proof.jkt


def refuse_bound_bearer(claims: Mapping[str, Any]) -> None:
    """Section 7.2: a DPoP-bound token presented as a Bearer token is refused."""
    if dpop.confirmed_jkt(claims) is not None:
        raise BoundTokenAsBearer()


class BoundTokenAsBearer(InvalidToken):
    """401 ``invalid_token`` with both challenges: the token needs the DPoP scheme."""

    description = "This access token is DPoP-bound: send it with Authorization: DPoP and a DPoP proof"

    def headers(self) -> dict[str, str]:
        bearer = super().headers()["WWW-Authenticate"]
        return {"WWW-Authenticate": f"{bearer}, {dpop.dpop_challenge()}"}
