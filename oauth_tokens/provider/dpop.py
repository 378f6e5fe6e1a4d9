"""DPoP at the token endpoint (RFC 9449 section 5): the proof of a token request.

A token request may carry one ``DPoP`` header. Its proof is checked by
``oauth2.dpop.verify_proof`` against the request: ``htm`` POST, ``htu`` the
token endpoint's URL (as the request reached Django, or as the metadata
advertise it: a proxy in front may rename it), a fresh ``iat``, a server nonce
when ``DPOP_NONCE_REQUIRED``. A bad proof is 400 ``invalid_dpop_proof``; a
missing or stale nonce is 400 ``use_dpop_nonce`` with a ``DPoP-Nonce`` header.

Replay: each accepted proof's ``jti`` is recorded in the database until the
proof could no longer be accepted, with the mechanism of client assertions
(``ClientAssertionUse``: one unique digest per use, so a second use fails
atomically, in any process, even concurrently), in a namespace of its own
(``dpop`` NUL the key's thumbprint, where an assertion has its client id, which
never holds a NUL). The token endpoint writes to the database anyway; the
cache would have to either refuse every proof or accept replays while down.

The verified key's thumbprint then binds what the request issues (``issuing``),
whichever grant it uses.

The provider's own protected endpoints (userinfo, the GET validation endpoint)
accept ``Authorization: DPoP`` with a proof as a resource server does, and
refuse a bound token sent as Bearer (``presented_token``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

from oauth_tokens import dpop_http
from oauth_tokens.oauth2 import dpop
from oauth_tokens.oauth2.errors import InvalidToken
from oauth_tokens.provider import models
from oauth_tokens.provider.endpoint_urls import PAR_ENDPOINT, TOKEN_ENDPOINT, url_of  # noqa: F401
from oauth_tokens.provider.models import ClientAssertionUse
from oauth_tokens.settings import token_settings

NAMESPACE = "dpop\x00"


class _Replay:
    def first_use(self, jkt: str, jti: str, expires_at: float) -> bool:
        return ClientAssertionUse.first_use(NAMESPACE + jkt, jti, datetime.fromtimestamp(expires_at, tz=UTC))


def token_request_jkt(request: HttpRequest, endpoint: tuple[str, str] = TOKEN_ENDPOINT) -> str | None:
    """The thumbprint of the key of the request's DPoP proof (a token request, or a
    pushed authorization request with ``PAR_ENDPOINT``); None without a ``DPoP``
    header; ``InvalidDPoPProof`` / ``UseDPoPNonce`` for a bad one."""
    header = dpop_http.proof_header(request)
    if header is None:
        return None
    policy = dpop_http.policy(
        request, uris=[dpop_http.request_uri(request), url_of(*endpoint)], now=models.now().timestamp(),
        nonce_required=bool(token_settings.DPOP_NONCE_REQUIRED),
    )
    return dpop.verify_proof(header, policy, _Replay()).jkt


def response_headers() -> dict[str, str]:
    """Headers of a successful token response: a fresh nonce when nonces are required
    (section 8.2: the client uses it in its next proof)."""
    if not token_settings.DPOP_NONCE_REQUIRED:
        return {}
    return {"DPoP-Nonce": dpop_http.nonces().current(models.now().timestamp())}


def presented_token(request: HttpRequest, bearer: Callable[[HttpRequest], str]
                    ) -> tuple[str, Mapping[str, Any], str]:
    """(token, claims, token type) of the access token ``request`` presents to one of
    this provider's own protected resources (userinfo, the GET validation endpoint):
    ``Authorization: DPoP <token>`` with a valid proof for this request made with the
    token's key (the errors are the resource side's: 401 with the DPoP challenge), or
    a Bearer token, read by ``bearer`` (which raises its endpoint's error when there is
    none), that is not DPoP-bound."""
    # Imported here: the local verifier reads the signing keys (models) at import.
    from oauth_tokens.provider import local_verifier

    token = dpop_http.token_of(request)
    if token is None:
        token = bearer(request)
        claims = local_verifier.verifier().verify(token)
        dpop_http.refuse_bound_bearer(claims)
        return token, claims, "Bearer"
    try:
        claims = local_verifier.verifier().verify(token)
    except InvalidToken as error:
        raise dpop.DPoPInvalidToken(error.description) from None
    dpop_http.check_binding(request, token, claims, nonce_required=bool(token_settings.DPOP_RESOURCE_NONCE_REQUIRED))
    return token, claims, dpop.TOKEN_TYPE
