"""DRF ``BearerTokenAuthentication`` (RFC 6750 section 2.1, RFC 9068 section 4)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions

from oauth_tokens.oauth2.errors import InvalidRequest, InvalidToken
from oauth_tokens.resource.tokens import VerifiedToken


class ClientPrincipal(AnonymousUser):
    """``request.user`` for a client_credentials token: authenticated, no user row."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    def __str__(self) -> str:
        return f"client:{self.client_id}"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    www_authenticate_realm = "api"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer":
            return None
        token_text = token.strip().decode("latin-1")
        if not token_text or " " in token_text:
            raise exceptions.AuthenticationFailed(InvalidRequest.description, code="invalid_request")
        from oauth_tokens.provider.views import verify_access_token

        try:
            claims = verify_access_token(token_text)
        except InvalidToken as exc:
            raise exceptions.AuthenticationFailed(exc.description, code="invalid_token") from None
        verified = VerifiedToken.from_claims(claims)
        if verified.is_client_token:
            return ClientPrincipal(verified.client_id), verified
        user = get_user_model()._default_manager.filter(pk=verified.subject, is_active=True).first()
        if user is None:
            raise exceptions.AuthenticationFailed("The token's user is inactive", code="invalid_token")
        return user, verified

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'
