"""Provider storage (DESIGN.md section 3): digests for everything we generated,
``jti`` rows for access tokens, encrypted private keys, an audit trail.

No model stores a plaintext secret, code or refresh token.

Over our usual 300 lines, as Django's convention of one ``models.py`` per app
wants: what a token's state means lives in ``token_state``, making tokens in
``issuing``, revoking them in ``revocation``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oauth_tokens import crypto
from oauth_tokens.oauth2 import client_assertion, scopes
from oauth_tokens.oauth2 import resources as resource_indicators
from oauth_tokens.provider import token_state
from oauth_tokens.provider.token_state import (
    AccessTokenQuerySet,
    ExpiringQuerySet,
    RefreshTokenQuerySet,
    TokenState,
)
from oauth_tokens.settings import token_settings

GRANT_TYPES = [
    ("authorization_code", _("Authorization code")),
    ("refresh_token", _("Refresh token")),
    ("client_credentials", _("Client credentials")),
    ("urn:ietf:params:oauth:grant-type:device_code", _("Device code (RFC 8628)")),
    ("urn:ietf:params:oauth:grant-type:jwt-bearer", _("JWT bearer assertion (RFC 7523)")),
    ("urn:ietf:params:oauth:grant-type:token-exchange", _("Token exchange (RFC 8693)")),
]


def now():
    """The clock; tests patch ``oauth_tokens.provider.models.now`` to move time."""
    return timezone.now()


# The token states' default moment reads this module's clock at each call, so a
# patched ``now`` moves it too.
token_state.use_clock(lambda: now())


def split_words(value: str) -> list[str]:
    return [w for w in value.split() if w]


#: Client authentication methods (RFC 7591 section 2, RFC 7523, OIDC Core section 9).
AUTH_METHODS = [
    ("", _("Default: the secret, by HTTP Basic or in the body (public clients: none)")),
    ("client_secret_basic", _("client_secret_basic: the secret by HTTP Basic only")),
    ("client_secret_post", _("client_secret_post: the secret in the body only")),
    (client_assertion.CLIENT_SECRET_JWT, _("client_secret_jwt: a JWT signed with the secret (HMAC)")),
    (client_assertion.PRIVATE_KEY_JWT, _("private_key_jwt: a JWT signed with the client's private key")),
    ("none", _("none: a public client")),
]


class Client(models.Model):
    CONFIDENTIAL = "confidential"
    PUBLIC = "public"

    name = models.CharField(max_length=200)
    #: Generated, or (client ID metadata documents) the https URL of the client's document.
    client_id = models.CharField(max_length=255, unique=True, editable=False)
    secret_digest = models.CharField(max_length=64, blank=True, editable=False)
    client_type = models.CharField(
        max_length=16,
        choices=[(CONFIDENTIAL, _("Confidential (has a secret)")), (PUBLIC, _("Public (PKCE, no secret)"))],
        default=CONFIDENTIAL,
    )
    grant_types = models.CharField(
        max_length=200,
        default="authorization_code refresh_token",
        help_text=_("Space-separated: authorization_code, refresh_token, client_credentials."),
    )
    redirect_uris = models.TextField(blank=True, help_text=_("One exact URI per line."))
    scope = models.TextField(default="read", help_text=_("Space-separated scopes this client may request."))
    resources = models.TextField(
        blank=True, default="",
        help_text=_("Resources (RFC 8707 resource indicators, absolute URIs) this client may get tokens for, "
                    "one per line. Empty: any that OAUTH_TOKENS['RESOURCES'] allows."),
    )
    access_token_lifetime = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Seconds; empty uses OAUTH_TOKENS['ACCESS_TOKEN_LIFETIME'].")
    )
    refresh_token_lifetime = models.PositiveIntegerField(
        null=True, blank=True,
        help_text=_("Idle lifetime of a refresh token, in seconds: each rotation gives the new token this long. "
                    "Empty uses OAUTH_TOKENS['REFRESH_TOKEN_LIFETIME']."),
    )
    refresh_family_lifetime = models.PositiveIntegerField(
        null=True, blank=True,
        help_text=_("Absolute lifetime of a grant's refresh tokens, in seconds from the code exchange: no rotation "
                    "outlives it. Empty uses OAUTH_TOKENS['REFRESH_TOKEN_FAMILY_LIFETIME']."),
    )
    refresh_grace_period = models.PositiveIntegerField(
        null=True, blank=True,
        help_text=_("Seconds during which a retry with the previous refresh token gets the same pair again; "
                    "0 turns it off. Empty uses OAUTH_TOKENS['REFRESH_TOKEN_GRACE_PERIOD'] (confidential "
                    "clients) or OAUTH_TOKENS['REFRESH_TOKEN_GRACE_PERIOD_PUBLIC'] (public clients, 0 unless set)."),
    )
    post_logout_redirect_uris = models.TextField(
        blank=True,
        help_text=_("One exact URI per line: where OpenID Connect RP-initiated logout may send the user "
                    "back to (post_logout_redirect_uri)."),
    )
    require_pushed_authorization_requests = models.BooleanField(
        default=False,
        help_text=_("Accept this client's authorization requests only through a pushed authorization "
                    "request (RFC 9126): a plain one at the authorization endpoint is refused."),
    )
    token_exchange_impersonation = models.BooleanField(
        default=False,
        help_text=_("Token exchange (RFC 8693): this client may get a token for the subject without naming an "
                    "actor (impersonation, no act claim). Off: it must send an actor_token (delegation)."),
    )
    dpop_bound_access_tokens = models.BooleanField(
        default=False,
        help_text=_("Require DPoP (RFC 9449): every token request of this client must carry a DPoP proof, "
                    "and its access tokens are bound to the proof's key."),
    )
    token_endpoint_auth_method = models.CharField(
        max_length=32, blank=True, default="", choices=AUTH_METHODS,
        help_text=_("How the client authenticates at the token, revocation, introspection and device "
                    "endpoints. Switching to client_secret_jwt issues a new secret (shown once)."),
    )
    jwks = models.JSONField(
        null=True, blank=True,
        help_text=_('private_key_jwt: the client\'s public keys, a JWK Set {"keys": [...]}. Or give a jwks_uri.'),
    )
    jwks_uri = models.CharField(
        max_length=2000, blank=True,
        help_text=_("private_key_jwt: an https URL serving the client's public JWK Set (fetched and cached)."),
    )
    #: client_secret_jwt only: the secret, encrypted (``crypto.encrypt``), since an
    #: HMAC cannot be checked against a digest. Empty for every other client.
    secret_encrypted = models.TextField(blank=True, default="", editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    #: Dynamic registration (RFC 7591, ``registration``): the client metadata kept as
    #: registered (token_endpoint_auth_method, response_types, client_uri, logo_uri,
    #: contacts, tos_uri, policy_uri, software_id, software_version); {} otherwise.
    metadata = models.JSONField(
        default=dict, blank=True,
        help_text=_("Client metadata of a dynamically registered client (RFC 7591 section 2)."),
    )
    #: When and from which address the client registered itself; None for clients made here.
    registered_at = models.DateTimeField(null=True, blank=True, editable=False)
    registered_from = models.GenericIPAddressField(null=True, blank=True, editable=False)
    #: Digest of its current registration access token (RFC 7592); "" when it has none.
    registration_token_digest = models.CharField(max_length=64, blank=True, editable=False)
    #: Registered while OAUTH_TOKENS["REGISTRATION_APPROVAL_REQUIRED"] was on and not yet
    #: approved (it stays inactive until an admin approves it).
    pending_approval = models.BooleanField(default=False, help_text=_("Registered dynamically, awaiting approval."))

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.client_id:
            self.client_id = crypto.new_token(24)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """The authentication method fits the client type and its keys (RFC 7591 section 2)."""
        method = self.token_endpoint_auth_method
        errors: dict[str, Any] = {}
        if self.client_type == self.PUBLIC and method not in ("", "none"):
            errors["token_endpoint_auth_method"] = _("A public client authenticates with none.")
        if self.client_type == self.CONFIDENTIAL and method == "none":
            errors["token_endpoint_auth_method"] = _("A confidential client must authenticate.")
        if self.jwks not in (None, "", {}):
            problem = client_assertion.public_jwks_problem(self.jwks)
            if problem:
                errors["jwks"] = _("The JWK Set %(problem)s.") % {"problem": problem}
        if method == client_assertion.PRIVATE_KEY_JWT:
            if not self.jwks and not self.jwks_uri:
                errors["jwks"] = _("private_key_jwt needs the client's public keys: a JWK Set or a jwks_uri.")
            elif self.jwks and self.jwks_uri:
                errors["jwks_uri"] = _("Give either a JWK Set or a jwks_uri, not both (RFC 7591 section 2).")
        insecure_ok = bool(token_settings.FETCH_ALLOW_LOOPBACK)
        if self.jwks_uri:
            try:
                URLValidator(schemes=["https", "http"] if insecure_ok else ["https"])(self.jwks_uri)
            except ValidationError:
                errors["jwks_uri"] = _("The jwks_uri must be an https URL.")
        if errors:
            raise ValidationError(errors)

    # -- secret -------------------------------------------------------------
    def set_secret(self) -> str:
        """Generate a new secret, store its digest, return the plaintext (show it once).
        A ``client_secret_jwt`` client also keeps it encrypted: its assertions are HMACs
        keyed with it."""
        uses_hmac = self.token_endpoint_auth_method == client_assertion.CLIENT_SECRET_JWT
        # An HMAC key at least as long as the hash (RFC 7518 section 3.2): 64 characters for HS512.
        secret = crypto.new_token(48 if uses_hmac else 32)
        self.secret_digest = crypto.digest(secret)
        self.secret_encrypted = crypto.encrypt(secret) if uses_hmac else ""
        return secret

    def hmac_secret(self) -> str | None:
        """The secret of a ``client_secret_jwt`` client, decrypted; None when it has
        none (it was set before the switch to that method) or no key opens it."""
        if self.token_endpoint_auth_method != client_assertion.CLIENT_SECRET_JWT or not self.secret_encrypted:
            return None
        try:
            return crypto.decrypt(self.secret_encrypted)
        except crypto.InvalidToken:
            return None

    def check_secret(self, secret: str) -> bool:
        if not self.secret_digest or not secret:
            return False
        return any(crypto.constant_time_equals(d, self.secret_digest) for d in crypto.digest_candidates(secret))

    # -- the oauth2.store.Client protocol ----------------------------------
    @property
    def is_confidential(self) -> bool:
        return self.client_type == self.CONFIDENTIAL

    @property
    def grant_type_list(self) -> list[str]:
        return split_words(self.grant_types)

    @property
    def scope_list(self) -> list[str]:
        return list(scopes.parse(self.scope))

    @property
    def redirect_uri_list(self) -> list[str]:
        return split_words(self.redirect_uris)

    @property
    def resource_list(self) -> list[str]:
        return split_words(self.resources)

    def allows_resource(self, resource: str) -> bool:
        """May this client get tokens for ``resource`` (RFC 8707)? Within its own list when
        it has one, and one this server issues for (``OAUTH_TOKENS['RESOURCES']``)."""
        return resource_indicators.allowed(
            resource, server=token_settings.RESOURCES, client=self.resource_list, default=token_settings.audience
        )

    @property
    def post_logout_redirect_uri_list(self) -> list[str]:
        return split_words(self.post_logout_redirect_uris)

    def access_lifetime(self) -> int:
        return self.access_token_lifetime or int(token_settings.ACCESS_TOKEN_LIFETIME)

    def refresh_lifetime(self) -> int:
        """The idle lifetime: what each new refresh token gets, at most (``family_lifetime`` caps it)."""
        return self.refresh_token_lifetime or int(token_settings.REFRESH_TOKEN_LIFETIME)

    def family_lifetime(self) -> int:
        """The absolute lifetime of a refresh token family, from its code exchange."""
        return self.refresh_family_lifetime or int(token_settings.REFRESH_TOKEN_FAMILY_LIFETIME)

    def grace_period(self) -> float:
        """Seconds a rotated refresh token may be replayed for the same pair; 0 when off."""
        if self.refresh_grace_period is not None:
            return self.refresh_grace_period
        if self.is_confidential:
            return float(token_settings.REFRESH_TOKEN_GRACE_PERIOD)
        return float(token_settings.REFRESH_TOKEN_GRACE_PERIOD_PUBLIC)


class AuthorizationCode(models.Model):
    digest = models.CharField(max_length=64, unique=True, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="codes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    redirect_uri = models.TextField()
    scope = models.TextField(blank=True)
    #: The resources (RFC 8707) the grant is for, one per line; empty: the default audience.
    resources = models.TextField(blank=True, default="", editable=False)
    code_challenge = models.CharField(max_length=128, blank=True)
    code_challenge_method = models.CharField(max_length=10, blank=True)
    nonce = models.CharField(max_length=255, blank=True)
    #: ``dpop_jkt`` of the authorization request (RFC 9449 section 10): the token
    #: request's DPoP proof must be made with that key. "" when none was given.
    dpop_jkt = models.CharField(max_length=64, blank=True, default="", editable=False)
    family = models.UUIDField(default=crypto.time_ordered_uuid, editable=False)
    auth_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = ExpiringQuerySet.as_manager()

    def __str__(self) -> str:
        return f"code for {self.client_id} ({self.created_at:%Y-%m-%d %H:%M})"

    def issued_to(self, client: Client) -> bool:
        return self.client_id == client.pk

    @classmethod
    def issue(cls, **fields) -> tuple[AuthorizationCode, str]:
        value = crypto.new_token(32)
        lifetime = int(token_settings.AUTHORIZATION_CODE_LIFETIME)
        code = cls.objects.create(
            digest=crypto.digest(value), expires_at=now() + timedelta(seconds=lifetime), **fields
        )
        return code, value


class RefreshToken(models.Model):
    digest = models.CharField(max_length=64, editable=False)  # unique: Meta.constraints
    family = models.UUIDField(db_index=True, editable=False)
    parent = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="successor", editable=False
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="refresh_tokens",
                               db_index=False)  # (client, user) below serves it
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    scope = models.TextField(blank=True)
    #: The resources (RFC 8707) of the family's grant, copied to every successor: a
    #: refresh may ask for fewer for its access token, never for more.
    resources = models.TextField(blank=True, default="", editable=False)
    #: The thumbprint of the DPoP key the family is bound to (RFC 9449 section 5:
    #: public clients' refresh tokens), copied to every successor; "" when unbound.
    dpop_jkt = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField(default=now)
    #: The end of this token's life: its idle lifetime from its creation, capped
    #: at the end of its family (``family_started_at`` + the family lifetime).
    expires_at = models.DateTimeField(db_index=True)
    #: When the family began (its code exchange), copied to every successor: the
    #: family lifetime counts from here.
    family_started_at = models.DateTimeField(default=now, editable=False)
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    #: The successor's token response, encrypted, kept only for the grace window.
    successor_response = models.TextField(blank=True, editable=False)
    #: How many times the successor pair was handed out again (grace replays);
    #: raised by a conditional UPDATE, so the cap holds under concurrency.
    grace_replays = models.PositiveIntegerField(default=0, editable=False)
    #: The family's recent use, copied forward to the successor at each rotation
    #: (anomaly detection, ``oauth2.anomaly.Usage``): its last rotation times, the
    #: networks or countries it was used from, its last location. Small and bounded;
    #: None when detection is off (nullable: adding it rewrites no existing row).
    usage = models.JSONField(null=True, blank=True, editable=False)

    objects = RefreshTokenQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["client", "user"]),
            # The admin page "Token activity" counts rotations per client in time buckets from this index alone.
            models.Index(fields=["created_at", "client", "parent"], name="oauth_rt_activity_idx"),
        ]
        # A constraint rather than unique=True: on PostgreSQL that would add a second
        # (LIKE-pattern) index on the digest, one more random B-tree insert per token.
        constraints = [models.UniqueConstraint(fields=["digest"], name="oauth_rt_digest_unique")]

    def __str__(self) -> str:
        return f"refresh token #{self.pk} ({self.state})"

    def issued_to(self, client: Client) -> bool:
        return self.client_id == client.pk

    @property
    def state(self) -> TokenState:
        """Revoked, rotated, expired (its own expiry or its family's end) or active (token_state)."""
        return RefreshTokenQuerySet.state_of(self, now())

    def family_expires_at(self, client: Client | None = None) -> datetime:
        """The end of the family: its start plus the (client's) family lifetime."""
        client = client or self.client
        return self.family_started_at + timedelta(seconds=client.family_lifetime())


class AccessToken(models.Model):
    jti = models.CharField(max_length=64, editable=False)  # unique: Meta.constraints
    family = models.UUIDField(null=True, blank=True, db_index=True, editable=False)
    refresh_token = models.ForeignKey(
        RefreshToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="access_tokens"
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="access_tokens",
                               db_index=False)  # (client, user) below serves it
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    scope = models.TextField(blank=True)
    #: The address the token request came from: with client, user, family and
    #: time, the row is the issuance's audit record.
    ip_address = models.GenericIPAddressField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["client", "user"]),
            # The admin page "Token activity" counts tokens issued per client in a window from this index alone.
            models.Index(fields=["created_at", "client"], name="oauth_at_activity_idx"),
        ]
        # Resource servers load the revoked, unexpired ids after each revocation,
        # through "oauth_at_revoked_idx" on revoked_at: partial (WHERE revoked_at IS
        # NOT NULL, nothing to maintain per issued token) where the database has
        # partial indexes, a plain index on MariaDB / MySQL. Migrations 0002 and 0004
        # manage it outside the model state, because a condition here would warn
        # (models.W037) on MariaDB; tests/provider/test_indexes.py checks it exists.
        constraints = [models.UniqueConstraint(fields=["jti"], name="oauth_at_jti_unique")]

    def __str__(self) -> str:
        return f"access token {self.jti[:8]}… ({self.state})"

    @property
    def state(self) -> TokenState:
        """Revoked, expired or active (token_state)."""
        return AccessTokenQuerySet.state_of(self, now())


