"""Mount with ``path("oauth/", include("oauth_tokens.provider.urls"))``."""

from django.urls import path

from oauth_tokens.provider.authorize import AuthorizeView
from oauth_tokens.provider.device_endpoint import DeviceAuthorizationView
from oauth_tokens.provider.device_page import DeviceView
from oauth_tokens.provider.endpoints import IntrospectView, RevokeView, UserInfoView
from oauth_tokens.provider.logout import LogoutView
from oauth_tokens.provider.par_endpoint import PushedAuthorizationRequestView
from oauth_tokens.provider.registration_endpoint import ClientConfigurationView, RegistrationView
from oauth_tokens.provider.views import TokenView

app_name = "oauth_tokens"

urlpatterns = [
    path("token", TokenView.as_view(), name="token"),
    path("token/<str:token_type>", TokenView.as_view(), name="token-typed"),
    path("authorize", AuthorizeView.as_view(), name="authorize"),
    path("revoke", RevokeView.as_view(), name="revoke"),
    path("introspect", IntrospectView.as_view(), name="introspect"),
    path("userinfo", UserInfoView.as_view(), name="userinfo"),
    path("device_authorization", DeviceAuthorizationView.as_view(), name="device-authorization"),
    path("device", DeviceView.as_view(), name="device"),
    path("par", PushedAuthorizationRequestView.as_view(), name="par"),
    path("logout", LogoutView.as_view(), name="logout"),
    path("register", RegistrationView.as_view(), name="register"),
    path("register/<str:client_id>", ClientConfigurationView.as_view(), name="register-client"),
]
