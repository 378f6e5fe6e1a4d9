"""What the caller of a refresh needs (``TokenNeed``), and whether the stored
row already gives it: the check every strategy makes again after taking its
lock, so a token a sibling worker stored meanwhile is used instead of calling
the provider again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from oauth_tokens import crypto
from oauth_tokens.consumer import models
from oauth_tokens.consumer.config import Provider
from oauth_tokens.consumer.exceptions import NotConnected, ProviderUnavailable, ReauthorizationRequired
from oauth_tokens.consumer.links import connect_url
from oauth_tokens.consumer.models import Credentials, ExternalToken


class TokenNeed:
    """The token ``user_id`` (None: the project's client_credentials token) needs
    from ``provider``: one usable for ``horizon`` more seconds (None: the provider's
    ``refresh_leeway``), a new one (``force``), or one other than ``rejected`` (the
    token a resource server just answered 401 to)."""

    def __init__(self, provider: Provider, user_id: Any, *, horizon: float | None = None,
                 force: bool = False, rejected: str | None = None) -> None:
        self.provider = provider
        self.user_id = user_id
        self.horizon = horizon
        self.force = force
        self.rejected = rejected

    def token_to_use(self, row: ExternalToken | None) -> Credentials | None:
        """The stored access token (with its key) when it will do, None when a refresh is needed,
        or raise when no refresh can help now (not connected, revoked, needs
        re-authorization, refresh held off)."""
        name = self.provider.name
        if row is None:
            raise NotConnected(name, url=connect_url(name))
        if self.satisfied_by(row):
            return row.credentials()
        if row.user_id is not None:
            if row.status == ExternalToken.REVOKED:
                raise NotConnected(name, url=connect_url(name), reason="revoked")
            if row.status == ExternalToken.NEEDS_REAUTH:
                raise ReauthorizationRequired(name, url=connect_url(name), reason=row.last_error or "invalid_grant")
            wait = row.hold_off_left()
            if wait:
                if self.served_while_held_off(row):
                    return row.credentials()
                raise ProviderUnavailable(
                    name, f"refresh held off for {wait:.1f} s more: the answer to the last refresh was lost and "
                    "may have rotated the refresh token, which is presented again once, after the hold-off",
                    retry_after=wait)
        return None

    def satisfied_by(self, row: ExternalToken) -> bool:
        """The stored access token is what the caller asked for."""
        if row.status != ExternalToken.ACTIVE or not row.access_token:
            return False
        if self.force:
            return False
        if self.rejected is not None:
            return not crypto.constant_time_equals(row.access_token, self.rejected)
        if self.horizon is not None:
            expires = row.expiry(self.provider.assumed_lifetime)
            return expires is None or expires > models.now() + timedelta(seconds=self.horizon)
        return row.is_fresh(self.provider.refresh_leeway, assumed=self.provider.assumed_lifetime)

    def served_while_held_off(self, row: ExternalToken) -> bool:
        """While the refresh is held off: a plain ``get_access_token`` (not forced, not
        after a 401, no horizon) may have the stored access token until it expires."""
        if self.force or self.rejected is not None or self.horizon is not None:
            return False
        if row.status != ExternalToken.ACTIVE or not row.access_token:
            return False
        expires = row.expiry(self.provider.assumed_lifetime)
        return expires is None or expires > models.now()


def dead_grant_reason(row: ExternalToken) -> str:
    """Why a user's token cannot be refreshed at all (the user must authorize
    again), or "" when it can."""
    if row.user_id is None:
        return ""
    if not row.refresh_token:
        return "no_refresh_token"
    if row.refresh_expires_at is not None and row.refresh_expires_at <= models.now():
        return "refresh_expired"
    return ""
