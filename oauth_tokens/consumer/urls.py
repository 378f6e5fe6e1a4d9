"""Mount with ``path("oauth/", include("oauth_tokens.consumer.urls"))``."""

from django.urls import path

from oauth_tokens.consumer import views

app_name = "oauth_tokens_consumer"

urlpatterns = [
    path("connect/<str:provider>/", views.connect, name="connect"),
    path("connect/<str:provider>/callback/", views.callback, name="callback"),
    path("connect/<str:provider>/disconnect/", views.disconnect, name="disconnect"),
]
