"""``ExternalToken``: a token pair obtained from another provider, encrypted at
rest, with the columns the single-flight refresh needs (``version`` for
compare-and-swap, ``refreshing_until`` for the lease used where the database
has no row locks, and for the hold-off after a refresh whose answer was lost),
and where its rows are read and written (``database``, ``token_rows``).

One row per (provider, user); ``user`` is NULL for the project's own
client_credentials token (RFC 6749 section 4.4). The database enforces it
through ``owner``, a column it computes from ``user``: a unique constraint on
(provider, user) would not do, since NULLs never collide, and partial unique
constraints exist on PostgreSQL and SQLite but not on MariaDB / MySQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, router, transaction
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oauth_tokens.consumer.fields import EncryptedTextField


def now() -> datetime:
    """The consumer's clock; tests patch ``oauth_tokens.consumer.models.now``."""
    return timezone.now()


def expiry(expires_at: datetime | None, obtained_at: datetime | None, assumed: float = 0.0) -> datetime | None:
    """When a token expires: ``expires_at``, or for a token stored without one,
    ``obtained_at`` plus the provider's ``assumed_lifetime`` (0: never)."""
    if expires_at is not None or not assumed or obtained_at is None:
        return expires_at
    return obtained_at + timedelta(seconds=assumed)


def is_fresh(expires_at: datetime | None, obtained_at: datetime | None, leeway: float,
             at: datetime | None = None) -> bool:
    """An access token expiring at ``expires_at`` is still good for ``leeway`` seconds,
    capped at half its lifetime (``obtained_at`` to ``expires_at``)."""
    if expires_at is None:
        return True
    margin = float(leeway)
    if obtained_at is not None:
        margin = min(margin, max(0.0, (expires_at - obtained_at).total_seconds()) / 2)
    return expires_at - timedelta(seconds=margin) > (at or now())


@dataclass(frozen=True, repr=False)
class Credentials:
    """What a request to the provider's APIs needs: the access token, how to present
    it (``token_type``: ``Bearer``, or ``DPoP`` with a proof, RFC 9449 section 7.1),
    and the grant's DPoP private key (a PEM; "" when the grant has none)."""

    access_token: str
    token_type: str = "Bearer"
    dpop_key: str = ""

    @property
    def is_dpop(self) -> bool:
        return self.token_type == "DPoP" and bool(self.dpop_key)

    def __repr__(self) -> str:  # never the token or the key
        return f"<Credentials {self.token_type} key={bool(self.dpop_key)}>"


