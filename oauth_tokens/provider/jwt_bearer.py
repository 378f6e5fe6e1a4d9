"""The JWT bearer grant at the provider (RFC 7523 section 2.1; docs/provider/grants.md
"JWT bearer grant (RFC 7523) and identity assertions"): the trusted issuers and their keys,
our audiences, the ``jti`` record, the mapping of an assertion's subject to a
local user, and the tokens issued (the ORM side of
``oauth2.jwt_bearer.AssertionGrantStore``, which ``stores.OrmTokenStore`` takes in).

- Issuers: ``JWT_BEARER_ISSUERS`` (validated by the settings check). Keys: the
  issuer's ``jwks``, or the JWK Set at its ``jwks_uri``, fetched and cached like a
  client's ``jwks_uri`` (``client_assertions.keys_at``: ``safe_fetch``, refetched
  on an unknown ``kid`` at most once per ``JWKS_MIN_REFETCH_INTERVAL``).
- Replay: each accepted assertion's ``jti`` is recorded per issuer in the table
  that records client assertions (``ClientAssertionUse``), in a namespace of its
  own, until the assertion expires.
- Users: ``JWT_BEARER_USER_RESOLVER`` (a dotted path or a callable
  ``resolver(assertion, client) -> user | None``) or, by default, the user whose
  username is ``sub`` (or, with the issuer's ``"user_lookup": "email"``, the one
  user whose email is the ``email`` claim). Nobody is ever created here; an
  inactive user is no user.
- Tokens: an access token for the user; a refresh token too only with
  ``JWT_BEARER_REFRESH_TOKENS`` and a client that has the refresh grant (the
  ID-JAG draft advises against them: the client should come back with a fresh
  assertion, so that the enterprise IdP's decisions keep applying). Each
  issuance writes a ``TokenEvent`` of kind ``assertion_grant`` naming the
  issuer, the subject and the client.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import router, transaction
from django.utils.module_loading import import_string

from oauth_tokens import crypto, signals
from oauth_tokens.oauth2 import client_assertion, jwt_bearer
from oauth_tokens.oauth2.errors import InvalidGrant
from oauth_tokens.oauth2.jwt_bearer import Assertion, Issuer
from oauth_tokens.oauth2.store import TokenSet
from oauth_tokens.provider import client_assertions, family_usage, issuing, models, precompiled_sql, safe_fetch
from oauth_tokens.provider.endpoint_urls import url_of
from oauth_tokens.provider.models import AccessToken, Client, ClientAssertionUse, RefreshToken, TokenEvent
from oauth_tokens.settings import token_settings

REPLAY_NAMESPACE = "jwt-bearer"


def enabled() -> bool:
    """On when ``JWT_BEARER_ENABLED`` is and at least one issuer is configured."""
    return bool(token_settings.JWT_BEARER_ENABLED and token_settings.JWT_BEARER_ISSUERS)


def issuers() -> dict[str, Issuer]:
    """The configured issuers, by issuer identifier (compared as exact strings)."""
    return {iss: Issuer.from_setting(iss, config) for iss, config in token_settings.JWT_BEARER_ISSUERS.items()}


def keys_of(issuer: Issuer, kid: str | None, alg: str) -> list[Any]:
    """The keys of ``issuer`` that may verify an assertion with this ``kid`` and ``alg``."""
    if issuer.jwks is not None:
        return client_assertion.jwks_keys(issuer.jwks, kid, alg)[0]
    assert issuer.jwks_uri is not None  # one of the two, by the settings check
    try:
        return client_assertions.keys_at(issuer.jwks_uri, kid, alg)
    except safe_fetch.FetchError as exc:
        raise InvalidGrant(f"Invalid assertion: its issuer's jwks_uri could not be used: {exc}",
                           reason="assertion") from None


def default_user(assertion: Assertion, client: Client) -> Any | None:
    """The user named by ``sub`` (as username), or with ``user_lookup`` "email" the one
    user with the ``email`` claim's address (not when ``email_verified`` is false)."""
    user_model = get_user_model()
    if assertion.issuer.user_lookup == "email":
        email = assertion.claims.get("email")
        if not isinstance(email, str) or not email or assertion.claims.get("email_verified") is False:
            return None
        email_field = user_model.get_email_field_name()
        matches = list(user_model.objects.filter(**{f"{email_field}__iexact": email})[:2])
        return matches[0] if len(matches) == 1 else None
    return user_model.objects.filter(**{user_model.USERNAME_FIELD: assertion.subject}).first()


