"""Revocation state shared with the resource side.

``changed()`` is called inside every transaction that revokes tokens; the
resource verifier uses ``is_revoked(jti)`` (see ``oauth_tokens.resource``).
"""

from __future__ import annotations

from oauth_tokens.provider.models import AccessToken, now


def changed() -> None:
    """Hook: tokens were revoked in the current transaction."""


def is_revoked(jti: str) -> bool:
    return AccessToken.objects.filter(jti=jti, revoked_at__isnull=False).exists()


def revoke_rows(queryset) -> int:
    """Revoke the given access or refresh token rows (admin action, RFC 7009)."""
    from django.db import transaction

    with transaction.atomic():
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=now())
        changed()
    return count


def revoke_client(client) -> int:
    """Revoke every live token of ``client`` (it was deactivated)."""
    from oauth_tokens.provider.models import RefreshToken

    return revoke_rows(RefreshToken.objects.filter(client=client)) + revoke_rows(
        AccessToken.objects.filter(client=client)
    )
