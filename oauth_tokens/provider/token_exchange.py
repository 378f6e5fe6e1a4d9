"""Token exchange (RFC 8693) at the token endpoint: the ORM side of
``oauth2.token_exchange.TokenExchangeStore``, mixed into ``OrmTokenStore``.

- Presented tokens: an access token of ours is verified by the provider's
  local verifier (signature, expiry, revocation list) and then by its row (a
  revocation made an instant ago in another process counts too, and the row
  names the user); a JWT whose ``iss`` is another server must come from a
  trusted issuer (``exchange_issuers``).
- Issuing: an RFC 9068 access token for the subject's user, issued to the
  requesting client (``client_id``), with ``act`` for a delegation; it lives
  the client's access-token lifetime but never past the subject token's
  ``exp``; no refresh token (the client exchanges again). Its row is in no
  family, so revoking it is revoking that token alone.
- Audit: every exchange is a ``TokenEvent`` of kind ``token_exchanged`` naming
  the client, the subject's user, the subject and actor (their ``sub`` and
  issuer; never a token), and sends ``token_issued`` with this grant type.
- System check ``oauth_tokens.E060``: ``TOKEN_EXCHANGE_USER_HOOK`` cannot be imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import router, transaction
from django.utils.module_loading import import_string

from oauth_tokens import crypto, signals
from oauth_tokens.oauth2 import dpop, oidc, resources
from oauth_tokens.oauth2 import jwt as oauth_jwt
from oauth_tokens.oauth2 import token_exchange as tx
from oauth_tokens.oauth2.errors import InvalidToken
from oauth_tokens.oauth2.store import TokenSet
from oauth_tokens.oauth2.verifier import audiences_of
from oauth_tokens.provider import exchange_issuers, keys, local_verifier, models
from oauth_tokens.provider.models import AccessToken, Client, TokenEvent
from oauth_tokens.settings import token_settings


class OrmTokenExchange:
    """The token exchange part of the ORM store (``ip``: the requester's address)."""

    ip: str | None
    #: The request's DPoP key thumbprint (RFC 9449): the issued token is bound to it.
    dpop_jkt: str | None

    def token_exchange_enabled(self) -> bool:
        return bool(token_settings.TOKEN_EXCHANGE_ENABLED)

    def local_issuer(self) -> str:
        return token_settings.issuer

    def default_audience(self) -> str:
        return token_settings.audience

    def may_impersonate(self, client: Client) -> bool:
        return client.token_exchange_impersonation

    def own_resources(self, client: Client) -> Sequence[str]:
        return client.resource_list

    # -- presented tokens -------------------------------------------------------
    def verify_presented_token(self, token: str, token_type: str, *, role: str) -> tx.PresentedToken:
        if token_type not in tx.PRESENTABLE:
            raise tx.invalid_token(role, f"{role}_type {token_type} is not accepted here; use one of "
                                         f"{', '.join(tx.PRESENTABLE)}")
        issuer = exchange_issuers.unverified_issuer(token)
        if issuer is None:
            raise tx.invalid_token(role, "it is not a JWT naming its issuer")
        if issuer == token_settings.issuer:
            if token_type == tx.ID_TOKEN:
                raise tx.invalid_token(role, "this server's ID tokens are not exchanged; present an access token")
            return self._local(token, role=role)
        config = exchange_issuers.trusted(issuer)
        if config is None:
            raise tx.invalid_token(role, "its issuer is not a trusted issuer of this server")
        claims = exchange_issuers.verify(token, issuer, config, role=role, now=models.now().timestamp())
        user = exchange_issuers.user_for(claims, issuer, config) if role == "subject_token" else None
        return tx.PresentedToken(
            subject=claims["sub"], issuer=issuer, claims=claims, local=False,
            scope=exchange_issuers.scope_of(claims, config), expires_at=float(claims["exp"]), user=user,
        )

    def _local(self, token: str, *, role: str) -> tx.PresentedToken:
        try:
            claims = local_verifier.verifier().verify(token)
        except InvalidToken as exc:
            raise tx.invalid_token(role, exc.description) from None
        row = AccessToken.objects.select_related("user").filter(jti=claims["jti"]).first()
        if row is None or row.state != "active":
            raise tx.invalid_token(role, "it has been revoked or has expired")
        user = row.user if row.user is not None and getattr(row.user, "is_active", True) else None
        if row.user_id is not None and user is None:
            raise tx.invalid_token(role, "its user is no longer active")
        return tx.PresentedToken(
            subject=str(claims["sub"]), issuer=token_settings.issuer, claims=claims, local=True,
            scope=tuple(str(claims.get("scope", "")).split()),
            audiences=tuple(a for a in audiences_of(claims) if isinstance(a, str)),
            expires_at=float(claims["exp"]), user=user,
        )

    # -- issuing ----------------------------------------------------------------
    def issue_exchanged_token(self, client: Client, subject: tx.PresentedToken, actor: tx.PresentedToken | None,
                              *, scope: str, targets: tuple[str, ...], act: Mapping[str, Any] | None) -> TokenSet:
        now = models.now()
        remaining = int(subject.expires_at - now.timestamp())
        lifetime = max(1, min(client.access_lifetime(), remaining))
        jti = crypto.time_ordered_uuid().hex
        user = subject.user
        claims = oauth_jwt.access_token_claims(
            issuer=token_settings.issuer,
            audience=resources.audience(targets, token_settings.audience),
            subject=oidc.subject(client.client_id, user.pk),
            client_id=client.client_id,
            scope=scope,
            jti=jti,
            issued_at=int(now.timestamp()),
            lifetime=lifetime,
            extra={**({"act": dict(act)} if act is not None else {}),
                   # RFC 9449: a proof at the token endpoint binds this token too (issuing does it
                   # for the other grants).
                   **({"cnf": {"jkt": self.dpop_jkt}} if self.dpop_jkt else {})} or None,
        )
        value = keys.sign(claims)
        row = AccessToken(jti=jti, client=client, user=user, scope=scope, ip_address=self.ip, created_at=now,
                          expires_at=now + timedelta(seconds=lifetime))
        using = router.db_for_write(AccessToken)
        with transaction.atomic(using=using):
            row.save(using=using)
            TokenEvent.objects.using(using).create(
                kind=TokenEvent.TOKEN_EXCHANGED, client=client, client_identifier=client.client_id, user=user,
                ip_address=self.ip, detail=audit_detail(subject, actor, scope=scope, targets=targets)[:255],
            )
            transaction.on_commit(
                lambda: signals.token_issued.send(
                    sender=Client, client=client, user=user, access_token=row, refresh_token=None,
                    grant_type=tx.GRANT_TYPE, ip=self.ip,
                ),
                using=using,
            )
        return TokenSet(access_token=value, expires_in=lifetime, scope=scope,
                        token_type=dpop.TOKEN_TYPE if self.dpop_jkt else "Bearer")


def _party(token: tx.PresentedToken) -> str:
    where = "here" if token.local else token.issuer
    return f"{token.subject} ({where})"


def audit_detail(subject: tx.PresentedToken, actor: tx.PresentedToken | None, *, scope: str,
                 targets: tuple[str, ...]) -> str:
    """What the audit row says: who for, who acting, what for. Never a token."""
    mode = f"delegation: actor {_party(actor)}" if actor is not None else "impersonation"
    aud = " ".join(targets) or "default audience"
    return f"subject {_party(subject)}; {mode}; scope {scope or '-'}; aud {aud}"


@checks.register(checks.Tags.security)
def check_user_hook(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``oauth_tokens.E060``: the user hook's dotted path does not import (else every
    exchange of an external token would end in a 500)."""
    try:
        hook = token_settings.TOKEN_EXCHANGE_USER_HOOK
    except ImproperlyConfigured:  # a malformed OAUTH_TOKENS is E000 / E005's to report
        return []
    if not hook or not isinstance(hook, str):
        return []
    try:
        import_string(hook)
    except ImportError as exc:
        return [checks.Error(f"OAUTH_TOKENS['TOKEN_EXCHANGE_USER_HOOK'] ({hook}) cannot be imported: {exc}",
                             hint="A dotted path to callable(claims, issuer) -> user or None.",
                             id="oauth_tokens.E060")]
    return []