class SigningKey(models.Model):
    kid = models.CharField(max_length=64, unique=True, editable=False)
    algorithm = models.CharField(max_length=10, editable=False)
    private_key = models.TextField(editable=False, help_text=_("PEM, encrypted with ENCRYPTION_KEYS."))
    public_jwk = models.JSONField(editable=False)
    created_at = models.DateTimeField(default=now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.algorithm} key {self.kid}"

    @property
    def is_current(self) -> bool:
        return self.retired_at is None


class TokenEvent(models.Model):
    """The security log. Routine issuance and rotation write no event: each
    access token's row is that record. A kind leaves ``KINDS`` once nothing
    writes it; old rows of such a kind show its raw value in the admin."""

    REUSE_DETECTED = "reuse_detected"
    GRACE_REPLAYED = "grace_replayed"
    CODE_REPLAYED = "code_replayed"
    REVOKED = "revoked"
    AUTH_FAILED = "client_auth_failed"
    #: An alert: a confidential client's id reached CLIENT_AUTH_FAILURE_LIMIT failures
    #: inside the window, from any addresses (at most one per window per client).
    AUTH_FAILURES = "client_auth_failures"
    #: A refresh answered invalid_grant (unknown, expired, revoked, reused, another
    #: client's token); the reason in ``detail``, never the token.
    REFRESH_FAILED = "refresh_failed"
    #: Anomaly detection; ``detail`` is "<kind>: <what, with the numbers>", the kind
    #: one of frequent_refresh, failed_refresh, new_location, impossible_travel.
    ANOMALY = "anomaly"
    #: Dynamic registration (RFC 7591 / 7592), with the caller's address; never a secret.
    CLIENT_REGISTERED = "client_registered"
    CLIENT_UPDATED = "client_updated"
    CLIENT_DELETED = "client_deleted"
    #: The JWT bearer grant (RFC 7523) issued a token: ``detail`` names the assertion's
    #: issuer and subject (never the assertion).
    ASSERTION_GRANT = "assertion_grant"
    #: Token exchange (RFC 8693): ``detail`` names the subject, the actor (or
    #: impersonation), the scope and audience; never a token.
    TOKEN_EXCHANGED = "token_exchanged"
    KINDS = [
        (REUSE_DETECTED, _("Refresh token reuse detected: family revoked")),
        (GRACE_REPLAYED, _("Rotated refresh token replayed in the grace window: same pair returned")),
        (CODE_REPLAYED, _("Authorization code replayed: tokens revoked")),
        (REVOKED, _("Tokens revoked")),
        (AUTH_FAILED, _("Client authentication failed")),
        (AUTH_FAILURES, _("Repeated client authentication failures (alert)")),
        (REFRESH_FAILED, _("Refresh refused (invalid_grant)")),
        (ANOMALY, _("Anomaly detected")),
        (CLIENT_REGISTERED, _("Client registered itself (RFC 7591)")),
        (CLIENT_UPDATED, _("Registered client updated its metadata (RFC 7592)")),
        (CLIENT_DELETED, _("Registered client deleted itself (RFC 7592)")),
        (ASSERTION_GRANT, _("Token issued for an assertion (JWT bearer grant, RFC 7523)")),
        (TOKEN_EXCHANGED, _("Token exchanged (RFC 8693)")),
    ]

    kind = models.CharField(max_length=32, choices=KINDS, db_index=True)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    client_identifier = models.CharField(max_length=255, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    family = models.UUIDField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The admin page "Token activity" counts events of a few kinds per client in a window.
        indexes = [models.Index(fields=["kind", "created_at", "client"], name="oauth_event_activity_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M:%S})"


class Activity(TokenEvent):
    """No table of its own: the name the admin page "Token activity" hangs off
    (``dashboard``), so that it lives at ``admin/oauth_tokens_provider/activity/``
    and the app index lists it. Viewing it takes the permission to view token events."""

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = _("token activity")
        verbose_name_plural = _("token activity")


class RevocationState(models.Model):
    """One row: a counter bumped by every transaction that revokes tokens.

    Resource servers poll it (at most once per REVOCATION_POLL_INTERVAL) instead
    of querying the token tables on every request; its row lock orders the
    revocation log (``RevokedToken``).
    """

    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"revocation version {self.version}"


class RevokedToken(models.Model):
    """The revocation log: the id of every revoked access token (and of every
    unexpired one whose row went with its user or client), kept until the token
    would have expired. Appended by ``revocation_broadcast.changed`` after it
    bumped the ``RevocationState`` version in the same transaction, so the primary
    key grows in commit order: processes load the rows above the last id they hold."""

    jti = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(db_index=True)

    objects = ExpiringQuerySet.as_manager()

    def __str__(self) -> str:
        return f"revoked token {self.jti[:8]}…"


class DeviceCode(models.Model):
    """A device authorization (RFC 8628): the device code and the user code are
    stored as digests only (the short user code normalized first, under the same
    HMAC key: without the key a dump cannot be searched for it)."""

    PENDING, APPROVED, DENIED, USED = "pending", "approved", "denied", "used"
    STATUSES = [(PENDING, _("Pending")), (APPROVED, _("Approved")), (DENIED, _("Denied")), (USED, _("Used"))]

    digest = models.CharField(max_length=64, unique=True, editable=False)
    user_code_digest = models.CharField(max_length=64, unique=True, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="device_codes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    scope = models.TextField(blank=True)
    #: The resources (RFC 8707) the grant is for, one per line; empty: the default audience.
    resources = models.TextField(blank=True, default="", editable=False)
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING)
    #: Seconds the device must wait between polls; raised by 5 at each slow_down.
    interval = models.PositiveIntegerField()
    family = models.UUIDField(default=crypto.time_ordered_uuid, editable=False)
    auth_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField(db_index=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    objects = ExpiringQuerySet.as_manager()

    #: ID tokens of the device grant carry no nonce (there is no authorization request).
    nonce = ""

    def __str__(self) -> str:
        return f"device code for {self.client_id} ({self.status})"

    def issued_to(self, client: Client) -> bool:
        return self.client_id == client.pk


class PushedAuthorizationRequest(models.Model):
    """An authorization request a client pushed (RFC 9126): its parameters, found
    by the digest of the ``request_uri`` handed out for it (a reference the browser
    carries, so stored like a code). ``arrived_at``: when it first reached the
    authorization endpoint (the decision's deadline counts from there); ``used_at``:
    when a decision spent it."""

    digest = models.CharField(max_length=64, unique=True, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="pushed_requests")
    #: The request's parameters as pushed, name -> list of values (credentials removed).
    params = models.JSONField(editable=False)
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField(db_index=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    objects = ExpiringQuerySet.as_manager()

    def __str__(self) -> str:
        return f"pushed authorization request for {self.client_id} ({self.created_at:%Y-%m-%d %H:%M})"


class InitialAccessToken(models.Model):
    """A bearer token an operator hands to a developer so that a client may register
    itself (RFC 7591 section 3, ``REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED``). Made
    by ``createregistrationtoken``, which prints it once; only its digest is stored.
    Deleting the row revokes it."""

    digest = models.CharField(max_length=64, unique=True, editable=False)
    name = models.CharField(max_length=200, help_text=_("Who it was given to, what for."))
    created_at = models.DateTimeField(default=now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty: never."))
    #: How many registrations it allows; None: any number.
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text=_("Empty: any number."))
    uses = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def issue(cls, name: str, *, expires_at: datetime | None = None,
              max_uses: int | None = None) -> tuple[InitialAccessToken, str]:
        """A new token: its row and its plaintext (show it once)."""
        value = crypto.new_token(32)
        row = cls.objects.create(digest=crypto.digest(value), name=name, expires_at=expires_at, max_uses=max_uses)
        return row, value


class ClientAssertionUse(models.Model):
    """An accepted client assertion (RFC 7523 section 3, item 7: its ``jti`` is used
    once), kept until it expires. The database, not a cache, is the record: it is
    shared by every process and survives a cache outage or eviction, and the unique
    digest makes a second use fail atomically, even a concurrent one."""

    digest = models.CharField(max_length=64, unique=True, editable=False)  # sha256 of client_id NUL jti
    expires_at = models.DateTimeField(db_index=True)

    objects = ExpiringQuerySet.as_manager()

    def __str__(self) -> str:
        return f"client assertion used until {self.expires_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def first_use(cls, client_id: str, jti: str, expires_at: datetime, *, namespace: str = "") -> bool:
        """Record the assertion; False when it was recorded before and has not expired.
        ``namespace`` keeps other assertions apart from client assertions: the JWT
        bearer grant records its assertions' ``jti`` per issuer (``client_id`` is the
        issuer there) in namespace "jwt-bearer"."""
        key = f"{namespace}\x01{client_id}\x00{jti}" if namespace else f"{client_id}\x00{jti}"
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        using = router.db_for_write(cls)
        for _attempt in range(2):
            try:
                with transaction.atomic(using=using):
                    cls.objects.using(using).create(digest=digest, expires_at=expires_at)
                return True
            except IntegrityError:
                # Seen before: refused, unless that record has expired (cleartokens not
                # run yet) and goes now.
                deleted, _ = cls.objects.using(using).filter(digest=digest, expires_at__lte=now()).delete()
                if not deleted:
                    return False
        return False
