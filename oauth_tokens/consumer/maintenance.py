"""What the management commands do: re-encrypt stored tokens under the newest
key, and refresh tokens that expire soon (cron / Celery beat). Both work in
batches and report progress through a callback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

from oauth_tokens import crypto
from oauth_tokens.consumer import models, service
from oauth_tokens.consumer.exceptions import ConsumerError, ReauthorizationRequired
from oauth_tokens.consumer.models import ExternalToken
from oauth_tokens.consumer.providers import get_provider

Progress = Callable[[int, int], None]


def reencrypt(*, batch_size: int = 500, progress: Progress | None = None) -> int:
    """Rewrite every stored token (and DPoP key) under the first ENCRYPTION_KEYS key. Returns
    how many rows were rewritten. A row refreshed meanwhile is skipped: the
    refresh already wrote it under the newest key (compare-and-swap on ``version``)."""
    crypto.reset_keys()
    db = models.database()
    pks = list(ExternalToken.objects.using(db).exclude(access_token="", refresh_token="").values_list("pk", flat=True))
    done = 0
    for start in range(0, len(pks), batch_size):
        batch = ExternalToken.objects.using(db).filter(pk__in=pks[start:start + batch_size])
        for row in batch.only("access_token", "refresh_token", "dpop_key", "version"):
            # Decrypting with any key and saving encrypts with the first one.
            done += ExternalToken.objects.using(db).filter(pk=row.pk, version=row.version).update(
                access_token=row.access_token, refresh_token=row.refresh_token, dpop_key=row.dpop_key
            )
        if progress:
            progress(min(start + batch_size, len(pks)), len(pks))
    return done


class RefreshReport:
    def __init__(self) -> None:
        self.refreshed = 0
        self.needs_reauth = 0
        self.failed: list[str] = []


def refresh_expiring(*, within: float | None = None, provider: str | None = None,
                     progress: Progress | None = None) -> RefreshReport:
    """Refresh active tokens expiring within ``within`` seconds (default: each
    provider's ``refresh_leeway``), single-flight with live traffic. A renewable
    token stored without an expiry counts as expiring ``assumed_lifetime`` after
    it was obtained."""
    renewable = Q(user__isnull=True) | ~Q(refresh_token="")  # "" is how an empty token is stored
    qs = ExternalToken.objects.using(models.database()).filter(status=ExternalToken.ACTIVE).filter(
        Q(expires_at__isnull=False) | (Q(obtained_at__isnull=False) & renewable)
    ).exclude(access_token="")
    if provider:
        qs = qs.filter(provider=provider)
    candidates = []
    report = RefreshReport()
    for name, user_id, expires_at, obtained_at in qs.values_list("provider", "user_id", "expires_at",
                                                                 "obtained_at"):
        try:
            config = get_provider(name)
        except (ImproperlyConfigured, ConsumerError) as exc:  # a provider removed from settings, for example
            report.failed.append(str(exc))
            continue
        horizon = within if within is not None else float(config.refresh_leeway)
        expires = models.expiry(expires_at, obtained_at, config.assumed_lifetime)
        if expires is not None and expires <= models.now() + timedelta(seconds=horizon):
            candidates.append((name, user_id, horizon))
    for index, (name, user_id, horizon) in enumerate(candidates, 1):
        try:
            service.refresh_access_token(name, user_id, within=horizon)
            report.refreshed += 1
        except ReauthorizationRequired:
            report.needs_reauth += 1
        except ConsumerError as exc:
            report.failed.append(str(exc))
        if progress:
            progress(index, len(candidates))
    return report
