from django.contrib import admin
from django.urls import include, path

from example_project.demo import consumer, openapi, views
from example_project.demo.mcp_server import McpView
from oauth_tokens.provider.metrics_endpoint import metrics_view

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("oauth/", include("oauth_tokens.provider.urls")),
    path("", include("oauth_tokens.provider.well_known_urls")),
    # RFC 9728 metadata of the demo API; a 404 unless OAUTH_TOKENS["RESOURCE"] is set.
    path("", include("oauth_tokens.resource.urls")),
    path("oauth/", include("oauth_tokens.consumer.urls")),
    path("api/me", views.MeView.as_view(), name="api-me"),
    # A small MCP server (Streamable HTTP, JSON answers) behind the same tokens: docs/mcp.md.
    path("mcp", McpView.as_view(), name="mcp"),
    path("openapi.json", openapi.openapi_json, name="openapi"),
    # Prometheus scrapes here; a 404 unless OAUTH_TOKENS["METRICS_ENABLED"].
    path("metrics", metrics_view, name="metrics"),
    path("demo/callback", views.callback, name="demo-callback"),
    path("demo/consumer/", consumer.page, name="demo-consumer"),
    path("demo/consumer/call/", consumer.call_api, name="demo-consumer-call"),
    path("demo/consumer/refresh/", consumer.refresh, name="demo-consumer-refresh"),
]
