"""The connect flow: authorization code with PKCE S256 (RFC 6749 section 4.1,
RFC 7636, RFC 9700 section 2.1.1) from this project to an external provider.

``connect/<provider>/`` stores ``state`` (as a digest) and the PKCE verifier
(encrypted) in the session and redirects to the provider;
``connect/<provider>/callback/`` checks the state, exchanges the code, stores
the tokens and redirects to ``next`` or ``CONSUMER_REDIRECT_URL``. Every failure
is a page that says what happened, never a 500. For a DPoP provider the code
flow makes the grant's key pair when it starts, names it in the authorization
request (``dpop_jkt``, RFC 9449 section 10: the code is bound to it), keeps it
encrypted in the session, proves the code exchange with it (section 5), and
stores it with the tokens.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from oauth_tokens import crypto
from oauth_tokens.browser import browser_view
from oauth_tokens.consumer import dpop, provider_calls, service
from oauth_tokens.consumer.exceptions import ConsumerError, ProviderError, ProviderUnavailable
from oauth_tokens.consumer.providers import Provider, UnknownProvider, get_provider
from oauth_tokens.oauth2.pkce import S256, s256
from oauth_tokens.settings import token_settings

logger = logging.getLogger("oauth_tokens.consumer")
TEMPLATE = "oauth_tokens_consumer/connect_error.html"


def session_key(provider: str) -> str:
    return f"oauth_tokens_consumer.connect.{provider}"


def error_page(request: HttpRequest, provider: str, message: str, *, status: int = 400) -> HttpResponse:
    retry = reverse("oauth_tokens_consumer:connect", kwargs={"provider": provider}) if status != 404 else ""
    response = render(request, TEMPLATE, {"provider": provider, "message": message, "retry_url": retry},
                      status=status)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _provider(request: HttpRequest, name: str) -> Provider | HttpResponse:
    try:
        return get_provider(name)
    except UnknownProvider:
        return error_page(request, name, "This provider is not configured.", status=404)
    except ImproperlyConfigured as exc:  # the system check reports it too (oauth_tokens_consumer.E003)
        logger.error("%s: %s", name, exc)
        return error_page(request, name, "This provider is not configured correctly on this site.", status=503)
    except ConsumerError as exc:  # metadata discovery failed, or the document was refused (logged there)
        return error_page(request, name, f"The provider's configuration could not be loaded: {exc}", status=502)


def _too_large(request: HttpRequest, message: str, provider: str) -> HttpResponse:
    return error_page(request, provider, message)


def _safe_next(request: HttpRequest, value: str) -> str:
    if value and url_has_allowed_host_and_scheme(value, {request.get_host()}, require_https=request.is_secure()):
        return value
    return ""


@never_cache
@browser_view(_too_large)
@login_required
@require_http_methods(["GET", "POST"])
def connect(request: HttpRequest, provider: str) -> HttpResponse:
    config = _provider(request, provider)
    if isinstance(config, HttpResponse):
        return config
    if not config.authorize_url:
        return error_page(request, provider, "This provider has no authorization endpoint to connect to.")
    state = crypto.new_token(24)
    verifier = crypto.new_token(48)  # 64 characters of [A-Za-z0-9_-] (RFC 7636 section 4.1)
    redirect_uri = config.redirect_uri or request.build_absolute_uri(
        reverse("oauth_tokens_consumer:callback", kwargs={"provider": provider})
    )
    pending = {
        "state": crypto.digest(state),
        "verifier": crypto.encrypt(verifier),
        "redirect_uri": redirect_uri,
        "next": _safe_next(request, request.GET.get("next") or request.POST.get("next", "")),
    }
    extra: dict[str, str] = {}
    if config.dpop:
        # The new grant's key, made now so the code is bound to it (RFC 9449 section 10:
        # ``dpop_jkt``); kept encrypted in the session, like the verifier, until the exchange.
        key = dpop.new_key(config.dpop_algorithm)
        pending["dpop_key"] = crypto.encrypt(key.pem)
        extra["dpop_jkt"] = key.jkt
    request.session[session_key(provider)] = pending
    params: dict[str, Any] = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": s256(verifier),
        "code_challenge_method": S256,
        **({"scope": config.scope} if config.scope else {}),
        **extra,
        **config.authorize_params,
    }
    separator = "&" if "?" in config.authorize_url else "?"
    return HttpResponseRedirect(config.authorize_url + separator + urlencode(params))


def _grant_key(config: Provider, pending: dict[str, Any]) -> dpop.ProofKey | None:
    """The new grant's DPoP key: the one the authorization request named (``dpop_jkt``),
    or a new one for a flow started before ``dpop`` was turned on; None without DPoP."""
    if not config.dpop:
        return None
    try:
        return dpop.load_key(crypto.decrypt(pending["dpop_key"]))
    except (crypto.InvalidToken, KeyError, TypeError, ValueError):
        return dpop.new_key(config.dpop_algorithm)


@never_cache
@browser_view(_too_large)
@login_required
@require_GET  # the provider redirects with GET; another method must not spend the pending flow
@sensitive_variables("code", "verifier", "tokens", "key")
def callback(request: HttpRequest, provider: str) -> HttpResponse:
    config = _provider(request, provider)
    if isinstance(config, HttpResponse):
        return config
    pending = request.session.pop(session_key(provider), None)
    state = request.GET.get("state", "")
    expected = (pending or {}).get("state", "")
    if not expected or not state or not any(
        crypto.constant_time_equals(candidate, expected) for candidate in crypto.digest_candidates(state)
    ):
        return error_page(request, provider, "This sign-in attempt expired or was already used. Please start again.")
    error = request.GET.get("error", "")
    if error:
        # RFC 6749 section 4.1.2.1; show the code only (descriptions are attacker-controlled text).
        code_name = "".join(c for c in error if c.isalnum() or c in "_-")[:64]
        message = "You declined the request." if code_name == "access_denied" else f"The provider refused: {code_name}."
        return error_page(request, provider, message)
    code = request.GET.get("code", "")
    if not code:
        return error_page(request, provider, "The provider did not send an authorization code.")
    try:
        verifier = crypto.decrypt(pending["verifier"])
    except (crypto.InvalidToken, KeyError, TypeError):
        return error_page(request, provider, "This sign-in attempt expired. Please start again.")
    key = _grant_key(config, pending)
    try:
        tokens = provider_calls.exchange_code(config, code, pending.get("redirect_uri", ""), verifier, dpop_key=key)
    except provider_calls.GrantRejected:
        return error_page(request, provider, "The authorization code was refused (expired or already used).")
    except ProviderUnavailable:
        return error_page(request, provider, "The provider could not be reached. Please try again.", status=502)
    except ProviderError as exc:
        logger.warning("%s: code exchange failed: %s", provider, exc)
        return error_page(request, provider, f"The provider refused the code exchange ({exc.error}).", status=502)
    service.store_tokens(provider, request.user, tokens, dpop_key=key)
    target = pending.get("next") or resolve_url(token_settings.CONSUMER_REDIRECT_URL)
    return HttpResponseRedirect(target)


@never_cache
@browser_view(_too_large)
@login_required
@require_POST
def disconnect(request: HttpRequest, provider: str) -> HttpResponse:
    """POST: revoke the user's tokens for ``provider`` (RFC 7009) and forget them."""
    config = _provider(request, provider)
    if isinstance(config, HttpResponse):
        return config
    try:
        service.revoke(provider, request.user)
    except ConsumerError as exc:
        logger.warning("%s: revocation at the provider failed (tokens deleted locally): %s", provider, exc)
    target = _safe_next(request, request.POST.get("next", "")) or resolve_url(token_settings.CONSUMER_REDIRECT_URL)
    return HttpResponseRedirect(target)