class ExternalToken(models.Model):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    REVOKED = "revoked"
    #: ``last_error`` while the refresh is held off: the answer to the last refresh was
    #: lost, so it may have rotated the refresh token (``refresh_hold_off``).
    REFRESH_UNCONFIRMED = "refresh_unconfirmed"
    STATUSES = [
        (ACTIVE, _("Active")),
        (NEEDS_REAUTH, _("Needs re-authorization")),
        (REVOKED, _("Revoked")),
    ]

    provider = models.CharField(max_length=100, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="external_tokens",
        help_text=_("Empty for the project's own client_credentials token."),
    )
    #: The user's id as text, or "" for the client_credentials token: computed and
    #: stored by the database (never written by code), unique with ``provider``.
    owner = models.GeneratedField(
        expression=Coalesce(Cast("user", models.CharField(max_length=255)), models.Value("")),
        output_field=models.CharField(max_length=255),
        db_persist=True,
    )
    access_token = EncryptedTextField(blank=True, editable=False)
    refresh_token = EncryptedTextField(blank=True, editable=False)
    token_type = models.CharField(max_length=40, default="Bearer")
    #: The grant's DPoP private key (RFC 9449), a PKCS#8 PEM, encrypted like the tokens;
    #: "" for a grant without DPoP. Made when the grant is obtained, kept for its refreshes.
    dpop_key = EncryptedTextField(_("DPoP private key"), blank=True, editable=False)
    dpop_jkt = models.CharField(
        _("DPoP key thumbprint"), max_length=64, blank=True, editable=False,
        help_text=_("Thumbprint (RFC 7638) of the grant's DPoP public key: the tokens' cnf.jkt."),
    )
    scope = models.TextField(blank=True)
    obtained_at = models.DateTimeField(null=True, blank=True, help_text=_("When the current access token was issued."))
    expires_at = models.DateTimeField(null=True, blank=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=STATUSES, default=ACTIVE, db_index=True)
    #: Bumped by every write of the tokens: the compare-and-swap guard.
    version = models.PositiveBigIntegerField(default=0, editable=False)
    #: No worker starts a refresh before then: a worker holds the refresh lease
    #: (databases without row locks), or, with ``last_error`` REFRESH_UNCONFIRMED, the
    #: refresh is held off after one whose answer was lost (every database).
    refreshing_until = models.DateTimeField(null=True, blank=True, editable=False)
    refresh_count = models.PositiveIntegerField(default=0, help_text=_("Refreshes since the user connected."))
    last_error = models.CharField(max_length=64, blank=True, help_text=_("OAuth error code of the last failure."))
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        verbose_name = _("external token")
        ordering = ["provider", "user_id"]
        constraints = [
            # One token per user and one client_credentials token per provider,
            # honoured by every database (the single-flight refresh relies on it).
            models.UniqueConstraint(fields=["provider", "owner"], name="oauth_tokens_consumer_one_per_owner"),
        ]

    def __str__(self) -> str:
        who = f"user #{self.user_id}" if self.user_id else "client credentials"
        return f"{self.provider} token for {who} ({self.status})"

    def __repr__(self) -> str:  # never the token values
        return f"<ExternalToken {self.pk} {self.provider} user={self.user_id} {self.status} v{self.version}>"

    @property
    def lifetime(self) -> float | None:
        if self.expires_at is None or self.obtained_at is None:
            return None
        return max(0.0, (self.expires_at - self.obtained_at).total_seconds())

    @property
    def renewable(self) -> bool:
        """A new access token can be had without the user: client_credentials, or a refresh token."""
        return self.user_id is None or bool(self.refresh_token)

    def expiry(self, assumed: float = 0.0) -> datetime | None:
        """``expires_at``, or ``obtained_at + assumed`` for a renewable token stored without one."""
        return expiry(self.expires_at, self.obtained_at, assumed if self.renewable else 0.0)

    def is_fresh(self, leeway: float, at: datetime | None = None, assumed: float = 0.0) -> bool:
        """Usable for at least ``leeway`` more seconds (never more than half the
        token's lifetime, so short-lived tokens are not refreshed on every call)."""
        if self.status != self.ACTIVE or not self.access_token:
            return False
        return is_fresh(self.expiry(assumed), self.obtained_at, leeway, at)

    def credentials(self) -> Credentials:
        return Credentials(self.access_token, self.token_type, self.dpop_key)

    def hold_off_left(self, at: datetime | None = None) -> float:
        """Seconds until the refresh token may be presented again after a refresh whose
        answer was lost (``refresh_hold_off``); 0 when the refresh is not held off."""
        if self.last_error != self.REFRESH_UNCONFIRMED or self.refreshing_until is None:
            return 0.0
        return max(0.0, (self.refreshing_until - (at or now())).total_seconds())

    def seconds_left(self, at: datetime | None = None) -> int | None:
        if self.expires_at is None:
            return None
        return int((self.expires_at - (at or now())).total_seconds())


def database() -> str:
    """The database every read and write of the consumer's tokens goes to: the write
    database, so a worker always sees a sibling's newest refresh."""
    return router.db_for_write(ExternalToken)


def token_rows(provider: str, user_id: Any) -> Any:
    """The row (at most one) of ``user_id`` at ``provider``; None: the project's
    client_credentials token."""
    return ExternalToken.objects.using(database()).filter(provider=provider, user_id=user_id)


def create_client_token_row(provider: str) -> None:
    """The client_credentials row of ``provider``, created empty, unless a sibling was first."""
    try:
        with transaction.atomic(using=database()):
            ExternalToken.objects.using(database()).create(provider=provider, user=None)
    except IntegrityError:
        pass  # a sibling created it first
