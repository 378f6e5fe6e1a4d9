"""Discovery routes, mounted at the site root:
``path("", include("oauth_tokens.provider.well_known_urls"))``."""

from django.urls import path

from oauth_tokens.provider.discovery import (
    AuthorizationServerMetadataView,
    JwksView,
    OpenIDConfigurationView,
)

app_name = "oauth_tokens_well_known"

urlpatterns = [
    path(".well-known/oauth-authorization-server", AuthorizationServerMetadataView.as_view(), name="metadata"),
    path(".well-known/openid-configuration", OpenIDConfigurationView.as_view(), name="openid-configuration"),
    path(".well-known/jwks.json", JwksView.as_view(), name="jwks"),
    # An ISSUER with a path, e.g. https://example.com/tenant (RFC 8414 section 3.1,
    # OpenID Connect Discovery section 4); other paths answer 404.
    path(".well-known/oauth-authorization-server/<path:issuer_path>", AuthorizationServerMetadataView.as_view(),
         name="metadata-for-path"),
    path("<path:issuer_path>/.well-known/openid-configuration", OpenIDConfigurationView.as_view(),
         name="openid-configuration-for-path"),
]
