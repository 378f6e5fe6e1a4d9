"""The consumer's Python API (DESIGN.md section 6): ``get_access_token``,
``refresh_access_token``, ``store_tokens``, ``revoke`` and their async twins.

The fast path (``fastpath``) is one small query: return the stored access token
while it is fresh (RFC 6749 section 6: refresh *before* expiry, seed 002's
5-minute leeway). Everything else goes through ``singleflight``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import F

from oauth_tokens.consumer import dpop, fastpath, models, provider_calls, revocation, singleflight
from oauth_tokens.consumer.exceptions import ConsumerError
from oauth_tokens.consumer.models import Credentials, ExternalToken
from oauth_tokens.consumer.providers import get_provider

T = TypeVar("T")

__all__ = [
    "aget_access_token",
    "arefresh_access_token",
    "arevoke",
    "get_access_token",
    "refresh_access_token",
    "revoke",
    "store_tokens",
]


def user_id_of(user: Any) -> Any:
    """The user's primary key; None means the project's client_credentials token."""
    if user is None:
        return None
    pk = getattr(user, "pk", user)
    if pk is None:
        # Never fall back to the client_credentials token for an anonymous user.
        raise ValueError("user must be a saved user (or None for the client_credentials token).")
    return pk


def get_access_token(provider: str, user: Any = None) -> str:
    """A valid access token for ``user`` at ``provider`` (client_credentials when
    ``user`` is None), refreshed when within the provider's ``refresh_leeway``.

    Raises ``ReauthorizationRequired`` (the user must connect again; ``.url``
    restarts the flow), ``ProviderUnavailable`` or ``ProviderError``.
    """
    return credentials(provider, user).access_token


def credentials(provider: str, user: Any = None) -> Credentials:
    """``get_access_token`` with what presenting the token takes: its type and, for a
    DPoP grant, the grant's key (``http_client`` makes the proofs with it)."""
    config = get_provider(provider)
    user_id = user_id_of(user)
    found = fastpath.fresh_credentials(models.database(), provider, user_id, config.refresh_leeway,
                                       config.assumed_lifetime)
    if found is not None:
        return found
    return singleflight.obtain(singleflight.TokenNeed(config, user_id))


def refresh_access_token(provider: str, user: Any = None, *, rejected: str | None = None,
                         within: float | None = None) -> str:
    """Refresh now, still single-flight.

    ``rejected``: the token a resource server just refused (401). When another
    worker already replaced it, its newer token is returned without asking the
    provider; otherwise the token is refreshed (once, however many callers pass
    the same rejected token). For code that calls the API itself (another SDK)
    and sees the 401 there: what ``http_client`` does on a 401.
    ``within``: refresh only if the token expires within that many seconds.
    Neither: always refresh.

    Raises what ``get_access_token`` raises (``ReauthorizationRequired`` when
    the refresh token is dead too).
    """
    return refreshed_credentials(provider, user, rejected=rejected, within=within).access_token


def refreshed_credentials(provider: str, user: Any = None, *, rejected: str | None = None,
                          within: float | None = None) -> Credentials:
    """``refresh_access_token`` with the token's type and the grant's DPoP key."""
    config = get_provider(provider)
    need = singleflight.TokenNeed(
        config, user_id_of(user), rejected=rejected, horizon=within, force=rejected is None and within is None
    )
    return singleflight.obtain(need)


def store_tokens(provider: str, user: Any, response: provider_calls.TokenResponse | Mapping[str, Any], *,
                 dpop_key: dpop.ProofKey | None = None) -> ExternalToken:
    """Save a fresh token response (the connect callback's code exchange) for ``user``:
    a new grant. ``dpop_key``: the key its request was proved with (RFC 9449), kept
    for the grant's refreshes; required for a ``DPoP`` token."""
    config = get_provider(provider)
    if isinstance(response, Mapping):
        response = provider_calls.TokenResponse.from_dict(response)
    if response.token_type == "DPoP" and dpop_key is None:
        raise ValueError("A DPoP-bound token is useless without its key: pass dpop_key, the key that proved "
                         "the token request.")
    user_id = user_id_of(user)
    at = models.now()
    lifetime = response.expires_in
    if lifetime is None and (user_id is None or response.refresh_token) and config.assumed_lifetime:
        lifetime = int(config.assumed_lifetime)  # no expires_in: assumed, so it is refreshed in time
    values: dict[str, Any] = {
        "access_token": response.access_token,
        "refresh_token": response.refresh_token or "",
        "token_type": response.token_type,
        "dpop_key": dpop_key.pem if dpop_key is not None else "",
        "dpop_jkt": dpop_key.jkt if dpop_key is not None else "",
        "scope": response.scope or "",
        "obtained_at": at,
        "expires_at": at + timedelta(seconds=lifetime) if lifetime is not None else None,
        "refresh_expires_at": (
            at + timedelta(seconds=response.refresh_expires_in) if response.refresh_expires_in else None
        ),
        "status": ExternalToken.ACTIVE,
        "last_error": "",
        "refreshing_until": None,
        "refresh_count": 0,
        "updated_at": at,
    }
    qs = models.token_rows(provider, user_id)
    with transaction.atomic(using=models.database()):
        if not qs.update(version=F("version") + 1, **values):
            try:
                with transaction.atomic(using=models.database()):
                    ExternalToken.objects.using(models.database()).create(
                        provider=provider, user_id=user_id, **values
                    )
            except IntegrityError:
                qs.update(version=F("version") + 1, **values)
    return qs.get()


def revoke(provider: str, user: Any = None) -> None:
    """Forget ``user``'s tokens for ``provider`` and revoke them there (RFC 7009,
    refresh token first, then the access token).

    The row is marked revoked and its tokens cleared first, so they are gone
    locally even when the provider cannot be reached; then ``ProviderUnavailable``
    (or ``ProviderError``) is raised.
    """
    config = get_provider(provider)
    old = revocation.revoke_locally(config, user_id_of(user))
    if old is None or not config.revoke_url:
        return
    errors: list[ConsumerError] = []
    key = dpop.load_key(old.dpop_key) if old.dpop_key and config.dpop else None
    for value, hint in ((old.refresh_token, "refresh_token"), (old.access_token, "access_token")):
        if value:
            try:
                provider_calls.revoke_token(config, value, hint, dpop_key=key)
            except ConsumerError as exc:
                errors.append(exc)
    if errors:
        raise errors[0]


def _in_worker_thread(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """Run ``func`` in a worker thread (so a sibling's refresh never blocks the event
    loop), closing that thread's expired connections afterwards, as a request would."""

    def run(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(run, thread_sensitive=False)


async def aget_access_token(provider: str, user: Any = None) -> str:
    """``get_access_token`` for async code."""
    return await _in_worker_thread(get_access_token)(provider, user)


async def arefresh_access_token(provider: str, user: Any = None, *, rejected: str | None = None,
                                within: float | None = None) -> str:
    """``refresh_access_token`` for async code."""
    return await _in_worker_thread(refresh_access_token)(provider, user, rejected=rejected, within=within)


async def acredentials(provider: str, user: Any = None) -> Credentials:
    """``credentials`` for async code."""
    return await _in_worker_thread(credentials)(provider, user)


async def arefreshed_credentials(provider: str, user: Any = None, *, rejected: str | None = None) -> Credentials:
    """``refreshed_credentials`` for async code."""
    return await _in_worker_thread(refreshed_credentials)(provider, user, rejected=rejected)


async def arevoke(provider: str, user: Any = None) -> None:
    """``revoke`` for async code."""
    await _in_worker_thread(revoke)(provider, user)
