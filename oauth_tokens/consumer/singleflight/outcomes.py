"""The provider call of a refresh and what its outcome writes and announces,
whichever strategy holds the lock:

* a new pair: written in one UPDATE with the new access token, so a crash
  before it leaves the old pair in place (``refreshed_columns``);
* a dead grant (``invalid_grant``, no or expired refresh token): the row is
  marked ``needs_reauth`` and its tokens cleared (``reauth_columns``);
* a lost answer (``OutcomeUnknown``): the refresh is held off (``hold_off``).

Signals are sent after the commit, never from a transaction that may roll back.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F

from oauth_tokens import signals
from oauth_tokens.consumer import dpop, models, provider_calls
from oauth_tokens.consumer.config import Provider
from oauth_tokens.consumer.exceptions import ProviderUnavailable, ReauthorizationRequired
from oauth_tokens.consumer.links import connect_url
from oauth_tokens.consumer.models import Credentials, ExternalToken, database
from oauth_tokens.consumer.singleflight.need import TokenNeed

logger = logging.getLogger("oauth_tokens.consumer")


def grant_key(provider: Provider, row: ExternalToken) -> dpop.ProofKey | None:
    """The DPoP key the renewal of ``row`` is proved with: the grant's own, or a new
    one when the grant has none yet (the first client_credentials token; a grant
    stored before ``dpop`` was turned on), stored with the answer. None: no DPoP."""
    if not provider.dpop:
        return None
    if row.dpop_key:
        return dpop.load_key(row.dpop_key)
    return dpop.new_key(provider.dpop_algorithm)


def ask_provider(provider: Provider, row: ExternalToken,
                 key: dpop.ProofKey | None = None) -> provider_calls.TokenResponse:
    """The token request that renews ``row``: client_credentials for the project's
    own token, else the refresh token grant (RFC 6749 section 6); with a DPoP proof
    made with ``key`` (``grant_key``)."""
    if row.user_id is None:
        return provider_calls.client_credentials(provider, dpop_key=key)
    return provider_calls.refresh(provider, row.refresh_token, dpop_key=key)


def refreshed_columns(row: ExternalToken, response: provider_calls.TokenResponse,
                      provider: Provider, key: dpop.ProofKey | None = None) -> dict[str, Any]:
    """The columns a successful token response writes (one UPDATE: one transaction),
    the grant's DPoP key included (``key``, the one the request was proved with)."""
    at = models.now()
    lifetime = response.expires_in
    if lifetime is None and (row.renewable or response.refresh_token) and provider.assumed_lifetime:
        lifetime = int(provider.assumed_lifetime)  # no expires_in: assumed, so it is refreshed in time
    values: dict[str, Any] = {
        "access_token": response.access_token,
        "token_type": response.token_type,
        "obtained_at": at,
        "expires_at": at + timedelta(seconds=lifetime) if lifetime is not None else None,
        "status": ExternalToken.ACTIVE,
        "last_error": "",
        "refreshing_until": None,
        "refresh_count": F("refresh_count") + 1,
        "updated_at": at,
    }
    if key is None and row.dpop_key:
        values.update(dpop_key="", dpop_jkt="")  # ``dpop`` was turned off: the grant has no key any more
    elif key is not None and key.jkt != row.dpop_jkt:
        values.update(dpop_key=key.pem, dpop_jkt=key.jkt)  # a new key: the grant keeps it from now on
    if response.scope is not None:
        values["scope"] = response.scope
    if row.user_id is not None and response.refresh_token:
        # RFC 6749 section 6: a new refresh token replaces the old one; without one, keep the old.
        values["refresh_token"] = response.refresh_token
        values["refresh_expires_at"] = (
            at + timedelta(seconds=response.refresh_expires_in) if response.refresh_expires_in else None
        )
    return values


def credentials(response: provider_calls.TokenResponse, key: dpop.ProofKey | None) -> Credentials:
    """What the caller gets from a renewal: the new access token, presented with ``key``."""
    return Credentials(response.access_token, response.token_type, key.pem if key is not None else "")


def reauth_columns(reason: str) -> dict[str, Any]:
    """The columns of a grant that is dead: the user must authorize again."""
    return {
        "status": ExternalToken.NEEDS_REAUTH,
        "access_token": "",
        "refresh_token": "",
        "dpop_key": "",  # the grant is dead; connecting again makes a new key
        "dpop_jkt": "",
        "last_error": reason,
        "refreshing_until": None,
        "updated_at": models.now(),
    }


def hold_off(need: TokenNeed, exc: provider_calls.OutcomeUnknown) -> tuple[dict[str, Any], ProviderUnavailable]:
    """After a refresh whose answer was lost: the columns that hold the refresh off
    for ``refresh_hold_off`` seconds, and the error to raise."""
    hold = float(need.provider.refresh_hold_off)
    if not hold:
        return {"refreshing_until": None}, exc
    at = models.now()
    logger.warning("%s: the answer to a refresh for user %s was lost (%s); refresh held off for %g s",
                   need.provider.name, need.user_id, exc.detail, hold)
    values = {"refreshing_until": at + timedelta(seconds=hold), "last_error": ExternalToken.REFRESH_UNCONFIRMED,
              "updated_at": at}
    return values, ProviderUnavailable(
        need.provider.name, f"{exc.detail}; the refresh may have reached the provider: held off for {hold:g} s, "
        "then the refresh token is presented once more", retry_after=hold)


def send_after_commit(signal: Any, row_pk: int, **kwargs: Any) -> None:
    """Send ``signal`` for the row once the current transaction commits."""
    def send() -> None:
        if signal.has_listeners(ExternalToken):
            row = ExternalToken.objects.using(database()).select_related("user").filter(pk=row_pk).first()
            if row is not None:
                signal.send(sender=ExternalToken, provider=row.provider, user=row.user, token=row, **kwargs)

    transaction.on_commit(send, using=database())


def announce_refreshed(row_pk: int) -> None:
    send_after_commit(signals.token_refreshed, row_pk)


def reauthorization_required(need: TokenNeed, row_pk: int, reason: str) -> ReauthorizationRequired:
    """Log and announce (after commit) a grant found dead; the error to raise."""
    url = connect_url(need.provider.name)
    logger.warning("%s: stored token for user %s needs re-authorization (%s)",
                   need.provider.name, need.user_id, reason)
    send_after_commit(signals.reauthorization_required, row_pk, url=url)
    return ReauthorizationRequired(need.provider.name, url=url, reason=reason)