def resolve_user(assertion: Assertion, client: Client) -> Any | None:
    hook = token_settings.JWT_BEARER_USER_RESOLVER
    resolver = (import_string(hook) if isinstance(hook, str) else hook) if hook else default_user
    user = resolver(assertion=assertion, client=client)
    if user is None or not getattr(user, "is_active", True):
        return None
    return user


class OrmAssertionGrants:
    """The token endpoint's JWT bearer methods (``oauth2.jwt_bearer.AssertionGrantStore``)."""

    ip: str | None
    #: The request's DPoP key thumbprint (RFC 9449): the issued token is bound to it.
    dpop_jkt: str | None

    def jwt_bearer_enabled(self) -> bool:
        return enabled()

    def verify_assertion(self, assertion: str) -> Assertion:
        policy = jwt_bearer.Policy(
            issuer=token_settings.issuer, token_endpoint=url_of(*client_assertions.TOKEN_ENDPOINT),
            now=models.now().timestamp(), leeway=float(token_settings.JWT_LEEWAY),
            max_lifetime=float(token_settings.JWT_BEARER_MAX_LIFETIME),
        )
        return jwt_bearer.verify(assertion, issuers=issuers(), keys=keys_of, policy=policy)

    def assertion_user(self, assertion: Assertion, client: Client) -> Any | None:
        return resolve_user(assertion, client)

    def first_use_of_assertion(self, assertion: Assertion) -> bool:
        return ClientAssertionUse.first_use(assertion.issuer.issuer, assertion.jti,
                                            datetime.fromtimestamp(assertion.expires_at, tz=UTC),
                                            namespace=REPLAY_NAMESPACE)

    def issue_assertion_tokens(self, client: Client, user: Any, scope: str, resources: tuple[str, ...],
                               assertion: Assertion) -> TokenSet:
        now = models.now()
        # The grant's first refresh token row: saved only when a refresh token is
        # issued; else it only carries the user and a family for the access token.
        grant = RefreshToken(
            digest="", family=crypto.time_ordered_uuid(), client=client, user_id=user.pk, scope=scope,
            resources="\n".join(resources), created_at=now, family_started_at=now,
            # RFC 9449 section 5: a public client's refresh token is bound to its DPoP key.
            dpop_jkt=(self.dpop_jkt or "") if not client.is_confidential else "",
            expires_at=min(now + timedelta(seconds=client.refresh_lifetime()),
                           now + timedelta(seconds=client.family_lifetime())),
        )
        new_access = issuing.access_token(client, scope, grant, now=now, ip=self.ip, targets=resources,
                                          jkt=self.dpop_jkt)
        refresh_value, refresh = None, None
        if token_settings.JWT_BEARER_REFRESH_TOKENS and "refresh_token" in client.grant_type_list:
            refresh_value, refresh = crypto.new_token(32), grant
            refresh.digest = crypto.digest(refresh_value)
            family_usage.start(refresh, ip=self.ip, now=now)
        access = new_access.row
        using = router.db_for_write(AccessToken)
        with transaction.atomic(using=using):
            precompiled_sql.insert_linked(access, link="refresh_token", linked=refresh, using=using)
            TokenEvent.objects.using(using).create(
                kind=TokenEvent.ASSERTION_GRANT, client=client, client_identifier=client.client_id, user=user,
                family=grant.family, ip_address=self.ip, detail=audit_detail(assertion),
            )
            transaction.on_commit(
                lambda: signals.token_issued.send(
                    sender=Client, client=client, user=user, access_token=access, refresh_token=refresh,
                    grant_type=jwt_bearer.GRANT_TYPE, ip=self.ip,
                ),
                using=using,
            )
        return new_access.response(refresh_token=refresh_value)


def audit_detail(assertion: Assertion) -> str:
    """What the audit row says: the issuer and the subject (never the assertion)."""
    kind = "identity assertion (ID-JAG)" if assertion.id_jag else "assertion"
    detail = f"{kind} of {assertion.issuer.issuer} for subject {assertion.subject}"
    return detail if len(detail) <= 255 else detail[:254] + "\u2026"

