"""Device codes in the database (RFC 8628): making a device authorization (the
device endpoint), and the ORM side of ``oauth2.device.DeviceCodeStore`` (the
token endpoint's lookups and polls), which ``stores.OrmTokenStore`` takes in;
the redemption sits there beside the authorization code's, which it shares.

Both codes are stored as digests. The user code is looked up by the digest of
its normalized form (``lookup_user_code``); the page that does so throttles
wrong guesses (``device_page``). Every change of a code's state is one
conditional UPDATE: a decision only on a pending, unexpired code, a
redemption only of an approved one (``OrmTokenStore.redeem_device_code``), a
poll only against the last poll read.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.db import IntegrityError, router, transaction
from django.db.models import F

from oauth_tokens import crypto
from oauth_tokens.oauth2 import device
from oauth_tokens.provider import models
from oauth_tokens.provider.models import Client, DeviceCode
from oauth_tokens.settings import token_settings


def enabled() -> bool:
    return bool(token_settings.DEVICE_AUTHORIZATION_ENABLED)


def start(client: Client, scope: str, verification_uri: str, resources: str = "") -> device.DeviceAuthorization:
    """A new pending device code for ``client`` (``resources``: RFC 8707, one per line);
    the plaintext codes are in the answer only."""
    lifetime = math.ceil(float(token_settings.DEVICE_CODE_LIFETIME))
    interval = int(token_settings.DEVICE_CODE_INTERVAL)
    device_code = crypto.new_token(32)
    for attempt in range(5):
        user_code = device.new_user_code()
        try:
            with transaction.atomic(using=router.db_for_write(DeviceCode)):
                DeviceCode.objects.create(
                    digest=crypto.digest(device_code), user_code_digest=crypto.digest(user_code), client=client,
                    scope=scope, resources=resources, interval=interval,
                    expires_at=models.now() + timedelta(seconds=lifetime),
                )
            break
        except IntegrityError:  # the user code of another (or an expired, not yet cleared) request
            if attempt == 4:
                raise
    return device.DeviceAuthorization(device_code, user_code, verification_uri, lifetime, interval)


def lookup_user_code(typed: str) -> DeviceCode | None:
    """The device code whose user code was typed (any state), or None."""
    code = device.normalize_user_code(typed)
    if code is None:
        return None
    using = router.db_for_write(DeviceCode)  # just created, maybe not on a replica yet
    return DeviceCode.objects.using(using).select_related("client").filter(
        user_code_digest__in=crypto.digest_candidates(code)
    ).first()


def decide(code: DeviceCode, user, *, approve: bool) -> bool:
    """Approve or deny a pending, unexpired ``code`` for ``user``; False when it was
    decided meanwhile or has expired."""
    now = models.now()
    changes = {"status": DeviceCode.APPROVED if approve else DeviceCode.DENIED, "user": user}
    if approve:
        changes["auth_time"] = getattr(user, "last_login", None)
    return DeviceCode.objects.using(router.db_for_write(DeviceCode)).filter(
        pk=code.pk, status=DeviceCode.PENDING, expires_at__gt=now
    ).update(**changes) == 1


class OrmDeviceCodes:
    """The token endpoint's device code methods (``oauth2.device.DeviceCodeStore``)."""

    ip: str | None

    def device_flow_enabled(self) -> bool:
        return enabled()

    def find_device_code(self, device_code: str) -> DeviceCode | None:
        using = router.db_for_write(DeviceCode)  # a poll decides on the freshest state
        row = DeviceCode.objects.using(using).select_related("user").filter(
            digest__in=crypto.digest_candidates(device_code)
        ).first()
        if row is not None and row.user is not None and not row.user.is_active:
            return None  # a deactivated user gets no new tokens
        return row

    def record_poll(self, code: DeviceCode, *, slow_down_step: int) -> bool:
        now = models.now()
        rows = DeviceCode.objects.using(router.db_for_write(DeviceCode)).filter(pk=code.pk)
        previous = code.last_polled_at
        on_time = previous is None or (now - previous).total_seconds() >= code.interval
        # The compare-and-swap against the poll we read: of two concurrent polls, one is too fast.
        if on_time and rows.filter(last_polled_at=previous).update(last_polled_at=now) == 1:
            return True
        rows.update(last_polled_at=now, interval=F("interval") + slow_down_step)
        return False
