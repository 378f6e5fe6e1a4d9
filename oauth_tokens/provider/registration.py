"""Dynamically registered clients in the database (RFC 7591 section 3, RFC 7592
section 2): the policy the settings describe, initial access tokens, and
registering, reading, updating and deleting a client with its audit events.

Every secret here (client secret, registration access token, initial access
token) is returned once and stored as a digest. The registration access token
is rotated at each update (RFC 7592 section 2.2); the client secret is never
rotated by the client: an update that makes a public client confidential gets
its first one, a confidential client keeps its own (the admin's "Regenerate
secret" makes a new one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import F, Q

from oauth_tokens import crypto
from oauth_tokens.oauth2 import client_assertion, registration, scopes
from oauth_tokens.oauth2.errors import InvalidToken
from oauth_tokens.oauth2.registration import ClientMetadata, RegistrationPolicy
from oauth_tokens.provider import models, revocation
from oauth_tokens.provider.models import Client, InitialAccessToken, TokenEvent
from oauth_tokens.settings import token_settings

#: The one answer to a missing, wrong or stale token, and to a client id we do not
#: know: the two must look the same (RFC 7592 section 2).
UNAUTHORIZED = "The registration access token is invalid, or the client does not exist"
#: Fields of a registration response the client may not send back in an update (RFC 7592 section 2.2).
SERVER_FIELDS = ("registration_access_token", "registration_client_uri", "client_secret_expires_at",
                 "client_id_issued_at")
#: Changes that need a new approval when approval is required: they change what the client may do.
_APPROVED_FIELDS = ("redirect_uris", "grant_types", "scope", "client_type")


def enabled() -> bool:
    return bool(token_settings.REGISTRATION_ENABLED)


def policy() -> RegistrationPolicy:
    """What the settings let a client register."""
    grants = [g for g in token_settings.REGISTRATION_GRANT_TYPES
              if g != registration.DEVICE_CODE or token_settings.DEVICE_AUTHORIZATION_ENABLED]
    allowed = token_settings.REGISTRATION_SCOPES
    if allowed is None:
        allowed = [s for s in token_settings.SCOPES if s != token_settings.INTROSPECTION_SCOPE]
    return RegistrationPolicy(
        auth_methods=tuple(token_settings.REGISTRATION_AUTH_METHODS),
        grant_types=tuple(grants),
        scopes=tuple(allowed),
        custom_schemes=bool(token_settings.REGISTRATION_CUSTOM_SCHEMES),
    )


def _usable_initial_tokens():
    return InitialAccessToken.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=models.now()),
        Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses")),
    )


def initial_access_token(token: str | None) -> InitialAccessToken:
    """The usable initial access token ``token`` names, or ``InvalidToken``."""
    row = _usable_initial_tokens().filter(digest__in=crypto.digest_candidates(token)).first() if token else None
    if row is None:
        raise InvalidToken("The initial access token is missing, invalid, expired or used up")
    return row


@dataclass(frozen=True)
class Issued:
    """A client and the secrets issued to it by this request (plaintext, shown once)."""

    client: Client
    registration_access_token: str
    client_secret: str | None = None


def _apply(client: Client, meta: ClientMetadata) -> None:
    client.name = meta.client_name or "Unnamed registered client"
    client.client_type = Client.CONFIDENTIAL if meta.is_confidential else Client.PUBLIC
    client.grant_types = " ".join(meta.grant_types)
    client.redirect_uris = "\n".join(meta.redirect_uris)
    client.scope = scopes.join(meta.scope)
    # The method is enforced at every endpoint that authenticates clients (client_auth).
    client.token_endpoint_auth_method = meta.token_endpoint_auth_method
    client.jwks, client.jwks_uri = meta.jwks, meta.jwks_uri or ""
    client.dpop_bound_access_tokens = meta.dpop_bound_access_tokens
    client.metadata = {"response_types": list(meta.response_types), **meta.extra}


def _check_keys(client: Client) -> None:
    """The model's own rules for the keys (a jwks_uri over https, public keys only)."""
    try:
        client.clean()
    except ValidationError as exc:
        problems = [message for messages in exc.message_dict.values() for message in messages]
        raise registration.InvalidClientMetadata(" ".join(problems)) from None


def _secrets(client: Client, meta: ClientMetadata) -> str | None:
    """The secret a (re)registration issues: the first one of a client whose method
    needs one, or a new one for a switch to client_secret_jwt (a digest cannot key an
    HMAC); none for private_key_jwt and public clients, whose stored ones go."""
    if not meta.gets_secret:
        client.secret_digest = client.secret_encrypted = ""
        return None
    if not client.secret_digest or (client.token_endpoint_auth_method == client_assertion.CLIENT_SECRET_JWT
                                    and not client.secret_encrypted):
        return client.set_secret()
    if client.token_endpoint_auth_method != client_assertion.CLIENT_SECRET_JWT:
        client.secret_encrypted = ""
    return None


def _new_registration_token(client: Client) -> str:
    token = crypto.new_token(32)
    client.registration_token_digest = crypto.digest(token)
    return token


def _audit(kind: str, client: Client, ip: str, detail: str = "") -> None:
    TokenEvent.objects.create(kind=kind, client=client, client_identifier=client.client_id,
                              ip_address=ip or None, detail=detail[:255])


