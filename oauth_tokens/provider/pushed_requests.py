"""Pushed authorization requests in the database (RFC 9126).

``push`` stores a validated request's parameters, every one of them as pushed
(lists of values, so a repeatable parameter such as ``resource`` passes
through), and hands out its ``request_uri`` once; the row keeps only its
digest. At the authorization endpoint ``find`` turns ``client_id`` +
``request_uri`` back into those parameters: nothing else of that request is
read (section 4).

One use: the consent page may be shown (and reloaded) while the request
lives, and the first time the request reaches the authorization endpoint (the
login page may come first) the user gets ``PUSHED_AUTHORIZATION_CONSENT_TIME``
to log in and decide (``arrived``); the decision,
allow or deny, spends it with one conditional UPDATE (``spend``), so two
concurrent decisions give one code.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.db import router
from django.http import QueryDict

from oauth_tokens import crypto
from oauth_tokens.oauth2.errors import InvalidRequest, InvalidRequestUri
from oauth_tokens.provider import models
from oauth_tokens.provider.models import Client, PushedAuthorizationRequest
from oauth_tokens.settings import token_settings

PREFIX = "urn:ietf:params:oauth:request_uri:"


def enabled() -> bool:
    return bool(token_settings.PUSHED_AUTHORIZATION_REQUESTS_ENABLED)


def lifetime() -> int:
    return math.ceil(float(token_settings.PUSHED_AUTHORIZATION_REQUEST_LIFETIME))


def required_for(client_id: str | None) -> bool:
    """Must this client's authorization requests be pushed (RFC 9126 section 5 and 6)?"""
    if token_settings.REQUIRE_PUSHED_AUTHORIZATION_REQUESTS:
        return True
    if not client_id or "\x00" in client_id or len(client_id) > 255:
        return False  # no client has such an id (and a NUL byte is a database error on PostgreSQL)
    return Client.objects.filter(client_id=client_id, require_pushed_authorization_requests=True).exists()


def push(client: Client, params: QueryDict) -> str:
    """Store ``params`` (already validated) for ``client``; the ``request_uri``, once."""
    reference = crypto.new_token(32)
    PushedAuthorizationRequest.objects.create(
        digest=crypto.digest(reference),
        client=client,
        params={name: params.getlist(name) for name in params},
        expires_at=models.now() + timedelta(seconds=lifetime()),
    )
    return PREFIX + reference


def find(data: QueryDict) -> PushedAuthorizationRequest:
    """The live pushed request that ``data``'s ``request_uri`` names for its
    ``client_id``, or ``InvalidRequestUri`` (shown on a page: no redirect URI is known)."""
    if not enabled():
        raise InvalidRequest("Pushed authorization requests are not enabled on this server")
    if len(data.getlist("request_uri")) > 1 or len(data.getlist("client_id")) > 1:
        raise InvalidRequest("Parameter 'request_uri' or 'client_id' is repeated")
    request_uri, client_id = data.get("request_uri", ""), data.get("client_id", "")
    if not request_uri.startswith(PREFIX) or not client_id:
        raise InvalidRequestUri()
    using = router.db_for_write(PushedAuthorizationRequest)  # just pushed: maybe not on a replica yet
    row = PushedAuthorizationRequest.objects.using(using).select_related("client").filter(
        digest__in=crypto.digest_candidates(request_uri.removeprefix(PREFIX))
    ).first()
    if row is None or row.client.client_id != client_id or row.used_at is not None or row.expires_at <= models.now():
        raise InvalidRequestUri()
    return row


def parameters(row: PushedAuthorizationRequest) -> QueryDict:
    """The pushed request's parameters, as the authorization endpoint reads them."""
    params = QueryDict(mutable=True)
    for name, values in row.params.items():
        params.setlist(name, [str(v) for v in values])
    return params


def arrived(row: PushedAuthorizationRequest) -> None:
    """``row`` reached the authorization endpoint (the login page or the consent page
    comes next): the first time, the user gets the consent time to log in and decide."""
    t = models.now()
    deadline = t + timedelta(seconds=float(token_settings.PUSHED_AUTHORIZATION_CONSENT_TIME))
    PushedAuthorizationRequest.objects.using(router.db_for_write(PushedAuthorizationRequest)).filter(
        pk=row.pk, arrived_at__isnull=True, used_at__isnull=True, expires_at__gt=t
    ).update(arrived_at=t, expires_at=max(deadline, row.expires_at))


def spend(row: PushedAuthorizationRequest) -> bool:
    """Spend ``row`` at the decision; False when it was spent meanwhile or has expired."""
    t = models.now()
    return PushedAuthorizationRequest.objects.using(router.db_for_write(PushedAuthorizationRequest)).filter(
        pk=row.pk, used_at__isnull=True, expires_at__gt=t
    ).update(used_at=t) == 1
