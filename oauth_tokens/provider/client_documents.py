"""Clients known by their metadata document (client ID metadata documents; the
rules in ``oauth2.client_id_document``), with ``CLIENT_ID_METADATA_DOCUMENTS`` on.

``resolve(client_id)`` is the authorization endpoint's client lookup. For a
``client_id`` that is a document URL it fetches the document through
``safe_fetch`` (https, public addresses only, no redirects, size and time
bounded, cached as its ``Cache-Control`` says within ``FETCH_CACHE_MIN_AGE`` /
``FETCH_CACHE_MAX_AGE``), checks it, and keeps a ``Client`` row whose
``client_id`` is the URL, updated when the document changes. Every other
endpoint (token, revocation, introspection) finds that row like any client's:
a document client has used the authorization endpoint before it has a code.

An operator blocks such a client by deactivating its row in the admin: a
deactivated row is never refetched nor reactivated. When the document cannot
be fetched, a row from an earlier fetch stands in for it (the failure is
logged); a client never seen gets an error page.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from oauth_tokens.oauth2 import client_id_document as spec
from oauth_tokens.oauth2 import scopes
from oauth_tokens.provider import safe_fetch
from oauth_tokens.provider.models import Client
from oauth_tokens.settings import token_settings

logger = logging.getLogger("oauth_tokens.provider")


def enabled() -> bool:
    return bool(token_settings.CLIENT_ID_METADATA_DOCUMENTS)


def is_document_client(client: Client) -> bool:
    return spec.is_document_url(client.client_id)


def host_allowed(host: str) -> bool:
    """``CLIENT_ID_METADATA_DOCUMENT_HOSTS``: empty allows any host."""
    allowed = token_settings.CLIENT_ID_METADATA_DOCUMENT_HOSTS or []
    host = host.lower().rstrip(".")
    return not allowed or any(
        host == entry.lower().lstrip(".") or (entry.startswith(".") and host.endswith(entry.lower()))
        for entry in allowed
    )


def allowed_scopes() -> list[str]:
    configured = token_settings.CLIENT_ID_METADATA_DOCUMENT_SCOPES
    return list(configured) if configured is not None else list(token_settings.SCOPES)


def resolve(client_id: str) -> Client | None:
    """The client ``client_id`` names: its row, or (for a document URL, when the
    feature is on) the row its metadata document makes or updates. Raises an
    ``OAuth2Error`` (shown, never redirected) when a document cannot be used."""
    row = Client.objects.filter(client_id=client_id).first()
    if not enabled() or not spec.is_document_url(client_id):
        return row
    if row is not None and not row.is_active:
        return row  # blocked by an operator: the endpoint refuses it as any inactive client
    host = urlsplit(client_id).hostname or ""
    if not host_allowed(host):
        raise spec.InvalidDocument(f"This server does not accept client metadata documents from {host}")
    try:
        document = safe_fetch.fetch_json(client_id)
    except safe_fetch.FetchError as exc:
        if row is not None:
            logger.warning("Client metadata document %s could not be fetched (%s); using the last one seen",
                           client_id, exc)
            return row
        raise spec.InvalidDocument(f"The client's metadata document could not be fetched: {exc}") from None
    if len(json.dumps(document)) > spec.MAX_DOCUMENT_BYTES:
        raise spec.InvalidDocument(f"The client's metadata document is larger than {spec.MAX_DOCUMENT_BYTES} bytes")
    return _save(row, spec.parse_document(client_id, document))


def _fields(described: spec.DocumentClient) -> dict[str, object]:
    wanted = scopes.parse(described.scope) if described.scope else allowed_scopes()
    granted = [s for s in wanted if s in allowed_scopes()]
    fields: dict[str, object] = {
        "name": described.name[: Client._meta.get_field("name").max_length or 200],
        "client_type": Client.PUBLIC if described.auth_method == "none" else Client.CONFIDENTIAL,
        "grant_types": " ".join(described.grant_types),
        "redirect_uris": "\n".join(described.redirect_uris),
        "scope": scopes.join(granted),
        "token_endpoint_auth_method": described.auth_method,
        "jwks": dict(described.jwks) if described.jwks is not None else None,
        "jwks_uri": described.jwks_uri or "",
    }
    return fields


def _save(row: Client | None, described: spec.DocumentClient) -> Client:
    fields = _fields(described)
    if row is not None:
        changed = [name for name, value in fields.items() if getattr(row, name) != value]
        if changed:
            for name in changed:
                setattr(row, name, fields[name])
            row.save(update_fields=[*changed, "updated_at"])
        return row
    try:
        with transaction.atomic():
            return Client.objects.create(client_id=described.client_id, **fields)
    except IntegrityError:  # another request made it first
        return Client.objects.get(client_id=described.client_id)
