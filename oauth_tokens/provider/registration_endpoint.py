"""The client registration endpoint (RFC 7591 section 3): ``POST /oauth/register``,
and the client configuration endpoint (RFC 7592 section 2):
``GET / PUT / DELETE /oauth/register/<client_id>``.

Off (the default, ``REGISTRATION_ENABLED``) both answer 404. Registration is
throttled per address (``REGISTRATION_RATE_LIMIT``), may need an initial access
token, and may leave the client pending an admin's approval (``registration``).
The configuration endpoint takes the client's registration access token as a
bearer token; a wrong token and an unknown client get the same 401.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from oauth_tokens.oauth2.errors import InvalidRequest, RateLimited
from oauth_tokens.oauth2.registration import InvalidClientMetadata, parse_metadata
from oauth_tokens.provider import registration, throttle
from oauth_tokens.provider.registration import Issued
from oauth_tokens.provider.views import OAuthView, client_ip, read_body
from oauth_tokens.responses import bearer_token_of, json_response
from oauth_tokens.settings import token_settings


def not_found() -> InvalidRequest:
    return InvalidRequest("Dynamic client registration is not enabled on this server", status_code=404)


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object (RFC 7591 section 3.1), or ``invalid_request``."""
    if (request.content_type or "").lower() != "application/json":
        raise InvalidRequest("Send the client metadata as a JSON object (Content-Type: application/json)")
    body = read_body(request)
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidRequest("The body is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object of client metadata")
    return value


def configuration_uri(client_id: str) -> str:
    """The client configuration endpoint of ``client_id`` (RFC 7592 section 3), on the issuer's origin."""
    parts = urlsplit(token_settings.issuer)
    try:
        path = reverse("oauth_tokens:register-client", args=[client_id])
    except NoReverseMatch:
        path = "/oauth/register/" + client_id
    return f"{parts.scheme}://{parts.netloc}{path}"


def answer(issued: Issued, status: int = 200) -> HttpResponse:
    body = registration.describe(
        issued.client, registration_access_token=issued.registration_access_token,
        client_uri=configuration_uri(issued.client.client_id), client_secret=issued.client_secret,
    )
    return json_response(body, status=status)


def registration_access_token(request: HttpRequest) -> str | None:
    try:
        return bearer_token_of(request)
    except InvalidRequest:
        return None  # malformed: answered as a missing one, 401


@method_decorator(csrf_exempt, name="dispatch")
class RegistrationView(OAuthView):
    http_method_names = ["post", "options"]

    @method_decorator(sensitive_variables())
    def post(self, request: HttpRequest) -> HttpResponse:
        if not registration.enabled():
            raise not_found()
        ip = client_ip(request)
        if not throttle.registration_allowed(ip):
            raise RateLimited(retry_after=int(token_settings.REGISTRATION_RATE_WINDOW),
                              description="Too many registrations from this address; try again later")
        initial = None
        if token_settings.REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED:
            initial = registration.initial_access_token(registration_access_token(request))
        metadata = parse_metadata(json_body(request), registration.policy())
        return answer(registration.register(metadata, ip=ip, initial=initial), status=201)


@method_decorator(csrf_exempt, name="dispatch")
class ClientConfigurationView(OAuthView):
    http_method_names = ["get", "put", "delete", "options"]

    def client(self, request: HttpRequest, client_id: str):
        if not registration.enabled():
            raise not_found()
        return registration.find(client_id, registration_access_token(request))

    @method_decorator(sensitive_variables())
    def get(self, request: HttpRequest, client_id: str) -> HttpResponse:
        client = self.client(request, client_id)
        # The token the client presented stays its current one: it is echoed, never read back.
        token = registration_access_token(request) or ""
        return answer(Issued(client, token))

    @method_decorator(sensitive_variables())
    def put(self, request: HttpRequest, client_id: str) -> HttpResponse:
        client = self.client(request, client_id)
        body = json_body(request)
        if body.get("client_id") != client.client_id:
            raise InvalidRequest("The client_id in the body must be the client's own")
        secret = body.get("client_secret")
        if secret is not None and not (isinstance(secret, str) and client.check_secret(secret)):
            raise InvalidRequest("The client_secret in the body does not match the client's")
        sent = [name for name in registration.SERVER_FIELDS if name in body]
        if sent:
            raise InvalidClientMetadata(f"These fields are the server's and may not be sent: {' '.join(sent)}")
        metadata = parse_metadata(body, registration.policy())
        return answer(registration.update(client, metadata, ip=client_ip(request)))

    def delete(self, request: HttpRequest, client_id: str) -> HttpResponse:
        client = self.client(request, client_id)
        registration.delete(client, ip=client_ip(request))
        return HttpResponse(status=204)