def register(meta: ClientMetadata, *, ip: str, initial: InitialAccessToken | None = None) -> Issued:
    """Create the client ``meta`` describes (inactive, pending approval, when approval is
    required); spends one use of ``initial``. ``InvalidToken`` when ``initial`` was used
    up meanwhile."""
    pending = bool(token_settings.REGISTRATION_APPROVAL_REQUIRED)
    client = Client(registered_at=models.now(), registered_from=ip or None, pending_approval=pending,
                    is_active=not pending)
    _apply(client, meta)
    _check_keys(client)
    secret = _secrets(client, meta)
    token = _new_registration_token(client)
    with transaction.atomic(using=router.db_for_write(Client)):
        if initial is not None and not _usable_initial_tokens().filter(pk=initial.pk).update(uses=F("uses") + 1):
            raise InvalidToken("The initial access token is missing, invalid, expired or used up")
        client.save()
        detail = ", ".join(filter(None, [
            client.client_type, "pending approval" if pending else "",
            f"initial access token {initial.name!r}" if initial is not None else "",
        ]))
        _audit(TokenEvent.CLIENT_REGISTERED, client, ip, detail)
    return Issued(client, token, secret)


def find(client_id: str, token: str | None) -> Client:
    """The registered client ``client_id`` whose current registration access token is
    ``token``, or ``InvalidToken`` (the same for an unknown client and a wrong token)."""
    candidates = crypto.digest_candidates(token or "")
    # Never a client id of ours (printable ASCII, 64 at most): a NUL would even be a database error.
    plausible = 0 < len(client_id) <= 64 and all(0x20 < ord(c) < 0x7F for c in client_id)
    client = Client.objects.using(router.db_for_write(Client)).filter(client_id=client_id).exclude(
        registration_token_digest="").first() if plausible else None
    if client is None or not token or not any(
            crypto.constant_time_equals(d, client.registration_token_digest) for d in candidates):
        raise InvalidToken(UNAUTHORIZED)
    return client


def _swap_registration_token(client: Client, previous: str) -> None:
    """Replace the token digest ``previous`` by the client's new one, as one conditional
    UPDATE: of two requests made with the same token at once, one wins, the other is
    ``InvalidToken`` (its token was rotated away meanwhile) and changes nothing."""
    swapped = Client.objects.filter(pk=client.pk, registration_token_digest=previous).update(
        registration_token_digest=client.registration_token_digest)
    if not swapped:
        raise InvalidToken(UNAUTHORIZED)


def update(client: Client, meta: ClientMetadata, *, ip: str) -> Issued:
    """Replace ``client``'s metadata with ``meta`` (RFC 7592 section 2.2) and rotate its
    registration access token. With approval required, a change of what the client may
    do (redirect URIs, grants, scopes, confidentiality) needs a new approval."""
    before = {name: getattr(client, name) for name in _APPROVED_FIELDS}
    previous = client.registration_token_digest
    _apply(client, meta)
    _check_keys(client)
    secret = _secrets(client, meta)  # e.g. a public client turned confidential: its first secret
    token = _new_registration_token(client)
    changed = [name for name in _APPROVED_FIELDS if getattr(client, name) != before[name]]
    if changed and token_settings.REGISTRATION_APPROVAL_REQUIRED and not client.pending_approval:
        client.pending_approval, client.is_active = True, False  # deactivating revokes its tokens (receivers)
    with transaction.atomic(using=router.db_for_write(Client)):
        _swap_registration_token(client, previous)
        client.save()
        detail = "changed: " + " ".join(changed) if changed else "metadata"
        _audit(TokenEvent.CLIENT_UPDATED, client, ip, detail + (", pending approval" if client.pending_approval
                                                                   else ""))
    return Issued(client, token, secret)


def delete(client: Client, *, ip: str) -> None:
    """RFC 7592 section 2.3: the client stops working for good. Its row stays (inactive,
    without a secret or registration access token) for the audit trail; its tokens are
    revoked."""
    with transaction.atomic(using=router.db_for_write(Client)):
        previous, client.registration_token_digest = client.registration_token_digest, ""
        _swap_registration_token(client, previous)
        client.is_active = False
        client.pending_approval = False
        client.secret_digest = ""
        client.save()
        revocation.revoke_client(client)
        _audit(TokenEvent.CLIENT_DELETED, client, ip)


def approve(client: Client) -> bool:
    """An admin approves a client pending approval; False when it was not pending."""
    if not client.pending_approval:
        return False
    client.pending_approval, client.is_active = False, True
    client.save(update_fields=["pending_approval", "is_active", "updated_at"])
    return True


def status(client: Client) -> str:
    if client.pending_approval:
        return "pending_approval"
    return "active" if client.is_active else "inactive"


def describe(client: Client, *, registration_access_token: str, client_uri: str,
             client_secret: str | None = None) -> dict[str, Any]:
    """The client information response (RFC 7591 section 3.2.1, RFC 7592 section 3):
    the client's metadata as stored, and the secrets issued by this request."""
    metadata = dict(client.metadata or {})
    # The method is the client's field; a registration older than that field kept it in its metadata.
    method = metadata.pop("token_endpoint_auth_method", None)
    method = client.token_endpoint_auth_method or method or (
        "client_secret_basic" if client.is_confidential else "none")
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": int((client.registered_at or client.created_at).timestamp()),
        "client_name": client.name,
        "redirect_uris": client.redirect_uri_list,
        "grant_types": client.grant_type_list,
        "response_types": metadata.pop("response_types", []),
        "token_endpoint_auth_method": method,
        "scope": scopes.join(client.scope_list),
        **metadata,
        "registration_access_token": registration_access_token,
        "registration_client_uri": client_uri,
        # Not RFC 7591: whether the client may be used yet (an admin approves pending ones).
        "registration_status": status(client),
    }
    if client.jwks:
        body["jwks"] = client.jwks
    if client.jwks_uri:
        body["jwks_uri"] = client.jwks_uri
    if client.dpop_bound_access_tokens:  # RFC 9449 section 5.2
        body["dpop_bound_access_tokens"] = True
    if client.secret_digest:
        body["client_secret_expires_at"] = 0
        if client_secret is not None:
            body["client_secret"] = client_secret
    return body
