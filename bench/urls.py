"""Routes of the benchmark site: the four API views and both token endpoints."""

from django.urls import include, path

from bench import views

urlpatterns = [
    path("oauth/", include("oauth_tokens.provider.urls")),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("api/plain", views.PlainView.as_view()),
    path("api/ours", views.OursView.as_view()),
    path("api/dot", views.DotView.as_view()),
    path("api/simplejwt", views.SimpleJwtView.as_view()),
]
