"""The device authorization endpoint (RFC 8628 section 3.1-3.2):
``POST /oauth/device_authorization``.

The client authenticates as at the token endpoint (public clients send their
``client_id``), must have the device code grant, and may ask for scopes within
its own, and for resources (RFC 8707, ``resource``, repeatable) it may get
tokens for, else ``invalid_target``. The answer carries the device code and the
user code in clear, once; the database keeps their digests (``device_codes``).
Each address may start ``DEVICE_AUTHORIZATION_ADDRESS_LIMIT`` flows per window,
then gets a 429. Off (the default,
``DEVICE_AUTHORIZATION_ENABLED``) it is a 404.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from oauth_tokens.oauth2 import device, resources, scopes
from oauth_tokens.oauth2.errors import InvalidRequest, RateLimited, UnauthorizedClient
from oauth_tokens.provider import client_assertions, client_auth, device_codes, throttle
from oauth_tokens.provider.endpoint_urls import url_of
from oauth_tokens.provider.stores import OrmTokenStore
from oauth_tokens.provider.views import OAuthView, parse_request
from oauth_tokens.responses import json_response
from oauth_tokens.settings import token_settings


def not_found() -> InvalidRequest:
    return InvalidRequest("The device authorization grant is not enabled on this server", status_code=404)


def verification_uri() -> str:
    return url_of("oauth_tokens:device", "/oauth/device")


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters("client_secret", "client_assertion"), name="dispatch")
class DeviceAuthorizationView(OAuthView):
    http_method_names = ["post", "options"]

    @method_decorator(sensitive_variables())
    def post(self, request: HttpRequest) -> HttpResponse:
        if not device_codes.enabled():
            raise not_found()
        token_request = parse_request(request)
        client = client_auth.authenticate(token_request, OrmTokenStore(ip=token_request.client_ip),
                                          endpoint=client_assertions.DEVICE_AUTHORIZATION_ENDPOINT)
        if device.GRANT_TYPE not in client.grant_type_list:
            raise UnauthorizedClient("This client may not use the device authorization grant")
        scope = scopes.narrow(token_request.get("scope"), client.scope_list)
        targets = resources.requested(token_request.getlist("resource"), client.allows_resource)
        if not throttle.device_authorization_allowed(token_request.client_ip):
            raise RateLimited(retry_after=int(token_settings.DEVICE_AUTHORIZATION_WINDOW))
        authorization = device_codes.start(client, scopes.join(scope), verification_uri(), resources.join(targets))
        return json_response(authorization.to_dict())
