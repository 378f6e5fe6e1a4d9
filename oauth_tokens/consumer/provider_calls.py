"""The consumer's calls to an external provider's endpoints: token requests
(RFC 6749 sections 4.1.3, 4.4 and 6), revocation (RFC 7009 section 2.1) and
metadata (RFC 8414).

With a grant's DPoP key (RFC 9449) every request carries a new proof, each
attempt its own; an answer asking for a server nonce (``use_dpop_nonce``) is
sent once more with a proof carrying it (``send_with_proof``). A DPoP request
may be answered with a ``DPoP`` or a ``Bearer`` token (section 5: the provider
may decline to bind it; the token is then used as a Bearer token and the key is
kept for the grant's refreshes).

Client authentication follows RFC 6749 section 2.3.1 (Basic with form-encoded
id and secret, or the body). Bodies are form-encoded or JSON (the seeds use
JSON). Network errors, timeouts, 429 and 5xx are retried ``retries`` times with
exponential backoff, then raise ``ProviderUnavailable`` -- except that a refresh
or a code exchange is sent again only when it surely did not arrive (see
``send``); an OAuth error answer
raises ``GrantRejected`` (``invalid_grant``) or ``ProviderError``. No message
built here contains a token or a secret.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import httpx

from oauth_tokens.consumer import dpop, transport
from oauth_tokens.consumer.config import Provider
from oauth_tokens.consumer.exceptions import ProviderError, ProviderUnavailable

#: The pause between attempts; tests patch ``oauth_tokens.consumer.provider_calls.sleep``.
sleep = time.sleep

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Answers saying the request was not carried out (too many requests, unavailable).
NOT_PROCESSED_STATUSES = frozenset({429, 503})
#: Failures before the request reached the provider.
NOT_DELIVERED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Longest lifetime taken from a token response (a larger ``expires_in`` is capped):
#: ten years, so ``now + expires_in`` never overflows a datetime.
MAX_LIFETIME = 10 * 365 * 24 * 3600


@dataclass(frozen=True, repr=False)
class TokenResponse:
    """A successful token response (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int | None = None
    refresh_token: str | None = None
    scope: str | None = None
    refresh_expires_in: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenResponse:
        """From a token response body (JSON or form-encoded values, strings or numbers)."""
        refresh = data.get("refresh_token")
        scope = data.get("scope")
        return cls(
            access_token=str(data["access_token"]),
            token_type="DPoP" if str(data.get("token_type") or "").lower() == "dpop" else "Bearer",
            expires_in=_lifetime(data.get("expires_in")),
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            scope=" ".join(scope) if isinstance(scope, list) else (str(scope) if scope is not None else None),
            refresh_expires_in=_lifetime(data.get("refresh_expires_in", data.get("refresh_token_expires_in"))),
        )

    def __repr__(self) -> str:
        has_refresh = self.refresh_token is not None
        return f"<TokenResponse {self.token_type} expires_in={self.expires_in} refresh={has_refresh}>"


class OutcomeUnknown(ProviderUnavailable):
    """A request sent ``once`` failed after it may have reached the provider (a read
    timeout, a dropped connection, a 500, 502 or 504): it may have been carried out.
    The single-flight refresh then holds the refresh token back (``refresh_hold_off``)."""


class GrantRejected(Exception):
    """``invalid_grant``: the code or refresh token is dead (handled by the service)."""

    def __init__(self, description: str = "") -> None:
        self.description = description
        super().__init__("invalid_grant")


_clients: dict[tuple[int, float], httpx.Client] = {}
_clients_lock = threading.Lock()


def client_for(provider: Provider) -> httpx.Client:
    """One pooled ``httpx.Client`` per process and timeout (thread-safe, fork-aware)."""
    key = (os.getpid(), float(provider.timeout))
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = httpx.Client(timeout=httpx.Timeout(float(provider.timeout)), follow_redirects=False,
                                      verify=transport.ssl_context())
                _clients[key] = client
    return client


def _lifetime(value: Any) -> int | None:
    """A lifetime in seconds from a token response, or None (unknown: the provider's
    ``assumed_lifetime`` applies when the token is stored). Zero, negative, absurd or non-numeric values are
    unknown rather than "already expired" (which would refresh on every call), and
    huge ones are capped (``now + expires_in`` must stay a valid datetime)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not seconds > 0:  # also NaN
        return None
    return int(min(seconds, MAX_LIFETIME))


def _body(response: httpx.Response) -> dict[str, Any] | None:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(response.text))
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def send(provider: Provider, method: str, url: str, *, once: bool = False,
         proof: Callable[[], str] | None = None, **kwargs: Any) -> httpx.Response:
    """One request with bounded retries; returns any non-retryable response.

    ``once``: the request spends what it carries (a refresh token that rotates, an
    authorization code), so it is sent again only when it surely was not carried
    out: the connection failed, or the provider answered 429 or 503. After a read
    timeout, a dropped connection or another 5xx it may well have rotated the
    token, and each resend would be a replay: past the provider's grace allowance
    (one replay by default here, none at many providers) a replay is reuse, which
    revokes the whole grant. So the call fails instead (``OutcomeUnknown``), the
    stored token stays, and it is presented once more after the provider's
    ``refresh_hold_off``: the one replay the grace window is for.

    ``proof``: makes the ``DPoP`` header of each attempt (a proof is single-use)."""
    last = ""
    error: type[ProviderUnavailable] = ProviderUnavailable
    for attempt in range(provider.attempts):
        if attempt:
            sleep(provider.backoff * 2 ** (attempt - 1))
        if proof is not None:
            kwargs["headers"] = {**kwargs.get("headers", {}), "DPoP": proof()}
        try:
            response = client_for(provider).request(method, url, **kwargs)
        except httpx.TransportError as exc:  # timeouts included
            what = "timed out" if isinstance(exc, httpx.TimeoutException) else "network error"
            last = f"{what} ({type(exc).__name__})"
            if once and not isinstance(exc, NOT_DELIVERED):
                error = OutcomeUnknown
                break
            continue
        if response.status_code in RETRY_STATUSES:
            last = f"HTTP {response.status_code}"
            if once and response.status_code not in NOT_PROCESSED_STATUSES:
                error = OutcomeUnknown
                break
            continue
        return response
    raise error(provider.name, f"{urlpath(url)} failed after {attempt + 1} attempt(s): {last}")


def urlpath(url: str) -> str:
    return url.split("?", 1)[0]


def _authenticate(provider: Provider, params: dict[str, str], headers: dict[str, str]) -> None:
    if provider.auth_method == "basic":
        pair = f"{quote_plus(provider.client_id)}:{quote_plus(provider.client_secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif provider.auth_method == "post":
        params["client_id"] = provider.client_id
        params["client_secret"] = provider.client_secret
    else:
        params["client_id"] = provider.client_id


def send_with_proof(provider: Provider, method: str, url: str, key: dpop.ProofKey | None, **kwargs: Any
                    ) -> httpx.Response:
    """``send``, with a DPoP proof made with ``key`` (none without a key), carrying the
    origin's latest nonce. Asked for a nonce (400 ``use_dpop_nonce`` with a
    ``DPoP-Nonce``), it sends the request once more with a proof carrying it: the
    request was refused, not carried out. A second refusal is returned as is."""
    if key is None:
        return send(provider, method, url, **kwargs)

    def proof() -> str:
        return key.proof(method, url, nonce=dpop.nonce_for(url))

    response = send(provider, method, url, proof=proof, **kwargs)
    dpop.remember_nonce(url, response)
    if dpop.asks_for_nonce(response, at_resource=False):
        response = send(provider, method, url, proof=proof, **kwargs)
        dpop.remember_nonce(url, response)
    return response


def token_request(provider: Provider, params: dict[str, str], dpop_key: dpop.ProofKey | None = None
                  ) -> TokenResponse:
    """POST to the token endpoint and parse the answer (RFC 6749 sections 5.1 and 5.2).
    A refresh or a code exchange is sent ``once`` (see ``send``). With ``dpop_key``,
    with a DPoP proof (RFC 9449 section 5)."""
    params = {k: v for k, v in params.items() if v}
    headers = {"Accept": "application/json"}
    _authenticate(provider, params, headers)
    body: dict[str, Any] = {"json": params} if provider.body_format == "json" else {"data": params}
    once = params.get("grant_type") in ("refresh_token", "authorization_code")
    response = send_with_proof(provider, "POST", provider.token_url, dpop_key, headers=headers, once=once, **body)
    data = _body(response)
    if response.status_code == 200 and data is not None and isinstance(data.get("access_token"), str) \
            and data["access_token"]:
        token_type = str(data.get("token_type") or "Bearer")
        # A DPoP token answers a DPoP request only; a Bearer token may answer either (RFC 9449 section 5).
        if token_type.lower() not in (("bearer", "dpop") if dpop_key is not None else ("bearer",)):
            raise ProviderError(provider.name, "unsupported_token_type", f"token_type {token_type[:20]!r}")
        return TokenResponse.from_dict(data)
    error = str((data or {}).get("error") or "")[:64]
    description = str((data or {}).get("error_description") or "")[:200]
    if error == "invalid_grant":
        raise GrantRejected(description)
    if not error:
        error, description = "invalid_response", "the token endpoint did not answer with a token or an OAuth error"
    raise ProviderError(provider.name, error, description, status=response.status_code)


def refresh(provider: Provider, refresh_token: str, scope: str = "", *,
            dpop_key: dpop.ProofKey | None = None) -> TokenResponse:
    return token_request(provider, {"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": scope},
                         dpop_key)


def exchange_code(provider: Provider, code: str, redirect_uri: str, code_verifier: str, *,
                  dpop_key: dpop.ProofKey | None = None) -> TokenResponse:
    return token_request(
        provider,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        },
        dpop_key,
    )


def client_credentials(provider: Provider, *, dpop_key: dpop.ProofKey | None = None) -> TokenResponse:
    return token_request(provider, {"grant_type": "client_credentials", "scope": provider.scope}, dpop_key)


def revoke_token(provider: Provider, token: str, hint: str, *, dpop_key: dpop.ProofKey | None = None) -> None:
    """RFC 7009: form-encoded, client-authenticated; 200 also for unknown tokens.
    With the grant's DPoP key, with a proof (the provider may require one for a
    bound token)."""
    params = {"token": token, "token_type_hint": hint}
    headers = {"Accept": "application/json"}
    _authenticate(provider, params, headers)
    response = send_with_proof(provider, "POST", provider.revoke_url, dpop_key, data=params, headers=headers)
    if response.status_code == 200:
        return
    data = _body(response) or {}
    error = str(data.get("error") or "revocation_failed")[:64]
    if error == "unsupported_token_type":
        return  # section 2.2.1: the provider cannot revoke this kind of token; nothing to do.
    raise ProviderError(provider.name, error, str(data.get("error_description") or "")[:200],
                        status=response.status_code)


def fetch_json(provider: Provider, url: str) -> dict[str, Any]:
    response = send(provider, "GET", url, headers={"Accept": "application/json"})
    data = _body(response)
    if response.status_code != 200 or data is None:
        raise ProviderError(provider.name, "invalid_metadata", f"{urlpath(url)} answered HTTP {response.status_code}")
    return data
