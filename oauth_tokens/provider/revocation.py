"""Revoking tokens: every operation that revokes, in one place.

- ``revoke_family``: every refresh and access token of a family (reuse of a
  rotated refresh token, a replayed authorization code, RFC 7009, the admin);
- ``revoke_rows``: the given access or refresh token rows;
- ``revoke_client`` / ``revoke_user``: everything issued to a client or on behalf
  of a user (deactivated, new password, logged out; of one client at an
  RP-initiated logout);
- ``revoke_access_token``: one access token (RFC 7009);
- ``revoke_before_delete``: access-token rows about to be deleted stay refused
  (their ids outlive the rows in the revocation log).

Each one is a transaction: it locks the rows it revokes, marks them, writes a
``TokenEvent`` and calls ``revocation_broadcast.changed`` (which tells every
process). Signals go out after commit.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import router, transaction

from oauth_tokens import signals
from oauth_tokens.provider import models, revocation_broadcast
from oauth_tokens.provider.models import AccessToken, Client, RefreshToken, TokenEvent

#: The audit event of a family revocation, by its reason (any other reason: ``revoked``).
_FAMILY_EVENTS = {"reuse": TokenEvent.REUSE_DETECTED, "code_replay": TokenEvent.CODE_REPLAYED}


def _atomic(model: type[AccessToken] | type[RefreshToken] = AccessToken):
    return transaction.atomic(using=router.db_for_write(model))


def lock_rows(queryset) -> None:
    """Take the row locks of ``queryset`` in primary-key order before updating it.

    A rotation in flight holds its token's row; waiting for it here means the
    UPDATE that follows (a new statement) also sees the successor that rotation
    just committed, so no live token survives a revocation. A no-op on SQLite,
    whose IMMEDIATE transactions already serialize writers."""
    list(queryset.select_for_update().order_by("pk").values_list("pk", flat=True))


def revoke_family(
    family: uuid.UUID, *, client: Client | None, user: Any | None, reason: str, ip: str | None = None,
    detail: str = "",
) -> int:
    """Revoke every refresh and access token of ``family``; returns how many rows changed.
    ``detail`` (default: ``reason``) goes in the audit event. ``reason="reuse"`` also
    sends ``refresh_token_reused``."""
    now = models.now()
    with _atomic(RefreshToken):
        lock_rows(RefreshToken.objects.filter(family=family, revoked_at__isnull=True))
        count = RefreshToken.objects.filter(family=family, revoked_at__isnull=True).update(
            revoked_at=now, successor_response=""
        )
        count += AccessToken.objects.filter(family=family, revoked_at__isnull=True).update(revoked_at=now)
        _audit(_FAMILY_EVENTS.get(reason, TokenEvent.REVOKED), client=client, user=user, family=family, ip=ip,
               detail=(detail or reason)[:255])
        revocation_broadcast.changed(AccessToken.objects.filter(family=family))  # its revoked ids go to the log
        _announce(RefreshToken, client=client, user=user, family=family, reason=reason,
                  reused=reason == "reuse", ip=ip)
    return count


def revoke_rows(queryset) -> int:
    """Revoke the given access or refresh token rows (admin action, RFC 7009)."""
    with _atomic():
        lock_rows(queryset.filter(revoked_at__isnull=True))
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=models.now())
        if count:
            revocation_broadcast.changed(queryset if queryset.model is AccessToken else None)
    return count


def revoke_client(client: Client) -> int:
    """Revoke every live token of ``client`` (it was deactivated)."""
    with _atomic():
        count = revoke_rows(RefreshToken.objects.filter(client=client)) + revoke_rows(
            AccessToken.objects.filter(client=client)
        )
        if count:
            _audit(TokenEvent.REVOKED, client=client, user=None, detail="client_deactivated")
            _announce(AccessToken, client=client, user=None, reason="client_deactivated")
    return count


def revoke_user(user: Any, *, reason: str, client: Client | None = None) -> int:
    """Revoke every live token issued on behalf of ``user`` (deactivated, new password,
    logged out), or only those of ``client`` when given (RP-initiated logout)."""
    only = {"client": client} if client is not None else {}
    with _atomic():
        count = revoke_rows(RefreshToken.objects.filter(user=user, **only)) + revoke_rows(
            AccessToken.objects.filter(user=user, **only)
        )
        if count:
            _audit(TokenEvent.REVOKED, client=client, user=user, detail=reason)
            _announce(AccessToken, client=client, user=user, reason=reason)
    return count


def revoke_access_token(row: AccessToken, *, reason: str = "revoked", ip: str | None = None) -> None:
    """Revoke one access token (RFC 7009); nothing happens when it already was."""
    with _atomic():
        if AccessToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(revoked_at=models.now()):
            revocation_broadcast.changed([(row.jti, row.expires_at)])
            _audit(TokenEvent.REVOKED, client=row.client, user=row.user, family=row.family, ip=ip, detail=reason)
            _announce(AccessToken, client=row.client, user=row.user, family=row.family, reason=reason)


def revoke_before_delete(queryset) -> int:
    """Keep the unexpired access tokens of ``queryset`` (revoked or not) refused
    after their rows are deleted (their user or client is being deleted, or the
    admin deletes them): call it just before the delete, in its transaction.
    Their ids go to the revocation log, which outlives the rows; returns how many."""
    t = models.now()
    rows = list(queryset.filter(expires_at__gt=t).values_list("jti", "expires_at"))
    if not rows:
        return 0
    with _atomic():
        revocation_broadcast.changed(rows)  # the log is where these ids outlive their rows
    return len(rows)


def _audit(kind: str, *, client: Client | None, user: Any | None, detail: str, family: uuid.UUID | None = None,
           ip: str | None = None) -> None:
    """The revocation's ``TokenEvent`` row, in its transaction."""
    TokenEvent.objects.create(
        kind=kind, client=client, client_identifier=client.client_id if client else "",
        user=user, family=family, ip_address=ip, detail=detail,
    )


def _announce(sender: type[AccessToken] | type[RefreshToken], *, client: Client | None, user: Any | None,
              reason: str, family: uuid.UUID | None = None, reused: bool = False, ip: str | None = None) -> None:
    """After commit: ``refresh_token_reused`` (with the reuser's ``ip``) when ``reused``,
    then ``token_revoked``."""

    def notify() -> None:
        if reused:
            signals.refresh_token_reused.send(sender=RefreshToken, client=client, user=user, family=family, ip=ip)
        signals.token_revoked.send(sender=sender, client=client, user=user, family=family, reason=reason)

    transaction.on_commit(notify)
