"""One class per grant type (RFC 6749 sections 4.1, 4.4, 6; RFC 8628; RFC 7523; RFC 8693), registered by
``grant_type``."""

from typing import Any

from oauth_tokens.oauth2.grants.authorization_code import AuthorizationCodeGrant
from oauth_tokens.oauth2.grants.base import Grant
from oauth_tokens.oauth2.grants.client_credentials import ClientCredentialsGrant
from oauth_tokens.oauth2.grants.device_code import DeviceCodeGrant
from oauth_tokens.oauth2.grants.jwt_bearer import JwtBearerGrant
from oauth_tokens.oauth2.grants.refresh_token import RefreshTokenGrant
from oauth_tokens.oauth2.grants.token_exchange import TokenExchangeGrant

GRANTS: dict[str, type[Grant[Any, Any, Any]]] = {
    grant.grant_type: grant
    for grant in (AuthorizationCodeGrant, RefreshTokenGrant, ClientCredentialsGrant, DeviceCodeGrant,
                  JwtBearerGrant, TokenExchangeGrant)
}

__all__ = [
    "GRANTS", "AuthorizationCodeGrant", "ClientCredentialsGrant", "DeviceCodeGrant", "Grant", "JwtBearerGrant",
    "RefreshTokenGrant", "TokenExchangeGrant",
]
