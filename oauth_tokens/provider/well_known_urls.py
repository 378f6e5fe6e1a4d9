"""Discovery routes, mounted at the site root:
``path("", include("oauth_tokens.provider.well_known_urls"))``."""

from django.urls import path, re_path

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
    # OpenID Connect Discovery section 4); other paths answer an OAuth JSON 404.
    # Any character (?s: a newline too, which <path:> would leave to the project's
    # HTML 404 page).
    re_path(r"^\.well-known/oauth-authorization-server/(?P<issuer_path>(?s:.+))\Z",
            AuthorizationServerMetadataView.as_view(), name="metadata-for-path"),
    re_path(r"^(?P<issuer_path>(?s:.+))/\.well-known/openid-configuration\Z", OpenIDConfigurationView.as_view(),
            name="openid-configuration-for-path"),
]
