"""Optional: revoke a user's stored tokens when they log out
(``OAUTH_TOKENS["LOGOUT_REVOKE_PROVIDERS"]``: True for all, or a list of names)."""

from __future__ import annotations

import logging
from typing import Any

from oauth_tokens.settings import token_settings

logger = logging.getLogger("oauth_tokens.consumer")


def revoke_on_logout(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    wanted = token_settings.LOGOUT_REVOKE_PROVIDERS
    if not wanted or user is None or getattr(user, "pk", None) is None:
        return
    from oauth_tokens.consumer.models import ExternalToken
    from oauth_tokens.consumer.service import revoke

    tokens = ExternalToken.objects.filter(user_id=user.pk).exclude(status=ExternalToken.REVOKED)
    if wanted is not True:
        tokens = tokens.filter(provider__in=list(wanted))
    for name in list(tokens.values_list("provider", flat=True)):
        try:
            revoke(name, user)
        except Exception as exc:  # logging out must never fail (ConsumerError, database, ...)
            logger.warning("%s: revocation on logout failed for user %s: %s", name, user.pk, exc)
