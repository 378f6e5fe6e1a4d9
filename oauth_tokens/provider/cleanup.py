"""Deleting what has expired, in batches so that large tables never lock for long
(like ``clearsessions``: the command only calls ``clear_expired``).

A row qualifies once its own expiry has come (``past_expiry`` of
``token_state``), whatever its state: a revoked or rotated row is a tombstone
only as long as the rules below need it."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Max

from oauth_tokens.provider import models
from oauth_tokens.provider.models import (
    AccessToken,
    AuthorizationCode,
    Client,
    ClientAssertionUse,
    DeviceCode,
    RefreshToken,
    RevokedToken,
)
from oauth_tokens.settings import token_settings


def _delete_in_batches(queryset, batch_size: int) -> int:
    total = 0
    model = queryset.model
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return total
        with transaction.atomic():
            deleted, _ = model.objects.filter(pk__in=ids).delete()
        total += len(ids)


def clear_expired(*, batch_size: int = 1000) -> dict[str, int]:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    t = models.now()
    # The longest grace window any client has (a client's own value may exceed the settings).
    longest_client_window = Client.objects.aggregate(longest=Max("refresh_grace_period"))["longest"] or 0
    grace = timedelta(seconds=max(float(token_settings.REFRESH_TOKEN_GRACE_PERIOD),
                                  float(token_settings.REFRESH_TOKEN_GRACE_PERIOD_PUBLIC), longest_client_window))
    # An access token row is its revocation record: keep it while the JWT could
    # still pass verification (exp plus the verifier's leeway).
    access_cutoff = t - timedelta(seconds=int(token_settings.JWT_LEEWAY))
    # A refresh family goes only when every token of it has expired: a rotated or
    # revoked tombstone must outlive its family so that its reuse is still detected.
    live_families = RefreshToken.objects.before_expiry(t).values("family")
    live_access_families = (
        AccessToken.objects.before_expiry(access_cutoff).filter(family__isnull=False).values("family")
    )
    # A used code stays while anything it issued lives, so that its replay is
    # still detected and revokes those tokens (RFC 6749 section 4.1.2).
    spent_codes = (
        AuthorizationCode.objects.past_expiry(t)
        .exclude(used_at__isnull=False, family__in=live_families)
        .exclude(used_at__isnull=False, family__in=live_access_families)
    )
    counts = {
        "authorization codes": _delete_in_batches(spent_codes, batch_size),
        "access tokens": _delete_in_batches(AccessToken.objects.past_expiry(access_cutoff), batch_size),
        "refresh tokens": _delete_in_batches(
            RefreshToken.objects.past_expiry(t).exclude(family__in=live_families), batch_size
        ),
    }
    # Ids kept revoked after their user or client was deleted (revocation.revoke_before_delete).
    _delete_in_batches(RevokedToken.objects.past_expiry(access_cutoff), batch_size)
    # Device codes (RFC 8628), in whatever state: a used one revokes nothing when it comes back.
    _delete_in_batches(DeviceCode.objects.past_expiry(t), batch_size)
    # Used client assertions (RFC 7523): an expired one is refused for its exp anyway.
    _delete_in_batches(ClientAssertionUse.objects.past_expiry(t), batch_size)
    # Successor responses are kept only for the grace window.
    RefreshToken.objects.filter(used_at__lt=t - grace).exclude(successor_response="").update(successor_response="")
    return counts
