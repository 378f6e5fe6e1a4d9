"""RFC 9728 metadata route of a resource server, mounted at the site root:
``path("", include("oauth_tokens.resource.urls"))``. Works without the provider
app (remote mode). The path-inserted form serves a resource whose identifier
has a path (``https://example.com/mcp`` -> ``/.well-known/oauth-protected-resource/mcp``)."""

from django.urls import path, re_path

from oauth_tokens.resource.metadata import ProtectedResourceMetadataView

app_name = "oauth_tokens_resource"

urlpatterns = [
    path(".well-known/oauth-protected-resource", ProtectedResourceMetadataView.as_view(), name="metadata"),
    # Any character (?s: a newline too, which <path:> would leave to the project's HTML 404 page).
    re_path(r"^\.well-known/oauth-protected-resource/(?P<resource_path>(?s:.+))\Z",
            ProtectedResourceMetadataView.as_view(), name="metadata-for-path"),
]
