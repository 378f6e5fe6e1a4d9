"""drf-spectacular extension: protected APIs document the OAuth 2 scheme and their scopes.

Imported by ``authentication`` only when drf-spectacular is installed (an
optional dependency). The scheme is ``oauth2`` with the authorization-code and
client-credentials flows of our provider (``ISSUER`` + ``/oauth/authorize``,
``/oauth/token``, or spectacular's ``OAUTH2_AUTHORIZATION_URL`` /
``OAUTH2_TOKEN_URL``) and the ``SCOPES`` setting; each operation lists the
scopes its scope permission requires (``HasAnyScope``: one alternative per scope).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from oauth_tokens.resource.permissions import HasAnyScope, HasScope, ReadWriteScope, scopes_of
from oauth_tokens.settings import token_settings

SAFE = ("GET", "HEAD", "OPTIONS")


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "oauth_tokens.resource.authentication.BearerTokenAuthentication"
    name = "oauth2"
    match_subclasses = True

    def get_security_requirement(self, auto_schema):
        view = auto_schema.view
        for permission in view.get_permissions():
            if isinstance(permission, HasScope):
                return {self.name: list(scopes_of(view))}
            if isinstance(permission, HasAnyScope):
                return [{self.name: [scope]} for scope in scopes_of(view)]
            if isinstance(permission, ReadWriteScope):
                if auto_schema.method.upper() in SAFE:
                    return {self.name: list(scopes_of(view, "read_scopes", permission.read_scopes))}
                return {self.name: list(scopes_of(view, "write_scopes", permission.write_scopes))}
        return {self.name: []}

    def get_security_definition(self, auto_schema):
        from drf_spectacular.settings import spectacular_settings

        issuer = token_settings.issuer
        authorize_url = spectacular_settings.OAUTH2_AUTHORIZATION_URL or f"{issuer}/oauth/authorize"
        token_url = spectacular_settings.OAUTH2_TOKEN_URL or f"{issuer}/oauth/token"
        scopes = dict(token_settings.SCOPES)
        return {
            "type": "oauth2",
            "description": "Bearer JWT access tokens (RFC 6750, RFC 9068).",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": authorize_url, "tokenUrl": token_url,
                    "refreshUrl": token_url, "scopes": scopes,
                },
                "clientCredentials": {"tokenUrl": token_url, "scopes": scopes},
            },
        }
