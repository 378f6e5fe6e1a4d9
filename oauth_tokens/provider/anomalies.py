"""Anomalies recorded and acted on: the provider side of ``oauth2.anomaly``.

Every anomaly, whoever found it (a rotation: ``family_usage``; a client's rate:
``refresh_rate``; failed refreshes: ``failed_refreshes``), comes through
``record``: an ``anomaly`` TokenEvent (client, user, family, address, and a
detail "<kind>: <what, with the numbers>"), the ``token_anomaly`` signal after
commit, and the action its kind's setting chooses (``ANOMALY_<KIND>_ACTION``):

- ``record``: that is all;
- ``revoke``: also revoke the family (``revocation.revoke_family``, reason
  ``anomaly:<kind>``): its refresh and access tokens are refused from then on;
- ``revoke_and_reauthorize``: also send ``reauthorization_required`` (provider
  kwargs ``client``, ``user``, ``family``, ``reason``), for a project that asks
  its user to sign in again;
- ``off``: the kind is not detected at all.

An anomaly that concerns no single family (a client's rate, one address's
failures with no token known) is recorded and signalled; nothing is revoked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import router, transaction

from oauth_tokens import process_caches, signals
from oauth_tokens.oauth2 import anomaly
from oauth_tokens.oauth2.anomaly import Finding
from oauth_tokens.provider import revocation
from oauth_tokens.provider.models import Client, RefreshToken, TokenEvent
from oauth_tokens.settings import token_settings

#: What the client is told when an anomaly's action revoked the family it refreshes.
REVOKED = "The refresh token was revoked: unusual use of this grant was detected; authorize again"
REVOKING = (anomaly.REVOKE, anomaly.REVOKE_AND_REAUTHORIZE)


@dataclass(frozen=True)
class Config:
    """The anomaly settings, read once per settings change: a rotation asks for them
    several times, and this keeps that to a few attribute reads."""

    detecting: bool
    actions: dict[str, str]  # kind -> action; every kind "off" while detection is off
    rotation_limit: int
    max_speed_kmh: float
    rate_factor: float
    rate_floor: int

    @classmethod
    def load(cls) -> Config:
        detecting = bool(token_settings.ANOMALY_DETECTION)
        return cls(
            detecting=detecting,
            actions={kind: str(getattr(token_settings, f"ANOMALY_{kind.upper()}_ACTION")) if detecting
                     else anomaly.OFF for kind in anomaly.KINDS},
            rotation_limit=int(token_settings.ANOMALY_FREQUENT_REFRESH_LIMIT),
            max_speed_kmh=float(token_settings.ANOMALY_MAX_TRAVEL_SPEED),
            rate_factor=float(token_settings.ANOMALY_CLIENT_RATE_FACTOR),
            rate_floor=int(token_settings.ANOMALY_CLIENT_RATE_FLOOR),
        )


_config: list[Config] = []


def config() -> Config:
    if not _config:
        _config.append(Config.load())
    return _config[0]


@process_caches.resets_on("OAUTH_TOKENS")
def reset() -> None:
    _config.clear()


def detecting() -> bool:
    """``ANOMALY_DETECTION``: False turns the whole of it off (no history, counters or events)."""
    return config().detecting


def action(kind: str) -> str:
    """The action ``ANOMALY_<KIND>_ACTION`` chooses for ``kind``; ``off`` while detection is off."""
    return config().actions[kind]


def revokes(finding: Finding) -> bool:
    return action(finding.kind) in REVOKING


def _user_of(token: RefreshToken | None) -> Any | None:
    if token is None or token.user_id is None:
        return None
    try:
        return token.user
    except ObjectDoesNotExist:  # deleted meanwhile
        return None


def record(finding: Finding, *, client: Client | None, token: RefreshToken | None = None,
           ip: str | None = None) -> str:
    """Record ``finding`` (about ``token``'s family when given) and act on it; returns
    the action taken (``record`` where there is no family to revoke)."""
    taken = action(finding.kind)
    if taken == anomaly.OFF:
        return taken
    family: uuid.UUID | None = token.family if token is not None else None
    if family is None:
        taken = anomaly.RECORD
    user = _user_of(token)
    using = router.db_for_write(TokenEvent)
    with transaction.atomic(using=using):
        TokenEvent.objects.using(using).create(
            kind=TokenEvent.ANOMALY, client=client, client_identifier=client.client_id if client else "",
            user=user, family=family, ip_address=ip or None, detail=finding.detail,
        )
        reason = f"anomaly:{finding.kind}"
        # Once: a second anomaly of the same request (or a reuse) finds the family revoked already.
        if taken in REVOKING and family is not None and RefreshToken.objects.using(using).filter(
                family=family, revoked_at__isnull=True).exists():
            revocation.revoke_family(family, client=client, user=user, reason=reason, ip=ip or None)
        details = {**finding.numbers, "detail": finding.detail, "action": taken}

        def notify() -> None:
            # Robust: the request was decided and committed; a receiver's error (one written
            # for the consumer's reauthorization_required kwargs, say) is logged, not a 500.
            signals.token_anomaly.send_robust(sender=RefreshToken, kind=finding.kind, client=client, user=user,
                                              family=family, ip=ip or None, details=details)
            if taken == anomaly.REVOKE_AND_REAUTHORIZE:
                signals.reauthorization_required.send_robust(sender=RefreshToken, client=client, user=user,
                                                             family=family, reason=reason)

        transaction.on_commit(notify, using=using)
    return taken
